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
# Two brokers: RabbitMQ 3.10 (Debian 12's package, on the host; the default) and RabbitMQ 4.x
# (Debian 13's package, run with chroot in a Debian 13 root that `start` makes once with
# debootstrap, configured as RabbitMQ 4.3 ships). Pick the 4.x node with `--broker 4` before
# the command, or CHANNELS_RABBITMQ_BROKER_VERSION=4:
#
#   scripts/broker.sh --broker 4 start
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
# Erlang cookie there, which is what clustering needs. The 4.x node's variables have the
# prefix CHANNELS_RABBITMQ_BROKER4_ instead (NODE, PORT, TLS_PORT, DIST_PORT, EPMD_PORT,
# BASE), so one environment can describe both brokers; see docs/broker.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/scripts/broker.sh"

log() { echo "broker: $*" >&2; }
die() { log "$*"; exit 1; }

VERSION=${CHANNELS_RABBITMQ_BROKER_VERSION:-3}
if [[ ${1:-} == --broker ]]; then
    [[ $# -ge 2 ]] || die "--broker needs 3 or 4"
    VERSION=$2
    shift 2
fi
case $VERSION in
    3 | 3.10)
        VERSION=3 PREFIX=CHANNELS_RABBITMQ_BROKER_
        DEFAULT_SHORT=channels-rabbitmq-test DEFAULT_PORT=5682 DEFAULT_EPMD_PORT=${ERL_EPMD_PORT:-4369} ;;
    4 | 4.x)
        VERSION=4 PREFIX=CHANNELS_RABBITMQ_BROKER4_
        DEFAULT_SHORT=channels-rabbitmq-test4 DEFAULT_PORT=5694 DEFAULT_EPMD_PORT=4370 ;;
    *) die "unknown broker '$VERSION' (3 or 4)" ;;
esac
# This node's setting NAME: variable ${PREFIX}NAME, else DEFAULT.
setting() { local var=$PREFIX$1; echo "${!var:-$2}"; }

NODE=$(setting NODE "$DEFAULT_SHORT@localhost")
PORT=$(setting PORT "$DEFAULT_PORT")
TLS_PORT=$(setting TLS_PORT $((DEFAULT_PORT + 1)))
DIST_PORT=$(setting DIST_PORT $((DEFAULT_PORT + 20000)))
# The 4.x node has an epmd of its own (port 4370 by default): the two Erlang versions, and
# the two rabbitmq users' cookies, never meet.
EPMD_PORT=$(setting EPMD_PORT "$DEFAULT_EPMD_PORT")
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

# RabbitMQ 4.x: Debian 13's rabbitmq-server in a Debian 13 root of its own, outside any
# checkout and shared by all of them (made once, about 370 MB). The node sees its files at
# paths inside the root; this script reaches them through $CHROOT_DIR.
TRIXIE_ROOT=${CHANNELS_RABBITMQ_TRIXIE_ROOT:-/var/lib/channels-rabbitmq/trixie-root}
if [[ $VERSION == 4 ]]; then
    CHROOT_DIR=$TRIXIE_ROOT
    PACKAGES+=(debootstrap)
else
    CHROOT_DIR=
fi

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

# The Debian 13 root for the 4.x node: made with debootstrap into a temporary folder beside
# it and renamed when complete (under a lock), so an interrupted run leaves no half root.
ensure_trixie_root() {
    [[ -x $TRIXIE_ROOT$RMQ_BIN/rabbitmq-server ]] && return 0
    local parent name tmp mirror
    parent=$(dirname "$TRIXIE_ROOT") name=$(basename "$TRIXIE_ROOT")
    mkdir -p "$parent"
    exec 8>"$parent/.$name.lock"
    flock -w 900 8 || die "timed out waiting for another broker.sh making $TRIXIE_ROOT"
    if [[ ! -x $TRIXIE_ROOT$RMQ_BIN/rabbitmq-server ]]; then
        [[ ! -e $TRIXIE_ROOT ]] || die "$TRIXIE_ROOT exists but has no RabbitMQ; move it away"
        # Leftovers of an interrupted run (never across a mount: debootstrap mounts /proc).
        for tmp in "$parent/.$name".tmp.*; do
            [[ -d $tmp ]] || { rm -f "$tmp"; continue; }
            umount "$tmp/proc" "$tmp/sys" 2>/dev/null || true
            rm -rf --one-file-system "$tmp"
        done
        mirror=$(debian_mirror)
        tmp=$(mktemp -d "$parent/.$name.tmp.XXXXXX")
        chmod 0755 "$tmp"   # it becomes /: the rabbitmq user must traverse it
        log "making a Debian 13 root with RabbitMQ 4 in $TRIXIE_ROOT (debootstrap from $mirror; about a minute, 370 MB)"
        if ! debootstrap --variant=minbase --include=rabbitmq-server trixie "$tmp" "$mirror" >"$tmp.log" 2>&1; then
            tail -n 30 "$tmp.log" >&2
            die "debootstrap failed (log: $tmp.log)"
        fi
        mv "$tmp.log" "$tmp/debootstrap.log"
        mv "$tmp" "$TRIXIE_ROOT"
    fi
    exec 8>&-
}

