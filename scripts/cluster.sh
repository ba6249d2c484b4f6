#!/usr/bin/env bash
# A two-node RabbitMQ cluster on this machine, for the reliability tests (docs/reliability.md).
# Both nodes are started through scripts/broker.sh with their own names, ports and folders,
# so they never touch the shared test node (channels-rabbitmq-test@localhost, 5682/5683).
#
#   scripts/cluster.sh start       start both nodes (in parallel) and join node 2 to node 1
#   scripts/cluster.sh fresh       reset (delete) both nodes, then start: a known clean state
#   scripts/cluster.sh stop        stop node 2, then node 1 (folders kept)
#   scripts/cluster.sh reset       stop both nodes and delete their folders
#   scripts/cluster.sh status      exit 0 when both nodes run and are clustered
#   scripts/cluster.sh ctl N ARGS  rabbitmqctl against node N (1 or 2)
#   scripts/cluster.sh env         print `export VAR=...` lines describing the cluster
#
# Defaults (each can be overridden by the variable named in brackets):
#   node 1  channels-rabbitmq-rel1@localhost [CHANNELS_RABBITMQ_CLUSTER_NODE1]
#           amqp 5690 [_PORT1], amqps 5691 [_TLS_PORT1], distribution 25690 [_DIST_PORT1]
#   node 2  channels-rabbitmq-rel2@localhost [CHANNELS_RABBITMQ_CLUSTER_NODE2]
#           amqp 5692 [_PORT2], amqps 5693 [_TLS_PORT2], distribution 25692 [_DIST_PORT2]
# (the variables are CHANNELS_RABBITMQ_CLUSTER_PORT1 etc.). Both nodes share the rabbitmq
# user's Erlang cookie, which is what clustering needs. Needs root, as broker.sh does.
#
# A RabbitMQ 4.x cluster (two nodes in broker.sh's Debian 13 root) with `--broker 4` before
# the command, or CHANNELS_RABBITMQ_BROKER_VERSION=4. Its defaults and variables:
#   node 1  channels-rabbitmq-rel41@localhost [CHANNELS_RABBITMQ_CLUSTER4_NODE1]
#           amqp 5696 [_PORT1], amqps 5697 [_TLS_PORT1], distribution 25696 [_DIST_PORT1]
#   node 2  channels-rabbitmq-rel42@localhost [CHANNELS_RABBITMQ_CLUSTER4_NODE2]
#           amqp 5698 [_PORT2], amqps 5699 [_TLS_PORT2], distribution 25698 [_DIST_PORT2]
# (CHANNELS_RABBITMQ_CLUSTER4_PORT1 etc.). `env` prints the CHANNELS_RABBITMQ_CLUSTER_*
# variables the tests read, describing the cluster of the chosen version.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BROKER="$ROOT/scripts/broker.sh"

log() { echo "cluster: $*" >&2; }
die() { log "$*"; exit 1; }

VERSION=${CHANNELS_RABBITMQ_BROKER_VERSION:-3}
if [[ ${1:-} == --broker ]]; then
    [[ $# -ge 2 ]] || die "--broker needs 3 or 4"
    VERSION=$2
    shift 2
fi
case $VERSION in
    3 | 3.10) VERSION=3 PREFIX=CHANNELS_RABBITMQ_CLUSTER_ NAME=channels-rabbitmq-rel BASE_PORT=5690 BROKER_PREFIX=CHANNELS_RABBITMQ_BROKER_ ;;
    4 | 4.x) VERSION=4 PREFIX=CHANNELS_RABBITMQ_CLUSTER4_ NAME=channels-rabbitmq-rel4 BASE_PORT=5696 BROKER_PREFIX=CHANNELS_RABBITMQ_BROKER4_ ;;
    *) die "unknown broker '$VERSION' (3 or 4)" ;;
esac
# This cluster's setting NAME: variable ${PREFIX}NAME, else DEFAULT.
setting() { local var=$PREFIX$1; echo "${!var:-$2}"; }

NODE1=$(setting NODE1 "${NAME}1@localhost")
PORT1=$(setting PORT1 "$BASE_PORT")
TLS_PORT1=$(setting TLS_PORT1 $((BASE_PORT + 1)))
DIST_PORT1=$(setting DIST_PORT1 $((BASE_PORT + 20000)))
NODE2=$(setting NODE2 "${NAME}2@localhost")
PORT2=$(setting PORT2 $((BASE_PORT + 2)))
TLS_PORT2=$(setting TLS_PORT2 $((BASE_PORT + 3)))
DIST_PORT2=$(setting DIST_PORT2 $((BASE_PORT + 20002)))

