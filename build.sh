#!/usr/bin/env bash
# Entry point for developers and CI.
#
#   ./build.sh test [DOTNET TEST ARGS...]   start/reuse the test broker, run the test suite
#                                           e.g. ./build.sh test --filter FullyQualifiedName~Tls
#   ./build.sh broker-start                 start (or reuse) the test broker
#   ./build.sh broker-stop                  stop the test broker
#   ./build.sh demo [--load [N] [M] [RATE]]   two-server websocket chat (docs/demo.md)
#   ./build.sh compare [--quick] [...]      the chat on the layer, on SignalR + Redis and on Akka.Cluster
#                                           DistributedPubSub, side by side (scripts/compare.sh;
#                                           docs/performance.md "Against the alternatives")
#   ./build.sh pack [DOTNET PACK ARGS...]   ChannelsRabbitMq.Akka, .Hosting, .TestKit, .Streams and .OpenTelemetry .nupkg + .snupkg (Release)
#                                           into artifacts/, e.g. ./build.sh pack -p:VersionSuffix=rc.1
#
# `test` runs the whole suite against RabbitMQ 3.10, then the tests that talk to RabbitMQ
# (trait Broker=RabbitMQ) once more, without rebuilding, against RabbitMQ 4.x configured as
# 4.3 ships (docs/broker.md); CHANNELS_RABBITMQ_BROKERS=3 (or 4) runs one pass only. It ends
# with a line "N passed, N failed, N skipped" summing both passes (read by CI) and exits
# non-zero if either pass failed. The brokers are left running so the next run starts quickly.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Sum the counters of every .trx file in the folders given (one file per test project and
# pass) into the summary line.
summarize() {
    local files=() dir f passed=0 failed=0 skipped=0 n
    for dir in "$@"; do
        for f in "$dir"/*.trx; do [[ -e $f ]] && files+=("$f"); done
    done
    if ((${#files[@]} == 0)); then
        echo "no test results were written (build failure?)"
        echo "0 passed, 0 failed, 0 skipped"
        return
    fi
    # <Counters total=".." executed=".." passed=".." failed=".." error=".." ... notExecuted=".." />
    counter() { tr '\n' ' ' <"$1" | grep -o "<Counters [^>]*" | grep -o " $2=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
    for f in "${files[@]}"; do
        n=$(counter "$f" passed); passed=$((passed + n))
        n=$(counter "$f" failed); failed=$((failed + n))
        n=$(counter "$f" error); failed=$((failed + n))
        n=$(counter "$f" timeout); failed=$((failed + n))
        n=$(counter "$f" aborted); failed=$((failed + n))
        n=$(counter "$f" notExecuted); skipped=$((skipped + n))
    done
    echo "$passed passed, $failed failed, $skipped skipped"
}

# The arguments of the 4.x pass: the caller's, with the caller's --filter (if any) narrowed
# to the tests that talk to RabbitMQ.
broker_pass_args() {
    local filter="$BROKER_FILTER" args=()
    while (($#)); do
        case $1 in
            --filter) filter="($2)&$BROKER_FILTER"; shift 2 ;;
            --filter=*) filter="(${1#--filter=})&$BROKER_FILTER"; shift ;;
            *) args+=("$1"); shift ;;
        esac
    done
    printf '%s\0' "${args[@]}" --filter "$filter"
}

BROKER_FILTER="Broker=RabbitMQ"

cmd_test() {
    local brokers=${CHANNELS_RABBITMQ_BROKERS:-3 4}
    local results=$ROOT/artifacts/test-results rc=0 dirs=() started
    rm -rf "$results"
    mkdir -p "$results"
    if [[ " $brokers " == *" 3 "* ]]; then
        scripts/broker.sh --broker 3 start
        # No LogFileName: each test project then writes its own uniquely named .trx.
        (
            eval "$(scripts/broker.sh --broker 3 env)"
            eval "$(scripts/cluster.sh --broker 3 env)"
            dotnet test ChannelsRabbitMq.Akka.sln -c Release \
                --logger "console;verbosity=normal" --logger trx --results-directory "$results/rabbitmq-3.10" "$@"
        ) || rc=$?
        dirs+=("$results/rabbitmq-3.10")
        echo
        echo "RabbitMQ 3.10 pass: $(summarize "$results/rabbitmq-3.10")"
    fi
    if [[ " $brokers " == *" 4 "* ]]; then
        local args=() build=(--no-build)
        mapfile -d '' args < <(broker_pass_args "$@")
        [[ " $brokers " == *" 3 "* ]] || build=()
        started=$SECONDS
        if scripts/broker.sh --broker 4 start; then
            (
                eval "$(scripts/broker.sh --broker 4 env)"
                eval "$(scripts/cluster.sh --broker 4 env)"
                dotnet test ChannelsRabbitMq.Akka.sln -c Release "${build[@]}" \
                    --logger "console;verbosity=normal" --logger trx --results-directory "$results/rabbitmq-4" "${args[@]}"
            ) || rc=$?
        else
            echo "build.sh: the RabbitMQ 4.x broker did not start; its pass did not run" >&2
            rc=1
        fi
        dirs+=("$results/rabbitmq-4")
        echo
        echo "RabbitMQ 4.x pass ($((SECONDS - started)) s): $(summarize "$results/rabbitmq-4")"
    fi
    echo
    summarize "${dirs[@]}"
    return "$rc"
}

case ${1:-} in
    test) shift; scripts/install-browser.sh || echo "build.sh: could not install chromium; the browser test will fail" >&2; cmd_test "$@" ;;
    broker-start) scripts/broker.sh start ;;
    broker-stop) scripts/broker.sh stop ;;
    demo) shift; exec scripts/demo.sh "$@" ;;
    compare) shift; exec scripts/compare.sh "$@" ;;
    pack)
        # docs/packaging.md. ContinuousIntegrationBuild: deterministic paths (/_/) in the PDBs.
        shift
        mkdir -p artifacts
        rm -f artifacts/ChannelsRabbitMq.Akka*.nupkg artifacts/ChannelsRabbitMq.Akka*.snupkg
        for project in src/ChannelsRabbitMq.Akka src/ChannelsRabbitMq.Akka.Hosting src/ChannelsRabbitMq.Akka.TestKit src/ChannelsRabbitMq.Akka.Streams src/ChannelsRabbitMq.Akka.OpenTelemetry; do
            dotnet pack "$project" -c Release -o artifacts -p:ContinuousIntegrationBuild=true "$@"
        done
        ls -l artifacts/ChannelsRabbitMq.Akka*.nupkg artifacts/ChannelsRabbitMq.Akka*.snupkg
        ;;
    *) usage ;;
esac