# The Debian mirror apt already uses (CHANNELS_RABBITMQ_DEBIAN_MIRROR overrides).
debian_mirror() {
    local uri
    uri=${CHANNELS_RABBITMQ_DEBIAN_MIRROR:-}
    [[ -n $uri ]] || uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | tr ' ' '\n' | grep -E '/debian/?$' | head -n1 || true)
    [[ -n $uri ]] || uri=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]*\).*/\2/p' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | grep -E '/debian/?$' | head -n1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

# The root needs /proc (the Erlang VM and the CLI read it) and the host's /dev.
ensure_root_mounts() {
    mountpoint -q "$TRIXIE_ROOT/proc" || mount -t proc proc "$TRIXIE_ROOT/proc"
    [[ -c $TRIXIE_ROOT/dev/null && -c $TRIXIE_ROOT/dev/urandom ]] || mountpoint -q "$TRIXIE_ROOT/dev" \
        || mount --bind /dev "$TRIXIE_ROOT/dev"
}

# Owner (uid:gid) of the node's files: the rabbitmq user of the host, or of the root.
rabbitmq_owner() {
    if [[ $VERSION == 4 ]]; then
        awk -F: '$1 == "rabbitmq" { print $3 ":" $4 }' "$TRIXIE_ROOT/etc/passwd"
    else
        echo rabbitmq:rabbitmq
    fi
}

