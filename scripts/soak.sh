#!/usr/bin/env bash
# Long soak of the reliability suite (docs/reliability.md), with a hard time limit.
#
#   scripts/soak.sh [KILLS] [MAX_MINUTES]
#
# Runs every test of tests/ChannelsRabbitMq.Akka.Tests/Reliability once, with the broker-side
# kill test raised to KILLS kills per queue mode (default 500; the suite uses 50 and 12), and
# stops everything after MAX_MINUTES (default 30) whatever happens. A kill costs about 1-1.5 s
# (one rabbitmqctl call plus the recovery), so 500 kills take about 10-12 minutes per mode.
# The figures of every test are appended to artifacts/reliability/soak-<UTC time>.txt and
# printed at the end. Needs root (the brokers run as the rabbitmq user), like build.sh test.
#
# Environment: CHANNELS_RABBITMQ_SOAK_KILLS, CHANNELS_RABBITMQ_SOAK_MINUTES (same as the
# arguments); CHANNELS_RABBITMQ_SOAK_CONFIGURATION (Release).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

KILLS=${1:-${CHANNELS_RABBITMQ_SOAK_KILLS:-500}}
MINUTES=${2:-${CHANNELS_RABBITMQ_SOAK_MINUTES:-30}}
CONFIGURATION=${CHANNELS_RABBITMQ_SOAK_CONFIGURATION:-Release}
[[ $KILLS =~ ^[1-9][0-9]*$ ]] || { echo "soak: KILLS must be a positive integer" >&2; exit 2; }
[[ $MINUTES =~ ^[1-9][0-9]*$ ]] || { echo "soak: MAX_MINUTES must be a positive integer" >&2; exit 2; }

REPORT_DIR=$ROOT/artifacts/reliability
REPORT=$REPORT_DIR/soak-$(date -u +%Y%m%dT%H%M%SZ).txt
mkdir -p "$REPORT_DIR"

# The dedicated cluster is deleted by the tests' fixture; if the time limit cuts the run
# short, the fixture never gets to it.
cleanup() { scripts/cluster.sh reset >/dev/null 2>&1 || true; }
trap cleanup EXIT

scripts/broker.sh start
eval "$(scripts/broker.sh env)"
export CHANNELS_RABBITMQ_RELIABILITY_KILLS=$KILLS
export CHANNELS_RABBITMQ_RELIABILITY_REPORT=$REPORT

{
    echo "soak: $KILLS kills per queue mode, limit $MINUTES min, $(date -u)"
    echo "host: $(nproc) cores, $(uname -r)"
} >"$REPORT"

dotnet build tests/ChannelsRabbitMq.Akka.Tests -c "$CONFIGURATION" -v quiet -nologo
rc=0
timeout --kill-after=60 "$((MINUTES * 60))" \
    dotnet test tests/ChannelsRabbitMq.Akka.Tests -c "$CONFIGURATION" --no-build \
        --filter "FullyQualifiedName~ChannelsRabbitMq.Akka.Tests.Reliability" \
        --logger "console;verbosity=normal" || rc=$?
if ((rc == 124 || rc == 137)); then
    echo "soak: stopped by the time limit ($MINUTES min)" | tee -a "$REPORT"
fi

echo
echo "---- figures ($REPORT)"
cat "$REPORT"
exit "$rc"
