#!/usr/bin/env bash
# Smoke test of the Worker under `wrangler dev` (tests/worker/smoke.test.mjs): starts
# scripts/dev.sh on free ports with a fresh state directory, checks the Durable Object
# atomic operations under 50 parallel requests, KV, alarms, fetch() to loopback and
# persistence across a restart, then stops everything. Exits non-zero on failure.
# Installs the tools first (outside the test's timeouts; dev.sh builds the Worker).
# Extra args go to `node --test`, e.g. --test-reporter=tap.
# Logs: target/test-logs/worker-smoke-dev-*.log.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/bootstrap.sh worker
eval "$(scripts/bootstrap.sh env)"
tests/worker/install.sh
exec node --test "$@" tests/worker/smoke.test.mjs
