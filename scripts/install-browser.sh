#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver (headless browser + WebDriver) for the demo's
# browser test, when missing. Needs root; quiet; does nothing when both are installed.
set -euo pipefail

PACKAGES=(chromium chromium-driver)

log() { echo "browser: $*" >&2; }

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) != 0 ]]; then
    log "missing ${missing[*]}; run as root, or: sudo apt-get install -y ${missing[*]}"
    exit 1
fi
log "installing ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Quiet, but show apt's output when it fails.
{ apt-get update -qq && apt-get install -y -qq "${missing[@]}"; } >"$out" 2>&1 || { cat "$out" >&2; log "apt-get failed"; exit 1; }
