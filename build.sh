#!/usr/bin/env bash
# Entry point for developers and CI.
#
#   ./build.sh test [DOTNET TEST ARGS...]   start/reuse the test broker, run the test suite
#                                           e.g. ./build.sh test --filter FullyQualifiedName~Tls
#   ./build.sh broker-start                 start (or reuse) the test broker
#   ./build.sh broker-stop                  stop the test broker
#   ./build.sh demo [--load [N] [M] [RATE]]   two-server websocket chat (docs/demo.md)
#   ./build.sh pack [DOTNET PACK ARGS...]   ChannelsRabbitMq.Akka and .TestKit .nupkg + .snupkg (Release)
#                                           into artifacts/, e.g. ./build.sh pack -p:VersionSuffix=rc.1
#
# `test` ends with a line "N passed, N failed, N skipped" (read by CI) and exits with
# dotnet test's exit code. The broker is left running so the next run starts quickly.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Sum the counters of every .trx file in $1 (one per test project) into the summary line.
summarize() {
    local files=("$1"/*.trx) f passed=0 failed=0 skipped=0 n
    if [[ ! -e ${files[0]} ]]; then
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

cmd_test() {
    scripts/broker.sh start
    eval "$(scripts/broker.sh env)"
    local results=$ROOT/artifacts/test-results rc=0
    rm -rf "$results"
    mkdir -p "$results"
    # No LogFileName: each test project then writes its own uniquely named .trx.
    dotnet test ChannelsRabbitMq.Akka.sln -c Release \
        --logger "console;verbosity=normal" --logger trx --results-directory "$results" \
        "$@" || rc=$?
    echo
    summarize "$results"
    return "$rc"
}

case ${1:-} in
    test) shift; scripts/install-browser.sh || echo "build.sh: could not install chromium; the browser test will fail" >&2; cmd_test "$@" ;;
    broker-start) scripts/broker.sh start ;;
    broker-stop) scripts/broker.sh stop ;;
    demo) shift; exec scripts/demo.sh "$@" ;;
    pack)
        # docs/packaging.md. ContinuousIntegrationBuild: deterministic paths (/_/) in the PDBs.
        shift
        mkdir -p artifacts
        rm -f artifacts/ChannelsRabbitMq.Akka*.nupkg artifacts/ChannelsRabbitMq.Akka*.snupkg
        for project in src/ChannelsRabbitMq.Akka src/ChannelsRabbitMq.Akka.TestKit; do
            dotnet pack "$project" -c Release -o artifacts -p:ContinuousIntegrationBuild=true "$@"
        done
        ls -l artifacts/ChannelsRabbitMq.Akka*.nupkg artifacts/ChannelsRabbitMq.Akka*.snupkg
        ;;
    *) usage ;;
esac
