#!/usr/bin/env bash
# Checks deploy/systemd/*.service with `systemd-analyze verify`.
#
#   bash deploy/verify-units.sh [BINARY]
#
# The units run /usr/local/bin/yanpei, which a build machine usually lacks, so
# the script verifies copies whose ExecStart names BINARY instead (default
# /bin/true; pass target/release/yanpei to check against a real build).
# It fails if systemd-analyze reports anything about the units themselves.
# Without systemd-analyze it prints a loud notice and succeeds.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "######################################################################" >&2
    echo "# SKIPPING unit verification: systemd-analyze not found" >&2
    echo "######################################################################" >&2
    exit 0
fi

bin="${1:-/bin/true}"
if [[ ! -f "$bin" || ! -x "$bin" ]]; then
    echo "verify-units: $bin is not an executable file" >&2
    exit 2
fi
bin="$(realpath "$bin")"
if [[ "$bin" =~ [[:space:]] ]]; then
    echo "verify-units: the binary's path must not contain whitespace: $bin" >&2
    exit 2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

units=()
escaped="$(printf '%s' "$bin" | sed 's/[\\|&]/\\&/g')"
for unit in deploy/systemd/*.service; do
    name="$(basename "$unit")"
    sed "s|/usr/local/bin/yanpei|$escaped|g" "$unit" >"$tmp/$name"
    units+=("$name")
done
if [[ ${#units[@]} -eq 0 ]]; then
    echo "verify-units: no units found in deploy/systemd/" >&2
    exit 1
fi

status=0
output="$(systemd-analyze verify --man=no "$tmp"/*.service 2>&1)" || status=$?
[[ -n "$output" ]] && printf '%s\n' "$output"

# Lines about other units on this machine (their own warnings) are shown but
# do not fail the check; any line naming one of ours does.
bad=()
for name in "${units[@]}"; do
    if grep -F -- "$name" <<<"$output" >/dev/null; then
        bad+=("$name")
    fi
done

if [[ ${#bad[@]} -ne 0 ]]; then
    echo "verify-units: systemd-analyze reported problems in ${bad[*]}" >&2
    exit 1
fi
if [[ $status -ne 0 ]]; then
    echo "verify-units: systemd-analyze verify failed (exit $status)" >&2
    exit 1
fi
echo "verify-units: ${units[*]} OK (ExecStart checked against $bin)"
