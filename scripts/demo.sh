#!/usr/bin/env bash
# The demo (docs/demo.md): a websocket chat on two servers sharing the project's RabbitMQ.
#
#   scripts/demo.sh                        install and start RabbitMQ, build, start two chat servers,
#                                          print their URLs; Ctrl-C stops everything it started
#   scripts/demo.sh --load [N] [M] [RATE]  the same two servers, then N simulated websocket clients
#                                          in M rooms send RATE messages/s in total, with a live
#                                          progress line and a summary (default 50 clients, 5 rooms,
#                                          100 msg/s); exits 0 when nothing was lost
#
# Options: --duration SECONDS (load mode, default 10), --ports A,B (default 5101,5102, or
# DEMO_PORTS). Server logs go to artifacts/demo/. A broker this script started is stopped at the
# end (set DEMO_KEEP_BROKER=1 to keep it); one that was already running is left alone.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PROJECT=src/ChannelsRabbitMq.Akka.Samples.Chat
DLL=$PROJECT/bin/Release/net10.0/ChannelsRabbitMq.Akka.Samples.Chat.dll
LOGS=$ROOT/artifacts/demo
PORTS=${DEMO_PORTS:-5101,5102}
LOAD=0 CLIENTS=50 ROOMS=5 RATE=100 DURATION=10

log() { echo "demo: $*" >&2; }
die() { log "$*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
is_number() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }

while (($#)); do
    case $1 in
        --load)
            LOAD=1
            shift
            if (($#)) && is_number "$1"; then CLIENTS=$1; shift; fi
            if (($#)) && is_number "$1"; then ROOMS=$1; shift; fi
            if (($#)) && is_number "$1"; then RATE=$1; shift; fi
            ;;
        --duration) DURATION=${2:?--duration needs seconds}; shift 2 ;;
        --ports) PORTS=${2:?--ports needs A,B}; shift 2 ;;
        -h | --help) usage ;;
        *) log "unknown argument: $1"; usage ;;
    esac
done
IFS=, read -r PORT_A PORT_B <<<"$PORTS"
[[ $PORT_A =~ ^[0-9]+$ && $PORT_B =~ ^[0-9]+$ && $PORT_A != "$PORT_B" ]] || die "--ports needs two different ports: A,B"

command -v dotnet >/dev/null || die "the .NET 10 SDK is needed (dotnet is not on PATH)"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Status code of GET /healthz (000 when nothing answers).
health() {
    local line
    line=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3 && timeout 5 head -n1 <&3) 2>/dev/null || true)
    [[ $line =~ ^HTTP/[0-9.]+\ ([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo 000
}

PIDS=()
BROKER_STARTED=0
cleanup() {
    local rc=$? pid i
    trap - EXIT INT TERM
    if ((${#PIDS[@]})); then
        log "stopping the servers"
        for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
        for ((i = 0; i < 100; i++)); do
            local alive=0
            for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
            ((alive)) || break
            sleep 0.2
        done
        for pid in "${PIDS[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then
                log "server $pid did not stop within 20 s; killing it"
                kill -KILL "$pid" 2>/dev/null || true
            fi
            wait "$pid" 2>/dev/null || true
        done
    fi
    if ((BROKER_STARTED)) && [[ ${DEMO_KEEP_BROKER:-0} != 1 ]]; then
        log "stopping the broker it started (DEMO_KEEP_BROKER=1 keeps it)"
        scripts/broker.sh stop || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for port in "$PORT_A" "$PORT_B"; do
    ! port_open "$port" || die "port $port is in use; choose others with --ports A,B"
done

scripts/broker.sh status >/dev/null 2>&1 || BROKER_STARTED=1
scripts/broker.sh start
eval "$(scripts/broker.sh env)"

log "building $PROJECT (Release)"
dotnet build "$PROJECT" -c Release --nologo -v quiet -clp:ErrorsOnly >/dev/null \
    || { dotnet build "$PROJECT" -c Release --nologo -v quiet -clp:ErrorsOnly; die "build failed"; }

mkdir -p "$LOGS"
for port in "$PORT_A" "$PORT_B"; do
    # Not inherited: a Ctrl-C reaches the script, whose cleanup stops the servers with SIGTERM.
    dotnet "$DLL" --urls "http://localhost:$port" --ChannelLayers:default:Host "$CHANNELS_RABBITMQ_TEST_URL" \
        </dev/null >"$LOGS/server-$port.log" 2>&1 &
    PIDS+=($!)
done

# Ready: both answer /healthz 200 (the layer is connected).
for ((i = 0; i < 300; i++)); do
    ready=1
    for n in 0 1; do
        port=$([[ $n == 0 ]] && echo "$PORT_A" || echo "$PORT_B")
        if ! kill -0 "${PIDS[$n]}" 2>/dev/null; then
            tail -n 30 "$LOGS/server-$port.log" >&2
            die "the server on port $port exited (log: $LOGS/server-$port.log)"
        fi
        [[ $(health "$port") == 200 ]] || ready=0
    done
    ((ready)) && break
    sleep 0.2
done
((ready)) || die "the servers did not become healthy within 60 s (logs: $LOGS)"

if ((LOAD)); then
    log "servers up on http://localhost:$PORT_A and http://localhost:$PORT_B; starting the load run"
    rc=0
    dotnet "$DLL" load --server "http://127.0.0.1:$PORT_A" --server "http://127.0.0.1:$PORT_B" \
        --clients "$CLIENTS" --rooms "$ROOMS" --rate "$RATE" --duration "$DURATION" || rc=$?
    exit "$rc"
fi

cat <<EOM

  Chat demo: two servers, one RabbitMQ (amqp://127.0.0.1:5682/asgi)

    http://localhost:$PORT_A
    http://localhost:$PORT_B

  Open both in a browser: each page joins room "lobby" (?room=NAME for another). A message
  typed on one page appears on the other, tagged with the server it came through. Or send one
  to a room from the command line:

    curl -d '{"text": "hello from curl"}' http://localhost:$PORT_A/rooms/lobby/messages

  Server logs: $LOGS/   Press Ctrl-C to stop.

EOM

# Until Ctrl-C, or until a server exits on its own.
wait -n "${PIDS[@]}" || true
die "a server exited unexpectedly (logs: $LOGS)"