# Run a command as the rabbitmq user from its home: the Erlang cookie lives there and the
# VM must be able to read its working directory. For 4.x, inside the root, with a clean
# environment (arguments VAR=value before the command are passed on).
as_rabbitmq() {
    local home
    if [[ $VERSION == 4 ]]; then
        local owner
        owner=$(rabbitmq_owner)
        chroot --userspec="$owner" --groups="${owner#*:}" "$TRIXIE_ROOT" /usr/bin/env -i -C /var/lib/rabbitmq \
            HOME=/var/lib/rabbitmq PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 ERL_EPMD_PORT="$EPMD_PORT" "$@"
        return
    fi
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

# Where the node keeps its files, as the node sees them. `.broker/<node>` in the repo when
# the rabbitmq user can reach it; a repo under /root (mode 0700) is not reachable, so then a
# folder in /tmp that is unique per checkout (hash of its path). The 4.x node's folder is
# inside the root, again unique per checkout.
base_dir() {
    local base
    base=$(setting BASE "")
    if [[ -n $base ]]; then
        echo "$base"
    elif [[ $VERSION == 4 ]]; then
        echo "/var/lib/channels-rabbitmq/$(printf %s "$ROOT" | sha256sum | cut -c1-12)/$SHORT"
    elif id rabbitmq >/dev/null 2>&1 && runuser -u rabbitmq -- test -x "$ROOT" -a -r "$ROOT"; then
        echo "$ROOT/.broker/$SHORT"
    else
        echo "/tmp/channels-rabbitmq-broker-$(printf %s "$ROOT" | sha256sum | cut -c1-12)/$SHORT"
    fi
}

set_paths() {
    BASE=$(base_dir)
    HOST_BASE=$CHROOT_DIR$BASE   # the same folder, as this script reaches it
    OWNER=$(rabbitmq_owner)
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
    # The 4.x node's own epmd, which it starts, listening on loopback only.
    [[ $VERSION != 4 ]] || NODE_ENV+=(ERL_EPMD_PORT="$EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1)
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
EOF
    [[ $VERSION != 4 ]] || cat <<EOF
# As RabbitMQ 4.3 and later ship: no transient non-exclusive queues, no global basic.qos.
deprecated_features.permit.transient_nonexcl_queues = false
deprecated_features.permit.global_qos = false
EOF
    cat <<EOF
log.file.level = info
log.console = false
# Test runs log a lot (every connection); keep the folder bounded.
log.file.rotation.size = 10485760
log.file.rotation.count = 3
EOF
}

# Quick probe of a TCP port on loopback.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

registered_in_epmd() { epmd -port "$EPMD_PORT" -names 2>/dev/null | grep -q "^name $SHORT at port "; }

pid_alive() { [[ -s $CHROOT_DIR$PID_FILE ]] && kill -0 "$(cat "$CHROOT_DIR$PID_FILE")" 2>/dev/null; }

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
    pid=$( [[ -s $CHROOT_DIR$PID_FILE ]] && cat "$CHROOT_DIR$PID_FILE" || true)
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
    rm -f "$CHROOT_DIR$PID_FILE"
    ! registered_in_epmd || die "node $NODE is still registered with epmd after stop"
}

# vhost `asgi` with full permissions for guest; cheap to re-run.
ensure_vhost() {
    if ! ctl list_permissions -p "$VHOST" 2>/dev/null | grep -qE '^guest[[:space:]]+\.\*[[:space:]]+\.\*[[:space:]]+\.\*$'; then
        ctl list_vhosts | grep -qx "$VHOST" || ctl add_vhost "$VHOST" >/dev/null
        ctl set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null
    fi
}

# Install SRC as the rabbitmq-owned file DEST (a path of this script's view) with MODE;
# returns 0 if DEST changed.
install_file() {
    local mode=$1 src=$2 dest=$3
    if [[ -f $dest ]] && cmp -s "$src" "$dest"; then return 1; fi
    install -o "${OWNER%:*}" -g "${OWNER#*:}" -m "$mode" "$src" "$dest"
}

cmd_start() {
    need_root
    ensure_packages
    if [[ $VERSION == 4 ]]; then
        ensure_trixie_root
        ensure_root_mounts
    fi
    set_paths
    # One start at a time per node (parallel CI jobs, two test runs).
    mkdir -p "$(dirname "$HOST_BASE")"
    exec 9>"$(dirname "$HOST_BASE")/.$SHORT.lock"
    flock -w 300 9 || die "timed out waiting for another broker.sh on $NODE"

    "$ROOT/ssl/make-certs.sh" "$SSL_DIR"

    local d
    for d in "$BASE" "$MNESIA_BASE" "$LOG_BASE" "$CONF_DIR" "$BROKER_SSL"; do
        install -d -o "${OWNER%:*}" -g "${OWNER#*:}" -m 0750 "$CHROOT_DIR$d"
    done
    # The broker gets its own copies: the repo's keys are 0600 root, and the node runs as rabbitmq.
    local changed=0 tmp
    install_file 0644 "$SSL_DIR/ca.pem" "$CHROOT_DIR$BROKER_SSL/ca.pem" && changed=1
    install_file 0644 "$SSL_DIR/server.pem" "$CHROOT_DIR$BROKER_SSL/server.pem" && changed=1
    install_file 0600 "$SSL_DIR/server-key.pem" "$CHROOT_DIR$BROKER_SSL/server-key.pem" && changed=1
    tmp=$(mktemp)
    render_config >"$tmp"
    install_file 0644 "$tmp" "$CHROOT_DIR$CONF_DIR/rabbitmq.conf" && changed=1
    echo '[].' >"$tmp"   # no plugins: management is not needed
    install_file 0644 "$tmp" "$CHROOT_DIR$CONF_DIR/enabled_plugins" && changed=1
    : >"$tmp"            # empty: keep /etc/rabbitmq/rabbitmq-env.conf out of our node
    install_file 0644 "$tmp" "$CHROOT_DIR$CONF_DIR/rabbitmq-env.conf" && changed=1
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

    log "starting $NODE, RabbitMQ $(rabbitmq_version) (data in $HOST_BASE)"
    local started=$SECONDS
    # -detached daemonises the VM. It must inherit none of our open files: a CI runner
    # waits for every holder of its stdout pipe, and fd 9 is our lock (a VM holding it
    # would block every later broker.sh).
    as_rabbitmq env "${NODE_ENV[@]}" "$RMQ_BIN/rabbitmq-server" -detached \
        </dev/null >>"$CHROOT_DIR$LOG_BASE/startup.log" 2>&1 9>&- \
        || { tail -n 30 "$CHROOT_DIR$LOG_BASE/startup.log" >&2; die "rabbitmq-server failed to launch"; }
    # await_startup needs the node to be reachable first; give it a moment to register.
    local i
    for ((i = 0; i < START_TIMEOUT * 5; i++)); do
        registered_in_epmd && break
        sleep 0.2
    done
    if ! ctl await_startup --timeout "$START_TIMEOUT" >/dev/null 2>&1; then
        log "node did not come up within ${START_TIMEOUT}s; last log lines:"
        tail -n 40 "$CHROOT_DIR$LOG_BASE/$NODE.log" "$CHROOT_DIR$LOG_BASE/startup.log" >&2 2>/dev/null || true
        exit 1
    fi
    ensure_vhost
    log "node $NODE up in $((SECONDS - started))s (amqp 127.0.0.1:$PORT, amqps localhost:$TLS_PORT)"
}

# Is the broker software there at all? (If not, no node of it runs.)
installed() {
    if [[ $VERSION == 4 ]]; then [[ -x $TRIXIE_ROOT$RMQ_BIN/rabbitmq-server ]]; else id rabbitmq >/dev/null 2>&1; fi
}

# The version of the installed package, e.g. 3.10.8 or 4.0.5.
rabbitmq_version() {
    if [[ $VERSION == 4 ]]; then
        chroot "$TRIXIE_ROOT" dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null | sed 's/-.*//'
    else
        dpkg-query -W -f='${Version}' rabbitmq-server 2>/dev/null | sed 's/-.*//'
    fi
}

cmd_stop() {
    need_root
    installed || return 0   # never installed: nothing runs
    set_paths
    mkdir -p "$(dirname "$HOST_BASE")"
    exec 9>"$(dirname "$HOST_BASE")/.$SHORT.lock"
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
    rm -rf "$HOST_BASE"
    log "deleted $HOST_BASE"
}

cmd_status() {
    need_root
    set_paths
    if installed && healthy; then
        echo "$NODE (RabbitMQ $(rabbitmq_version)) is up: amqp 127.0.0.1:$PORT, amqps localhost:$TLS_PORT, data in $HOST_BASE"
    else
        echo "$NODE is not running (data in $HOST_BASE)"
        return 1
    fi
}

# For 3.10, a variable already set (say, pointing at another broker) is kept; the 4.x
# node's lines always describe that node.
cmd_env() {
    if [[ $VERSION == 4 ]]; then
        local CHANNELS_RABBITMQ_TEST_URL='' CHANNELS_RABBITMQ_TEST_TLS_URL='' CHANNELS_RABBITMQ_TEST_NODE='' \
            CHANNELS_RABBITMQ_CTL="$SELF --broker 4 ctl"
    fi
    cat <<EOF
export CHANNELS_RABBITMQ_TEST_URL='${CHANNELS_RABBITMQ_TEST_URL:-amqp://guest:guest@127.0.0.1:$PORT/$VHOST}'
export CHANNELS_RABBITMQ_TEST_TLS_URL='${CHANNELS_RABBITMQ_TEST_TLS_URL:-amqps://guest:guest@localhost:$TLS_PORT/$VHOST}'
export CHANNELS_RABBITMQ_SSL_DIR='$SSL_DIR'
export CHANNELS_RABBITMQ_TEST_NODE='${CHANNELS_RABBITMQ_TEST_NODE:-$NODE}'
export CHANNELS_RABBITMQ_CTL='${CHANNELS_RABBITMQ_CTL:-$SELF ctl}'
export CHANNELS_RABBITMQ_PYTHON='${CHANNELS_RABBITMQ_PYTHON:-$PYTHON}'
export CHANNELS_RABBITMQ_BROKER_VERSION='$VERSION'
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
