#!/usr/bin/env bash
# `wrangler deploy --dry-run --outdir`: proves the Worker bundle builds for deployment
# (offline, no account needed) and prints its size; fails above the 1 MiB gzip budget.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
eval "$(scripts/bootstrap.sh env)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
wrangler deploy --dry-run --outdir "$out" >"$out.log" 2>&1 || { cat "$out.log"; rm -f "$out.log"; exit 1; }
rm -f "$out.log"
raw=$(find "$out" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.mjs' \) -printf '%s\n' | awk '{s+=$1} END {print s+0}')
gz=$(find "$out" -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.mjs' \) -exec cat {} + | gzip -9 | wc -c)
budget=$((1024 * 1024))
echo "worker bundle: $raw bytes raw, $gz bytes gzip -9 (budget $budget gzip)"
[ "$gz" -le "$budget" ]
