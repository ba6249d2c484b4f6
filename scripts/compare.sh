#!/usr/bin/env bash
# The comparison with the alternatives (docs/performance.md, "Against the alternatives"): the
# demo's chat on the channel layer (two servers, RabbitMQ), on SignalR (two servers, Redis
# backplane) and on Akka.Cluster DistributedPubSub (two nodes), driven by the demo's load client.
#
#   scripts/compare.sh [--quick] [--no-build] [--configuration C] [--redis-port P] [--broker 3|4] [PROGRAM OPTIONS…]
#
# It installs (apt) and starts RabbitMQ (scripts/broker.sh) and a project-local redis-server on
# its own port (default 5750), builds the servers and the comparison program, and runs it: the
# program starts the servers on ports 5751-5760 (--port-base), runs the rate sweep and the
# fault round, prints a table, writes artifacts/compare/compare.json and the charts
# docs/images/compare-*.png (artifacts/compare/ with --quick). `--quick` is a smoke run (under a
# minute once built). `--help` lists the program's options too (clients, rooms, rates, durations...).
# Redis is stopped at the end; a broker this script started is stopped too (COMPARE_KEEP_BROKER=1
# keeps it); one that was already running is left alone. Logs: artifacts/compare/logs/.
# `--broker 4` uses the RabbitMQ 4.0.5 node (scripts/broker.sh --broker 4) instead of 3.10.
# `--broker-cost` measures RabbitMQ's CPU per group message instead (no servers, no Redis).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { echo "compare: $*" >&2; }
die() { log "$*"; exit 1; }

CONFIG=Release BUILD=1 REDIS_PORT=${COMPARE_REDIS_PORT:-5750} ARGS=() BROKER=() BROKER_COST=0
while (($#)); do
    case $1 in
        --no-build) BUILD=0; shift ;;
        --configuration) CONFIG=${2:?--configuration needs Release or Debug}; shift 2 ;;
        --redis-port) REDIS_PORT=${2:?--redis-port needs a port}; shift 2 ;;
        --broker) BROKER=(--broker "${2:?--broker needs 3 or 4}"); shift 2 ;;
        --broker-cost) BROKER_COST=1; ARGS+=("$1"); shift ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
            DLL=src/ChannelsRabbitMq.Akka.Samples.Compare/bin/$CONFIG/net10.0/ChannelsRabbitMq.Akka.Samples.Compare.dll
            if [[ -f $DLL ]]; then dotnet "$DLL" --help; else echo "(build it for the program's options: dotnet build src/ChannelsRabbitMq.Akka.Samples.Compare -c $CONFIG)"; fi
            exit 0 ;;
        *) ARGS+=("$1"); shift ;;
    esac
done
[[ $REDIS_PORT =~ ^[0-9]+$ ]] || die "--redis-port needs a number"
command -v dotnet >/dev/null || die "the .NET 10 SDK is needed (dotnet is not on PATH)"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

LOGS=$ROOT/artifacts/compare/logs
REDIS_DIR=$ROOT/artifacts/compare/redis
REDIS_PID=
BROKER_STARTED=0
cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    if [[ -n $REDIS_PID ]] && kill -0 "$REDIS_PID" 2>/dev/null; then
        log "stopping redis-server (pid $REDIS_PID)"
        kill -CONT "$REDIS_PID" 2>/dev/null || true   # in case a fault round was interrupted
        kill -TERM "$REDIS_PID" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$REDIS_PID" 2>/dev/null || true
    fi
    if ((BROKER_STARTED)) && [[ ${COMPARE_KEEP_BROKER:-0} != 1 ]]; then
        log "stopping the broker it started (COMPARE_KEEP_BROKER=1 keeps it)"
        scripts/broker.sh "${BROKER[@]}" stop || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# RabbitMQ, as the demo does.
scripts/broker.sh "${BROKER[@]}" status >/dev/null 2>&1 || BROKER_STARTED=1
scripts/broker.sh "${BROKER[@]}" start
eval "$(scripts/broker.sh "${BROKER[@]}" env)"
AMQP_PORT=$(sed -E 's|.*:([0-9]+)/.*|\1|' <<<"$CHANNELS_RABBITMQ_TEST_URL")
RABBIT_PID=$(ss -Htlnp "sport = :$AMQP_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)
[[ -n $RABBIT_PID ]] || die "no process listens on the broker's port $AMQP_PORT"
kill -CONT "$RABBIT_PID" 2>/dev/null || true   # in case an interrupted fault round left it frozen

# Redis: Debian's redis-server, a process of our own on its own port, no persistence.
if ((BROKER_COST == 0)); then
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    log "installing redis-server (apt-get)"
    apt-get update -qq >/dev/null
    apt-get install -y -qq redis-server redis-tools >/dev/null
fi
! port_open "$REDIS_PORT" || die "port $REDIS_PORT is in use; choose another with --redis-port"
mkdir -p "$REDIS_DIR" "$LOGS"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$REDIS_DIR" \
    --logfile "$LOGS/redis-$REDIS_PORT.log" </dev/null >/dev/null 2>&1 &
REDIS_PID=$!
for ((i = 0; i < 100; i++)); do
    [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] && break
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited (log: $LOGS/redis-$REDIS_PORT.log)"
    sleep 0.1
done
[[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] || die "redis-server did not answer within 10 s"
fi

PROJECT=src/ChannelsRabbitMq.Akka.Samples.Compare
if ((BUILD)); then
    log "building $PROJECT and the servers ($CONFIG)"
    dotnet build "$PROJECT" -c "$CONFIG" --nologo -v quiet -clp:ErrorsOnly >/dev/null \
        || { dotnet build "$PROJECT" -c "$CONFIG" --nologo -v quiet -clp:ErrorsOnly; die "build failed"; }
fi

log "RabbitMQ pid $RABBIT_PID ($CHANNELS_RABBITMQ_TEST_URL), redis-server pid ${REDIS_PID:-none} (port $REDIS_PORT); load average $(cut -d' ' -f1-3 /proc/loadavg)"
REDIS_ARGS=()
[[ -z $REDIS_PID ]] || REDIS_ARGS=(--redis "127.0.0.1:$REDIS_PORT" --redis-pid "$REDIS_PID")
rc=0
dotnet "$PROJECT/bin/$CONFIG/net10.0/ChannelsRabbitMq.Akka.Samples.Compare.dll" \
    --rabbit "$CHANNELS_RABBITMQ_TEST_URL" --rabbit-pid "$RABBIT_PID" "${REDIS_ARGS[@]}" \
    --bin "bin/$CONFIG/net10.0" --root "$ROOT" "${ARGS[@]}" || rc=$?
kill -CONT "$RABBIT_PID" 2>/dev/null || true
exit "$rc"
