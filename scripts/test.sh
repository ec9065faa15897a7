#!/usr/bin/env bash
# The project's one test command. Installs what it needs (scripts/bootstrap.sh, pinned,
# cached in .cache/), then runs each part, prints one result line per step, and ends
# with the line "N passed, M failed". Exits non-zero if anything failed.
#
# Usage: scripts/test.sh [PART]...        (no PART: all of them, in this order)
#   fmt      cargo fmt --check
#   clippy   clippy -D warnings, native (whole workspace, all targets) and wasm32 (core)
#   build    core for wasm32v1-none and wasm32-unknown-unknown
#   core     cargo test (nextest when installed) for the whole workspace
#   wasm     wasm-pack test --node core (core/tests/wasm_jose.rs under Node)
#   interop  vectors from josepy/acme and npm jose verified by core, and the reverse
#   fuzz     builds core/fuzz (cargo fuzz build), when it exists
#   worker   node:test against the Worker under wrangler dev (tests/worker): ACME over
#            HTTPS, concurrency on the Durable Objects, restart persistence, admin API
#   e2e      certbot, lego and acme-client against the Worker under wrangler dev (tests/e2e)
#   backends the Worker in front of other CAs (tests/backends): Pebble, a second edge-acme,
#            CFSSL; outages, a wrong back end, a restart mid-issuance, revocation, latency
#   js       the npm package (js/): build (wasm-pack + tsc), wasm32 clippy, wasm-pack tests
#            in Node and headless Chromium, node:test cross-checks (openssl, npm jose,
#            WebCrypto), the client against the Worker, and the packed tarball installed
#            offline and run in Node, Chromium and workerd; Playwright drives the
#            browser tool (js/tool/) through an issuance (screenshot in target/test-logs/)
#   lint = fmt clippy
# Counting: test runners count their own tests (cargo/nextest/pytest/node summaries);
# every lint or build step counts as one test. Full logs: target/test-logs/.
# VERBOSE=1 streams every log to the terminal as well.
# The whole script is one function so that editing this file during a run cannot
# change what the running shell reads next.
main() {
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export CARGO_TERM_COLOR=never
LOGS="$ROOT/target/test-logs"
mkdir -p "$LOGS"

ALL_PARTS=(fmt clippy build core wasm interop fuzz worker e2e js backends)
PARTS=()
for arg in "$@"; do
  case "$arg" in
    all) PARTS+=("${ALL_PARTS[@]}") ;;
    lint) PARTS+=(fmt clippy) ;;
    fmt|clippy|build|core|wasm|interop|fuzz|worker|e2e|js|backends) PARTS+=("$arg") ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "scripts/test.sh: unknown part '$arg' (try --help)" >&2; exit 2 ;;
  esac
done
want() { local p; for p in "${PARTS[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }

TOTAL_PASSED=0
TOTAL_FAILED=0
START=$SECONDS

# --- summary parsers: each prints "PASSED FAILED" for one log --------------------------
count_cargo() { # libtest and wasm-bindgen-test-runner: "test result: ok. 3 passed; 0 failed"
  awk '/test result: (ok|FAILED)\./ { for (i = 1; i <= NF; i++) {
         if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
       END { print p+0, f+0 }' "$1"
}
count_nextest() { # "Summary [ 1.2s] 45 tests run: 43 passed, 2 failed, 0 skipped"
  awk '/Summary \[.*tests? run:/ { s = $0; sub(/.*run: /, "", s); n = split(s, a, /, /);
         for (i = 1; i <= n; i++) { split(a[i], w, " ");
           if (w[2] == "passed") p += w[1]; else if (w[2] == "failed" || w[2] == "timed") f += w[1] } }
       END { print p+0, f+0 }' "$1"
}
count_tap() { # node --test --test-reporter=tap: "# pass 12" / "# fail 0"
  awk '/^# pass [0-9]+$/ { p += $3 } /^# fail [0-9]+$/ { f += $3 } END { print p+0, f+0 }' "$1"
}
count_pytest() { # last line, "==== 2 failed, 10 passed, 1 error in 0.52s ====" (or bare with -q)
  awk '/(passed|failed|error|errors|no tests ran).* in [0-9.]+s/ { line = $0 }
       END { n = split(line, w, /[ ,=]+/); for (i = 2; i <= n; i++) {
               if (w[i] == "passed") p += w[i-1];
               if (w[i] == "failed" || w[i] == "error" || w[i] == "errors") f += w[i-1] }
             print p+0, f+0 }' "$1"
}