# broker.sh for node N, with that node's parameters.
node() {
    local n=$1; shift
    case $n in
        1) env "${BROKER_PREFIX}NODE=$NODE1" "${BROKER_PREFIX}PORT=$PORT1" \
               "${BROKER_PREFIX}TLS_PORT=$TLS_PORT1" "${BROKER_PREFIX}DIST_PORT=$DIST_PORT1" \
               "$BROKER" --broker "$VERSION" "$@" ;;
        2) env "${BROKER_PREFIX}NODE=$NODE2" "${BROKER_PREFIX}PORT=$PORT2" \
               "${BROKER_PREFIX}TLS_PORT=$TLS_PORT2" "${BROKER_PREFIX}DIST_PORT=$DIST_PORT2" \
               "$BROKER" --broker "$VERSION" "$@" ;;
        *) die "node must be 1 or 2, not '$n'" ;;
    esac
}

# Is node 2 a running member of node 1's cluster?
clustered() {
    node 1 ctl eval "lists:member('$NODE2', rabbit_nodes:all_running())." 2>/dev/null | grep -qx true
}

cmd_start() {
    # The two boots overlap: about half the wall time of two sequential starts.
    local out1 out2 rc1=0 rc2=0
    out1=$(mktemp) out2=$(mktemp)
    node 1 start >"$out1" 2>&1 &
    local p1=$!
    node 2 start >"$out2" 2>&1 &
    local p2=$!
    wait "$p1" || rc1=$?
    wait "$p2" || rc2=$?
    cat "$out1" "$out2" >&2
    rm -f "$out1" "$out2"
    ((rc1 == 0)) || die "node 1 ($NODE1) did not start"
    ((rc2 == 0)) || die "node 2 ($NODE2) did not start"
    if clustered; then
        log "$NODE2 is already clustered with $NODE1"
        return 0
    fi
    log "joining $NODE2 to $NODE1"
    # join_cluster prints harmless warnings (feature flags, tracking tables) on stderr: keep
    # them for a failure only.
    local out attempt
    out=$(mktemp)
    for attempt in 1 2; do
        if { node 2 ctl stop_app && node 2 ctl reset && node 2 ctl join_cluster "$NODE1" \
             && node 2 ctl start_app && node 2 ctl await_startup --timeout 60; } >"$out" 2>&1; then
            break
        fi
        cat "$out" >&2
        # RabbitMQ 4.x now and then refuses node 2's start_app after the join with
        # failed_to_deny_deprecated_features [transient_nonexcl_queues] (a non-durable shared queue
        # in the cluster) on nodes that are fresh: say what node 1 holds, then try the join once more.
        log "node 1's queues (name, durable, exclusive) when the join failed:"
        for vhost in / asgi; do node 1 ctl list_queues -q -p "$vhost" name durable exclusive >&2 2>/dev/null || true; done
        if ((attempt == 2)); then
            rm -f "$out"
            die "joining $NODE2 to $NODE1 failed"
        fi
        log "joining $NODE2 to $NODE1 again"
    done
    rm -f "$out"
    clustered || die "$NODE2 did not join $NODE1"
    log "cluster up: $NODE1 (amqp 127.0.0.1:$PORT1) + $NODE2 (amqp 127.0.0.1:$PORT2)"
}

# Node 2 first: node 1 is then the last one down, and the first one up on the next start.
cmd_stop() {
    node 2 stop
    node 1 stop
}

cmd_reset() {
    node 2 reset
    node 1 reset
}

cmd_status() {
    node 1 status && node 2 status && clustered
}

cmd_env() {
    cat <<EOF
export CHANNELS_RABBITMQ_CLUSTER_NODE1='$NODE1'
export CHANNELS_RABBITMQ_CLUSTER_PORT1='$PORT1'
export CHANNELS_RABBITMQ_CLUSTER_NODE2='$NODE2'
export CHANNELS_RABBITMQ_CLUSTER_PORT2='$PORT2'
export CHANNELS_RABBITMQ_CLUSTER_URL1='amqp://guest:guest@127.0.0.1:$PORT1/asgi'
export CHANNELS_RABBITMQ_CLUSTER_URL2='amqp://guest:guest@127.0.0.1:$PORT2/asgi'
EOF
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

case ${1:-} in
    start) cmd_start ;;
    fresh) cmd_reset; cmd_start ;;
    stop) cmd_stop ;;
    reset) cmd_reset ;;
    status) cmd_status ;;
    ctl) shift; [[ $# -ge 1 ]] || usage; n=$1; shift; node "$n" ctl "$@" ;;
    env) cmd_env ;;
    *) usage ;;
esac
