#!/usr/bin/env bash
# Issuance throughput, edge-acme under `wrangler dev` vs Pebble, in one run on this machine
# (not part of scripts/test.sh). See bench/pebble-compare/compare.py and driver.mjs.
# Usage: bench/pebble-compare/run.sh
# Env:   BENCH_N (200) issuances, BENCH_C (8) concurrency, BENCH_WARMUP (= C),
#        BENCH_POLL_MS (25), BENCH_SERVERS ("edge-acme pebble")
# Logs:  target/test-logs/e2e/{dev-bench-*,pebble-bench-*,bench-*}.log; JSON in target/bench/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
scripts/bootstrap.sh worker pebble-bench
eval "$(scripts/bootstrap.sh env)"
exec python bench/pebble-compare/compare.py "$@"
