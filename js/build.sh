#!/bin/sh
# Builds the npm package in place: the wasm core with wasm-pack (web target) into wasm/,
# then the TypeScript entries and client with tsc into dist/. Needs the pinned
# wasm-pack, wasm-bindgen and wasm-opt on PATH: eval "$(scripts/bootstrap.sh env)".
# Cargo output goes to target/js/ so this build never waits on another crate's lock.
set -eu
JS=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$JS")
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/js}"
cd "$JS"
wasm-pack --quiet build . --target web --out-dir wasm --out-name edge_acme --release --no-pack
# wasm-pack's own .gitignore ("*") would make npm pack skip the wasm files.
rm -f wasm/.gitignore wasm/package.json wasm/README.md
node node_modules/typescript/bin/tsc -p tsconfig.json