# run_step NAME KIND CMD...: KIND is check (one test: the exit code), or the runner whose
# summary to parse (cargo, nextest, tap, pytest). A runner that exits non-zero without
# reporting a failed test (a build error, a crash) counts as one failed test, and so does
# a runner that ran no test at all, unless KIND ends in ":any" (doctests may be none).
run_step() {
  local name=$1 kind=$2; shift 2
  local log="$LOGS/$name.log" t0=$SECONDS rc p f
  if [ "${VERBOSE:-0}" = 1 ]; then "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  else "$@" >"$log" 2>&1; rc=$?; fi
  if [ "$kind" = check ]; then
    if [ $rc -eq 0 ]; then p=1 f=0; else p=0 f=1; fi
  else
    read -r p f < <("count_${kind%:any}" "$log")
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ $rc -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$kind" = "${kind%:any}" ]; then f=1; echo "  ($name ran no test)" >>"$log"; fi
  fi
  TOTAL_PASSED=$((TOTAL_PASSED + p)); TOTAL_FAILED=$((TOTAL_FAILED + f))
  local status=ok; [ "$f" -ne 0 ] && status=FAIL
  printf '%-4s %-26s %4d passed, %d failed  (%ds)\n' "$status" "$name" "$p" "$f" $((SECONDS - t0))
  if [ "$status" = FAIL ] && [ "${VERBOSE:-0}" != 1 ]; then
    echo "---- last lines of $log ----"; tail -n 40 "$log" | sed 's/^/  | /'; echo "----"
  fi
  return 0
}

# --- tools --------------------------------------------------------------------------------
NEEDS=(rust)
want wasm && NEEDS+=(wasm)
want interop && NEEDS+=(interop)
want fuzz && [ -d core/fuzz ] && NEEDS+=(fuzz)
want worker && NEEDS+=(worker)
want e2e && NEEDS+=(worker e2e)
want backends && NEEDS+=(backends)
want js && NEEDS+=(worker js)
[ -d "${EDGE_ACME_CACHE:-$ROOT/.cache}/cargo-tools" ] ||
  echo "first run: scripts/bootstrap.sh ${NEEDS[*]} installs pinned tools into .cache/ (several minutes)"
run_step bootstrap check scripts/bootstrap.sh "${NEEDS[@]}"
eval "$(scripts/bootstrap.sh env)"

# --- parts --------------------------------------------------------------------------------
part_fmt() { run_step fmt check cargo fmt --all --check -- --color never; }

part_clippy() {
  run_step clippy-native check cargo clippy --workspace --all-targets -- -D warnings
  run_step clippy-wasm32 check \
    cargo clippy -p edge-acme-core --target wasm32-unknown-unknown --lib --test wasm_jose -- -D warnings
}

part_build() {
  run_step build-wasm32v1-none check cargo build -p edge-acme-core --target wasm32v1-none
  run_step build-wasm32-unknown check cargo build -p edge-acme-core --target wasm32-unknown-unknown
}

part_core() {
  if cargo nextest --version >/dev/null 2>&1; then
    run_step core-nextest nextest cargo nextest run --workspace --no-fail-fast --no-tests=pass
    run_step core-doctests cargo:any cargo test --workspace --doc
  else
    run_step core-cargo-test cargo cargo test --workspace --no-fail-fast
  fi
}

part_wasm() { run_step wasm-pack-node cargo wasm-pack test --node core --test wasm_jose; }

part_interop() {
  local out="$ROOT/target/interop"
  mkdir -p "$out"
  # Fresh keys and signatures from the peer libraries on every run.
  run_step interop-gen-josepy check python tests/interop/gen_vectors.py "$out/josepy.json"
  run_step interop-gen-npm-jose check node tests/interop/gen_vectors.mjs "$out/npm-jose.json"
  EDGE_ACME_INTEROP_DIR="$out" run_step interop-core-verifies cargo \
    cargo test -p edge-acme-core --test interop
  # The reverse: objects signed by core, verified by josepy/acme and npm jose.
  run_step interop-core-emits check \
    sh -c "cargo run -q -p edge-acme-core --example emit_vectors > '$out/core.json'"
  EDGE_ACME_CORE_VECTORS="$out/core.json" run_step interop-josepy-verifies pytest \
    python -m pytest -q -p no:cacheprovider tests/interop/test_core_vectors.py
  EDGE_ACME_CORE_VECTORS="$out/core.json" run_step interop-npm-jose-verifies tap \
    node --test --test-reporter=tap tests/interop/verify_core.test.mjs
}

