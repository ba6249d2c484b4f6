#!/usr/bin/env bash
# Project-local RabbitMQ node for the integration tests (see docs/broker.md).
#
#   scripts/broker.sh start       install RabbitMQ if missing, make test certs, start or reuse the node
#   scripts/broker.sh stop        stop the node and wait until it is gone
#   scripts/broker.sh restart     stop + start
#   scripts/broker.sh reset       stop and delete the node's folder (mnesia, logs, config)
#   scripts/broker.sh status      say whether the node is up and healthy (exit 0 if so)
#   scripts/broker.sh ctl ARGS    rabbitmqctl against the node, e.g. `ctl list_bindings -p asgi`
#   scripts/broker.sh env         print `export VAR=...` lines for the tests (eval-able)
#
# The node is separate from any system RabbitMQ (own name, ports, data folder). Everything
# can be overridden by environment variables, which is how a second node for cluster tests
# is started:
#
#   CHANNELS_RABBITMQ_BROKER_NODE=channels-rabbitmq-test2@localhost \
#   CHANNELS_RABBITMQ_BROKER_PORT=5684 CHANNELS_RABBITMQ_BROKER_TLS_PORT=5685 \
#   CHANNELS_RABBITMQ_BROKER_DIST_PORT=25684 scripts/broker.sh start
#
# Both nodes run as the `rabbitmq` user with its home /var/lib/rabbitmq, so they share the
# Erlang cookie there, which is what clustering needs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/broker.sh"

NODE=${CHANNELS_RABBITMQ_BROKER_NODE:-channels-rabbitmq-test@localhost}
PORT=${CHANNELS_RABBITMQ_BROKER_PORT:-5682}
TLS_PORT=${CHANNELS_RABBITMQ_BROKER_TLS_PORT:-5683}
DIST_PORT=${CHANNELS_RABBITMQ_BROKER_DIST_PORT:-25682}
SSL_DIR=${CHANNELS_RABBITMQ_SSL_DIR:-$ROOT/ssl}
VHOST=asgi
START_TIMEOUT=${CHANNELS_RABBITMQ_BROKER_START_TIMEOUT:-90}   # seconds
SHORT=${NODE%@*}

# Debian's /usr/sbin wrappers re-quote arguments through `sh -c` (so `$`, backticks... in
# an argument get expanded) and send the server's output to /var/log/rabbitmq. We call the
# real scripts directly as the rabbitmq user instead; this is what the wrappers do too.
RMQ_BIN=/usr/lib/rabbitmq/bin
PYTHON=/usr/bin/python3   # Debian's python: sees python3-kombu/-msgpack/-pika (a pyenv python does not)
PACKAGES=(rabbitmq-server python3-kombu python3-msgpack python3-pika)

log() { echo "broker: $*" >&2; }
die() { log "$*"; exit 1; }

need_root() {
    [[ $(id -u) == 0 ]] || die "must run as root (it installs packages and runs the node as the rabbitmq user)"
}

ensure_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Run a command as the rabbitmq user from its home: the Erlang cookie lives there and the
# VM must be able to read its working directory.
as_rabbitmq() {
    local home
    home=$(getent passwd rabbitmq | cut -d: -f6)
    if [[ $(id -un) == rabbitmq ]]; then
        (cd "$home" && HOME=$home "$@")
    else
        (cd "$home" && runuser -u rabbitmq -- env HOME="$home" "$@")
    fi
}

ctl() { as_rabbitmq "$RMQ_BIN/rabbitmqctl" -q -n "$NODE" "$@"; }
# Same with a time limit, for probes of a node that may be wedged.
ctl_within() { local secs=$1; shift; as_rabbitmq timeout "$secs" "$RMQ_BIN/rabbitmqctl" -q -n "$NODE" "$@"; }

