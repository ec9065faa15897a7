#!/usr/bin/env bash
# Micro-benchmark: ES256 and RS256 JWS verification and HS256 EAB verification, each as
# core native, core compiled to wasm (run in Node), and Node's WebCrypto, in one run, with
# ratios. Not part of scripts/test.sh; no timing is asserted anywhere.
# Env: BENCH_SECONDS (per round, default 0.5), BENCH_ROUNDS (default 5). Builds use the
# release profile that ships (opt-level "z", LTO); CARGO_PROFILE_RELEASE_OPT_LEVEL=3
# measures speed-optimized code instead.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/bootstrap.sh wasm
eval "$(scripts/bootstrap.sh env)"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT="$TARGET/bench"
mkdir -p "$OUT"

echo "building (release)..." >&2
cargo build -q --release -p edge-acme-bench
cargo build -q --release -p edge-acme-bench-wasm --target wasm32-unknown-unknown
wasm-bindgen --target nodejs --out-dir "$OUT/wasm" \
  "$TARGET/wasm32-unknown-unknown/release/edge_acme_bench_wasm.wasm"
echo "wasm module: $(wc -c < "$OUT/wasm/edge_acme_bench_wasm_bg.wasm") bytes," \
  "$(gzip -9c "$OUT/wasm/edge_acme_bench_wasm_bg.wasm" | wc -c) gzipped" >&2

node bench/bench.mjs workload "$OUT/workload.json"
echo "measuring native..." >&2
"$TARGET/release/edge-acme-bench" "$OUT/workload.json" > "$OUT/native.json"
echo "measuring wasm and WebCrypto..." >&2
node bench/bench.mjs run "$OUT/workload.json" "$OUT/native.json" "$OUT/wasm"