# --- part e2e: real ACME clients end to end (tests/e2e, pytest; owner: the e2e suite) ---
# One pytest run: the test network (DNS, DoH, http-01 responder), scripts/dev.sh on fresh
# ports with temporary state (and a second, EAB-required instance), then certbot (PyPI and
# Debian), lego and acme-client scenarios, each its own test case. E2E_SERVER=pebble runs
# the same suite against Pebble. Per-test client logs: target/test-logs/e2e/.
part_e2e() {
  run_step e2e pytest python -m pytest -p no:cacheprovider -v -rfEsxX --durations=10 tests/e2e
}

# --- part worker: the Worker under wrangler dev (tests/worker, node:test) ---------------
# Builds the Worker once, installs the pinned npm packages of tests/worker (npm ci from its
# lock file), then runs every tests/worker/*.test.mjs, one file at a time: each starts its
# own scripts/dev.sh on fresh ports with temporary state (serving that build) and stops
# it. Dev server logs: target/test-logs/worker-*-dev-*.log.
part_worker() {
  local failed=$TOTAL_FAILED
  run_step worker-build check scripts/build-worker.sh
  run_step worker-npm-ci check tests/worker/install.sh
  if [ "$TOTAL_FAILED" -ne "$failed" ]; then
    echo "skip worker-node                    (the Worker did not build or npm ci failed)"
    return
  fi
  run_step worker-bundle-size check scripts/bundle-size.sh
  grep -h "worker bundle:" "$LOGS/worker-bundle-size.log" || true
  EDGE_ACME_DEV_SKIP_BUILD=1 run_step worker-node tap \
    node --test --test-reporter=tap --test-concurrency=1 tests/worker/*.test.mjs
}

# --- part js: the npm package (js/; owner: the js package) --------------------------------
# Cargo output in target/js/ (as js/build.sh does), so these builds never wait on the
# workspace's target/ lock. The client test starts its own Worker (scripts/dev.sh).
part_js() {
  local t="$ROOT/target/js"
  CARGO_TARGET_DIR="$t" run_step js-build check sh js/build.sh
  # The client tests share the Worker tests' http-01 and DoH servers (and their packages).
  run_step js-worker-npm-ci check tests/worker/install.sh
  CARGO_TARGET_DIR="$t" run_step js-clippy-wasm32 check \
    cargo clippy -p edge-acme-js --target wasm32-unknown-unknown --all-targets -- -D warnings
  CARGO_TARGET_DIR="$t" run_step js-wasm-pack-node cargo wasm-pack test --node js --test node
  CARGO_TARGET_DIR="$t" run_step js-wasm-pack-chrome cargo \
    wasm-pack test --headless --chrome js --test browser
  run_step js-node-wasm tap node --test --test-reporter=tap js/test/wasm.test.mjs
  run_step js-node-client tap node --test --test-reporter=tap js/test/client.test.mjs
  run_step js-node-pack tap node --test --test-reporter=tap js/test/pack.test.mjs
  run_step js-browser-tool tap node --test --test-reporter=tap js/test/tool.test.mjs
}

# --- part backends: CA back ends behind the Worker (tests/backends, pytest) -------------
# Starts Pebble, CFSSL (real and fake), a second edge-acme as upstream, and the front end
# (scripts/dev.sh with ISSUERS/PROFILES), each on fresh ports with temporary state; prints
# the issuance latency per connector (also in target/test-logs/backends/latency.json).
part_backends() {
  run_step backends pytest python -m pytest -p no:cacheprovider -v -rfEs tests/backends
}

part_fuzz() {
  if [ ! -d core/fuzz ]; then echo "skip fuzz                           (core/fuzz does not exist yet)"; return; fi
  run_step fuzz-build check sh -c 'cd core && RUSTC_BOOTSTRAP=1 cargo fuzz build'
}

for part in "${PARTS[@]}"; do "part_$part"; done

echo "test.sh: parts ${PARTS[*]} in $((SECONDS - START))s; logs in target/test-logs/"
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" -eq 0 ]
}

[ $# -eq 0 ] && set -- all
# One line: bash has parsed the `exit` before main runs, so an edit of this file during
# the run cannot make the shell read a shifted line afterwards.
main "$@"; exit