# Where the node keeps its files. `.broker/<node>` in the repo when the rabbitmq user can
# reach it; a repo under /root (mode 0700) is not reachable, so then a folder in /tmp that
# is unique per checkout (hash of its path).
base_dir() {
    if [[ -n ${CHANNELS_RABBITMQ_BROKER_BASE:-} ]]; then
        echo "$CHANNELS_RABBITMQ_BROKER_BASE"
    elif id rabbitmq >/dev/null 2>&1 && runuser -u rabbitmq -- test -x "$ROOT" -a -r "$ROOT"; then
        echo "$ROOT/.broker/$SHORT"
    else
        echo "/tmp/channels-rabbitmq-broker-$(printf %s "$ROOT" | sha256sum | cut -c1-12)/$SHORT"
    fi
}

set_paths() {
    BASE=$(base_dir)
    MNESIA_BASE=$BASE/mnesia
    LOG_BASE=$BASE/log
    CONF_DIR=$BASE/etc
    BROKER_SSL=$BASE/ssl
    PID_FILE=$MNESIA_BASE/$NODE.pid   # RabbitMQ's default location, written at boot
    # The environment the node is started with (RabbitMQ reads these at boot).
    NODE_ENV=(
        RABBITMQ_NODENAME="$NODE"
        RABBITMQ_MNESIA_BASE="$MNESIA_BASE"
        RABBITMQ_LOG_BASE="$LOG_BASE"
        RABBITMQ_CONFIG_FILE="$CONF_DIR/rabbitmq.conf"
        RABBITMQ_ADVANCED_CONFIG_FILE="$CONF_DIR/advanced.config"
        RABBITMQ_CONF_ENV_FILE="$CONF_DIR/rabbitmq-env.conf"
        RABBITMQ_ENABLED_PLUGINS_FILE="$CONF_DIR/enabled_plugins"
        RABBITMQ_PID_FILE="$PID_FILE"
        RABBITMQ_DIST_PORT="$DIST_PORT"
        # Erlang distribution on loopback only (it defaults to all interfaces).
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    )
}

render_config() {
    cat <<EOF
# Generated by scripts/broker.sh; edits are overwritten.
listeners.tcp.1 = 127.0.0.1:$PORT
listeners.ssl.1 = 127.0.0.1:$TLS_PORT
EOF
    # Also listen on ::1 when the machine has it, since "localhost" may resolve there first.
    if grep -qs '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
        echo "listeners.tcp.2 = ::1:$PORT"
        echo "listeners.ssl.2 = ::1:$TLS_PORT"
    fi
    cat <<EOF
# Mutual TLS, as the Python channels_rabbitmq test broker: a client without a
# certificate signed by the test CA is refused.
ssl_options.cacertfile = $BROKER_SSL/ca.pem
ssl_options.certfile = $BROKER_SSL/server.pem
ssl_options.keyfile = $BROKER_SSL/server-key.pem
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
# guest may log in from loopback only (the default), which is all the tests need.
log.file.level = info
log.console = false
# Test runs log a lot (every connection); keep the folder bounded.
log.file.rotation.size = 10485760
log.file.rotation.count = 3
EOF
}

# Quick probe of a TCP port on loopback.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

registered_in_epmd() { epmd -names 2>/dev/null | grep -q "^name $SHORT at port "; }

