#!/usr/bin/env bash
# Builds the Worker (worker/) into worker/build/: index.js (the entry wrangler.toml
# names), index_bg.wasm, and worker/shim.mjs (a compatibility alias); then the static
# site it serves from `/` into worker/build/site/ (scripts/build-site.sh).
# Uses the pinned worker-build, wasm-bindgen, wasm-opt and esbuild from .cache/
# (installed by scripts/bootstrap.sh; worker-build's own downloads from GitHub fail
# offline, so WASM_BINDGEN_BIN / WASM_OPT_BIN / ESBUILD_BIN point at them).
#
# Usage: scripts/build-worker.sh [worker-build args]   (default: --release)
# wrangler runs it as the [build] command of wrangler.toml, on every `wrangler dev`
# start, reload and deploy. worker-build always reruns wasm-bindgen and wasm-opt
# (seconds), so a default build is skipped when cargo's output, the tools and the
# files in worker/build/ are all unchanged since the last one. EDGE_ACME_FORCE_BUILD=1
# always builds.
# Cargo output goes to target/worker/ (unless CARGO_TARGET_DIR is set): cargo locks a
# target directory per profile, and a release wasm32 build of core elsewhere (wasm-pack,
# size benchmarks) would otherwise hold up `wrangler dev` start-up.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/bootstrap.sh" worker
eval "$("$ROOT/scripts/bootstrap.sh" env)"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/worker}
cd "$ROOT/worker"
OUT=build
STAMP=$OUT/.edge-acme-build-stamp

if [ $# -gt 0 ]; then
  rm -f "$STAMP"
  worker-build "$@"
  exec "$ROOT/scripts/build-site.sh"
fi

# The same cargo invocation worker-build makes (same fingerprint): a no-op when
# nothing changed, and otherwise work worker-build would do anyway.
WASM_BINDGEN_USE_JS_SYS=1 cargo build --lib --release --target wasm32-unknown-unknown
artifact="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/edge_acme_worker.wasm"
inputs() { # everything else worker-build reads: its metadata in Cargo.toml, tools, env
  sha256sum "$artifact" Cargo.toml "$ROOT/scripts/build-worker.sh" "$WASM_BINDGEN_BIN" \
    "$WASM_OPT_BIN" "$ESBUILD_BIN" "$(command -v worker-build)" | cut -d' ' -f1
  env | grep -E '^(NO_MINIFY|CUSTOM_SHIM|COREDUMP|COREDUMP_FLAGS|RUN_TO_COMPLETION)=' | sort || true
}
outputs() { sha256sum "$OUT/index.js" "$OUT/index_bg.wasm" 2>/dev/null | cut -d' ' -f1; }
stamp() { { inputs; outputs; } | sha256sum | cut -d' ' -f1; }

if [ "${EDGE_ACME_FORCE_BUILD:-0}" != 1 ] && [ -f "$STAMP" ] && [ -f "$OUT/index.js" ] &&
   [ "$(cat "$STAMP")" = "$(stamp)" ]; then
  echo "build-worker: $OUT/ is up to date"
else
  rm -f "$STAMP"
  worker-build --release
  stamp >"$STAMP"
fi
exec "$ROOT/scripts/build-site.sh"
