#!/usr/bin/env bash
# Installs the pinned npm packages of the Worker tests (jose, dns-packet) from the
# committed package-lock.json with `npm ci`, once per version of the lock file (a stamp
# in node_modules/). Called by scripts/test.sh (parts worker and js: js/test imports
# tests/worker/lib.mjs's responders).
set -euo pipefail
cd "$(dirname "$0")"
stamp="node_modules/.stamp-$(sha256sum package-lock.json | cut -c1-16)"
[ -f "$stamp" ] && exit 0
npm ci --silent --no-audit --no-fund
touch "$stamp"