pid_alive() { [[ -s $PID_FILE ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

healthy() {
    registered_in_epmd || return 1
    ctl_within 15 await_startup --timeout 10 >/dev/null 2>&1 || return 1
    port_open "$PORT" && port_open "$TLS_PORT"
}

# Pid of the VM holding our distribution port (fallback when the pid file is gone).
pid_on_dist_port() {
    command -v ss >/dev/null || return 0
    ss -Htlnp "sport = :$DIST_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2
}

# Stop the node: politely through rabbitmqctl, then by its pid if it hangs or the CLI
# cannot reach it (e.g. a wedged node). Returns once its name and ports are free.
stop_node() {
    local pid i patience=100   # x 0.2 s
    pid=$( [[ -s $PID_FILE ]] && cat "$PID_FILE" || true)
    [[ -n $pid ]] || pid=$(pid_on_dist_port)
    if registered_in_epmd; then
        # If the CLI cannot even ask it to stop, the node is wedged: do not wait long.
        ctl_within 20 stop >/dev/null 2>&1 || patience=10
    fi
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        for ((i = 0; i < patience; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            log "node $NODE (pid $pid) did not stop; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    for ((i = 0; i < 100; i++)); do
        registered_in_epmd || port_open "$PORT" || port_open "$TLS_PORT" || break
        sleep 0.2
    done
    rm -f "$PID_FILE"
    ! registered_in_epmd || die "node $NODE is still registered with epmd after stop"
}

# vhost `asgi` with full permissions for guest; cheap to re-run.
ensure_vhost() {
    if ! ctl list_permissions -p "$VHOST" 2>/dev/null | grep -qE '^guest[[:space:]]+\.\*[[:space:]]+\.\*[[:space:]]+\.\*$'; then
        ctl list_vhosts | grep -qx "$VHOST" || ctl add_vhost "$VHOST" >/dev/null
        ctl set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null
    fi
}

# Install content as rabbitmq-owned file MODE DEST; returns 0 if DEST changed.
install_file() {
    local mode=$1 src=$2 dest=$3
    if [[ -f $dest ]] && cmp -s "$src" "$dest"; then return 1; fi
    install -o rabbitmq -g rabbitmq -m "$mode" "$src" "$dest"
}

cmd_start() {
    need_root
    ensure_packages
    set_paths
    # One start at a time per node (parallel CI jobs, two test runs).
    mkdir -p "$(dirname "$BASE")"
    exec 9>"$(dirname "$BASE")/.$SHORT.lock"
    flock -w 300 9 || die "timed out waiting for another broker.sh on $NODE"

    "$ROOT/ssl/make-certs.sh" "$SSL_DIR"

    install -d -o rabbitmq -g rabbitmq -m 0750 "$BASE" "$MNESIA_BASE" "$LOG_BASE" "$CONF_DIR" "$BROKER_SSL"
    # The broker gets its own copies: the repo's keys are 0600 root, and the node runs as rabbitmq.
    local changed=0 tmp
    install_file 0644 "$SSL_DIR/ca.pem" "$BROKER_SSL/ca.pem" && changed=1
    install_file 0644 "$SSL_DIR/server.pem" "$BROKER_SSL/server.pem" && changed=1
    install_file 0600 "$SSL_DIR/server-key.pem" "$BROKER_SSL/server-key.pem" && changed=1
    tmp=$(mktemp)
    render_config >"$tmp"
    install_file 0644 "$tmp" "$CONF_DIR/rabbitmq.conf" && changed=1
    echo '[].' >"$tmp"   # no plugins: management is not needed
    install_file 0644 "$tmp" "$CONF_DIR/enabled_plugins" && changed=1
    : >"$tmp"            # empty: keep /etc/rabbitmq/rabbitmq-env.conf out of our node
    install_file 0644 "$tmp" "$CONF_DIR/rabbitmq-env.conf" && changed=1
    rm -f "$tmp"

    if healthy; then
        # Another checkout may run a node of the same name (with its own certificates): reuse
        # only our own, recognised by its data folder.
        local running_dir
        running_dir=$(ctl_within 15 eval 'rabbit_mnesia:dir().' 2>/dev/null | tr -d '"' || true)
        if [[ $running_dir != "$MNESIA_BASE"* ]]; then
            log "node $NODE runs from another folder (${running_dir:-unknown}); restarting it from this checkout"
            changed=1
        fi
        if ((changed == 0)); then
            ensure_vhost
            log "reusing running node $NODE (amqp 127.0.0.1:$PORT, amqps localhost:$TLS_PORT)"
            return 0
        fi
        log "config or certificates changed; restarting $NODE"
        stop_node
    elif registered_in_epmd || pid_alive || port_open "$DIST_PORT"; then
        log "node $NODE is not healthy; restarting it"
        stop_node
    fi

    local p
    for p in "$PORT" "$TLS_PORT" "$DIST_PORT"; do
        ! port_open "$p" || die "port $p is taken by another process; set CHANNELS_RABBITMQ_BROKER_*PORT"
    done

    log "starting $NODE (data in $BASE)"
    local started=$SECONDS
    # -detached daemonises the VM. It must inherit none of our open files: a CI runner
    # waits for every holder of its stdout pipe, and fd 9 is our lock (a VM holding it
    # would block every later broker.sh).
    as_rabbitmq env "${NODE_ENV[@]}" "$RMQ_BIN/rabbitmq-server" -detached \
        </dev/null >>"$LOG_BASE/startup.log" 2>&1 9>&- \
        || { tail -n 30 "$LOG_BASE/startup.log" >&2; die "rabbitmq-server failed to launch"; }
    # await_startup needs the node to be reachable first; give it a moment to register.
    local i
    for ((i = 0; i < START_TIMEOUT * 5; i++)); do
        registered_in_epmd && break
        sleep 0.2
    done
    if ! ctl await_startup --timeout "$START_TIMEOUT" >/dev/null 2>&1; then
        log "node did not come up within ${START_TIMEOUT}s; last log lines:"
        tail -n 40 "$LOG_BASE/$NODE.log" "$LOG_BASE/startup.log" >&2 2>/dev/null || true
        exit 1
    fi
    ensure_vhost
    log "node $NODE up in $((SECONDS - started))s (amqp 127.0.0.1:$PORT, amqps localhost:$TLS_PORT)"
}

cmd_stop() {
    need_root
    id rabbitmq >/dev/null 2>&1 || return 0   # never installed: nothing runs
    set_paths
    mkdir -p "$(dirname "$BASE")"
    exec 9>"$(dirname "$BASE")/.$SHORT.lock"
    flock -w 300 9 || die "timed out waiting for another broker.sh on $NODE"
    if registered_in_epmd || pid_alive; then
        stop_node
        log "stopped $NODE"
    else
        log "$NODE is not running"
    fi
}

cmd_reset() {
    cmd_stop
    set_paths
    rm -rf "$BASE"
    log "deleted $BASE"
}

cmd_status() {
    need_root
    set_paths
    if id rabbitmq >/dev/null 2>&1 && healthy; then
        echo "$NODE is up: amqp 127.0.0.1:$PORT, amqps localhost:$TLS_PORT, data in $BASE"
    else
        echo "$NODE is not running (data in $BASE)"
        return 1
    fi
}

cmd_env() {
    cat <<EOF
export CHANNELS_RABBITMQ_TEST_URL='${CHANNELS_RABBITMQ_TEST_URL:-amqp://guest:guest@127.0.0.1:$PORT/$VHOST}'
export CHANNELS_RABBITMQ_TEST_TLS_URL='${CHANNELS_RABBITMQ_TEST_TLS_URL:-amqps://guest:guest@localhost:$TLS_PORT/$VHOST}'
export CHANNELS_RABBITMQ_SSL_DIR='$SSL_DIR'
export CHANNELS_RABBITMQ_TEST_NODE='${CHANNELS_RABBITMQ_TEST_NODE:-$NODE}'
export CHANNELS_RABBITMQ_CTL='${CHANNELS_RABBITMQ_CTL:-$SELF ctl}'
export CHANNELS_RABBITMQ_PYTHON='${CHANNELS_RABBITMQ_PYTHON:-$PYTHON}'
EOF
}

usage() {
    sed -n '2,/^set -euo/p' "$SELF" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    reset) cmd_reset ;;
    status) cmd_status ;;
    ctl) shift; ctl "$@" ;;
    env) cmd_env ;;
    *) usage ;;
esac
