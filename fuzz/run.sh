#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 20) each, starting from the committed
# seeds (fuzz/seeds/TARGET) and the corpus earlier runs grew (fuzz/corpus/TARGET, not
# committed). A crash stops the script non-zero; libFuzzer saves the input under
# fuzz/artifacts/TARGET/ and prints how to replay it.
#
#   FUZZ_QUICK=1 bash fuzz/run.sh 10   # what CI runs: no sanitizer, a profile quick to build
#   bash fuzz/run.sh 3600               # an hour each, with AddressSanitizer
#   FUZZ_TARGETS=roster_csv bash fuzz/run.sh 600
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-20}"
CARGO_FUZZ_VERSION=0.13.2
if ! command -v cargo-fuzz >/dev/null || ! cargo fuzz --version | grep -q "$CARGO_FUZZ_VERSION"; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
targets=(${FUZZ_TARGETS:-hub_requests activity node_responses roster_csv})

# Quick: a short run finds panics, not memory errors (the workspace forbids unsafe code), so
# CI skips the sanitizer and builds with several codegen units at opt-level 1, cheaper to
# build than the default single-unit optimised AddressSanitizer build (which needs nightly).
# Without a sanitizer nothing needs nightly: the quick mode builds with the default toolchain.
if [ -n "${FUZZ_QUICK:-}" ]; then
    toolchain=()
    flags=(--sanitizer none --codegen-units 16)
    export CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=0
else
    toolchain=(+nightly)
    flags=()
fi
cargo "${toolchain[@]}" fuzz build "${flags[@]}"
mkdir -p fuzz/artifacts
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    log="fuzz/artifacts/$t.log"
    if cargo "${toolchain[@]}" fuzz run "${flags[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
        cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 || true)
        echo "fuzz: $t ${secs}s, $runs runs, $cov, no crash"
    else
        tail -n 60 "$log"
        echo "fuzz: $t FAILED; the input is under fuzz/artifacts/$t/, the log in $log"
        exit 1
    fi
done
