#!/usr/bin/env bash
# A server's first seconds (docs/performance.md, "Where the layer loses, and why", point 2): for each
# system of the comparison, with the runtime's defaults and with dynamic PGO off
# (DOTNET_TieredPGO=0, set on the servers only), start the two servers and send at once, with
# no warm-up round, while dotnet-counters records the first server's JIT time every second.
#
#   scripts/cold-start.sh [--systems a,b,…] [--rate R] [--duration S] [--no-build]
#
# Defaults: all three systems (channels, signalr, pubsub), 1,000 msg/s, 20 s. Each run is one
# `scripts/compare.sh --warmup 0 --no-fault` round (200 clients, 10 rooms). It prints one line
# per run: the server's JIT time in all and the last second after its start with more than
# 0.1 s of JIT, beside the round's delivered / lost and latency p50 / p99 / p99.9. JSON and
# counters go to artifacts/cold-start/. dotnet-counters is installed into artifacts/tools if it
# is not on PATH. The broker is kept between runs and stopped at the end if this script
# started it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { echo "cold-start: $*" >&2; }
die() { log "$*"; exit 1; }

SYSTEMS=channels,signalr,pubsub RATE=1000 DURATION=20 BUILD=1
while (($#)); do
    case $1 in
        --systems) SYSTEMS=${2:?--systems needs a list}; shift 2 ;;
        --rate) RATE=${2:?--rate needs msg/s}; shift 2 ;;
        --duration) DURATION=${2:?--duration needs seconds}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (--help lists them)" ;;
    esac
done
command -v python3 >/dev/null || die "python3 is needed to read the results"

OUT=$ROOT/artifacts/cold-start
mkdir -p "$OUT"
COUNTERS=$(command -v dotnet-counters || true)
if [[ -z $COUNTERS ]]; then
    COUNTERS=$ROOT/artifacts/tools/dotnet-counters
    if [[ ! -x $COUNTERS ]]; then
        log "installing dotnet-counters into artifacts/tools"
        dotnet tool install dotnet-counters --version 10.0.750501 --tool-path "$ROOT/artifacts/tools" >/dev/null
    fi
fi

broker_was_running=0
scripts/broker.sh status >/dev/null 2>&1 && broker_was_running=1
finish() {
    if ((broker_was_running == 0)); then scripts/broker.sh stop >/dev/null 2>&1 || true; fi
}
trap finish EXIT

# Waits for the first server of SYSTEM and records its counters until it exits.
watch_server() {
    local system=$1 csv=$2 pid=""
    for _ in $(seq 1 240); do
        pid=$(pgrep -f -- "--Chat:ServerName $system-a" | head -1 || true)
        [[ -n $pid ]] && break
        sleep 0.5
    done
    [[ -n $pid ]] || { log "no $system server appeared"; return; }
    "$COUNTERS" collect -p "$pid" --refresh-interval 1 --format csv -o "$csv" --counters System.Runtime >/dev/null 2>&1 || true
}

build_flag=()
((BUILD)) || build_flag=(--no-build)
for system in ${SYSTEMS//,/ }; do
    for setting in defaults TieredPGO=0; do
        name=$system-${setting//=/}
        env=()
        [[ $setting == defaults ]] || env=(--server-env "DOTNET_$setting")
        rm -f "$OUT/$name.csv"
        watch_server "$system" "$OUT/$name.csv" &
        watcher=$!
        COMPARE_KEEP_BROKER=1 scripts/compare.sh "${build_flag[@]}" --systems "$system" --rates "$RATE" --duration "$DURATION" \
            --warmup 0 --no-fault "${env[@]}" --json "$OUT/$name.json" --charts "$OUT" >"$OUT/$name.log" 2>&1 \
            || die "the $name run failed: $OUT/$name.log"
        wait "$watcher" || true
        build_flag=(--no-build)
        python3 - "$name" "$OUT/$name.json" "$OUT/$name.csv" <<'EOF'
import csv, json, sys
name, run, counters = sys.argv[1:4]
r = json.load(open(run))["rounds"][0]
jit = []
try:
    jit = [float(x["Mean/Increment"]) for x in csv.DictReader(open(counters)) if x["Counter Name"].startswith("dotnet.jit.compilation.time")]
except FileNotFoundError:
    pass
busy = [i + 1 for i, j in enumerate(jit) if j > 0.1]
print(f"{name:28} JIT {sum(jit):5.2f} s in all, above 0.1 s/s until {busy[-1] if busy else 0:3d} s after start | "
      f"delivered {r['delivered']}/{r['expected']} lost {r['lost']} | p50/p99/p99.9 {r['p50Ms']:.1f}/{r['p99Ms']:.1f}/{r['p999Ms']:.1f} ms")
EOF
    done
done
