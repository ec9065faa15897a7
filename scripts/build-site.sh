#!/usr/bin/env bash
# Builds the static site the Worker serves from `/` (wrangler.toml [assets]) into
# worker/build/site/: the browser certificate tool (js/tool/index.html as index.html)
# with the npm package's dist/ and wasm/ beside it, laid out as in js/ so the page's
# `../dist/index.js` import resolves to /dist/index.js, plus js/tool/_headers.
# The package is rebuilt (js/build.sh, Cargo output in target/js/) only when a source
# it is made from is newer than its wasm or JavaScript; files are copied only when they
# differ, so an unchanged site does not make `wrangler dev` reload.
# scripts/build-worker.sh runs this after the Worker build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/bootstrap.sh" site
eval "$("$ROOT/scripts/bootstrap.sh" env)"
JS=$ROOT/js
SITE=$ROOT/worker/build/site

stale() { # true when an output is missing or a source is newer than the oldest output
  local out oldest=
  for out in "$JS/wasm/edge_acme_bg.wasm" "$JS/wasm/edge_acme.js" "$JS/dist/index.js" "$JS/dist/client.js"; do
    [ -f "$out" ] || return 0
    if [ -z "$oldest" ] || [ "$out" -ot "$oldest" ]; then oldest=$out; fi
  done
  [ -n "$(find "$ROOT/core/src" "$ROOT/core/Cargo.toml" "$JS/src" "$JS/Cargo.toml" "$JS/build.sh" \
    "$JS/tsconfig.json" "$JS/package.json" "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" -newer "$oldest" -print -quit)" ]
}
if stale; then
  echo "build-site: building the npm package (js/build.sh)"
  CARGO_TARGET_DIR="$ROOT/target/js" sh "$JS/build.sh"
fi

put() { # copies $1 to $SITE/$2 when the content differs
  local dest=$SITE/$2
  cmp -s "$1" "$dest" 2>/dev/null && return 0
  mkdir -p "$(dirname "$dest")"
  cp "$1" "$dest.tmp" && mv "$dest.tmp" "$dest"
}
put "$JS/tool/index.html" index.html
put "$JS/tool/_headers" _headers
for f in "$JS"/dist/*.js; do put "$f" "dist/$(basename "$f")"; done
put "$JS/wasm/edge_acme.js" wasm/edge_acme.js
put "$JS/wasm/edge_acme_bg.wasm" wasm/edge_acme_bg.wasm
