#!/usr/bin/env bash
# Runs edge-acme locally over HTTPS: `wrangler dev --local` (the real workerd runtime
# with local KV and SQLite Durable Objects), built by scripts/build-worker.sh through
# wrangler.toml's [build]. A development TLS CA and a server certificate for
# localhost/127.0.0.1/::1 are generated into dev-state/tls/ on first run and reused.
#
# Usage: scripts/dev.sh [extra wrangler dev args]
# Env:   EDGE_ACME_PORT            listen port (8787), always on 127.0.0.1
#        EDGE_ACME_INSPECTOR_PORT  devtools port (EDGE_ACME_PORT + 10000)
#        EDGE_ACME_PERSIST_TO      local KV/DO state (.wrangler/state)
#        EDGE_ACME_DEV_STATE       TLS material and other dev state (dev-state)
#        EDGE_ACME_READY_TIMEOUT   seconds to wait for /health (300: a cold build is slow)
#        EDGE_ACME_DEV_WATCH       1 (default): wrangler rebuilds and reloads when worker/src
#                                  or core/src change. 0: build once, then serve that build
#                                  without watching (tests: no reload in the middle of a run)
#        EDGE_ACME_DEV_SKIP_BUILD  1 with EDGE_ACME_DEV_WATCH=0: serve worker/build/ as it is
#        EDGE_ACME_HTTP01_ADDR     dev/test only: send every http-01 check to this host:port
#                                  (e.g. 127.0.0.1:5002), whatever the name; unset: port 80
#        EDGE_ACME_DOH_URL         DNS-over-HTTPS resolver for dns-01 and CAA
#                                  (e.g. http://127.0.0.1:8053/dns-query); unset: public DoH
#        EDGE_ACME_EAB_REQUIRED    true: newAccount needs an external account binding
#        EDGE_ACME_SKIP_CAA        true: no CAA lookups (offline use without a DoH server)
# Prints, once the directory answers over HTTPS:
#        edge-acme dev: ready base_url=https://127.0.0.1:PORT ca_bundle=/abs/ca.pem
# and writes $EDGE_ACME_DEV_STATE/dev.json with the directory URL, the TLS CA bundle,
# the ACME root, the admin token and one ready EAB credential (see README).
# SIGINT/SIGTERM/SIGHUP stop wrangler and every process it started, then exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PORT=${EDGE_ACME_PORT:-8787}
if [ -n "${EDGE_ACME_INSPECTOR_PORT:-}" ]; then INSPECTOR_PORT=$EDGE_ACME_INSPECTOR_PORT
elif [ "$PORT" -le 55535 ]; then INSPECTOR_PORT=$((PORT + 10000))
else INSPECTOR_PORT=$((PORT - 10000)); fi
PERSIST_TO=$(realpath -m "${EDGE_ACME_PERSIST_TO:-$ROOT/.wrangler/state}")
DEV_STATE=$(realpath -m "${EDGE_ACME_DEV_STATE:-$ROOT/dev-state}")
READY_TIMEOUT=${EDGE_ACME_READY_TIMEOUT:-300}
TLS=$DEV_STATE/tls
BASE_URL="https://127.0.0.1:$PORT"

log() { printf 'edge-acme dev: %s\n' "$*"; }

"$ROOT/scripts/bootstrap.sh" worker
eval "$("$ROOT/scripts/bootstrap.sh" env)"
export WRANGLER_SEND_ERROR_REPORTS=false

# --- development TLS: CA (10 years) and server certificate (1 year), EC P-256 -----------
valid_for_a_day() { [ -s "$1" ] && openssl x509 -checkend 86400 -noout -in "$1" >/dev/null 2>&1; }

make_tls() {
  mkdir -p "$TLS"
  chmod 700 "$DEV_STATE" "$TLS"
  local tmp; tmp=$(mktemp -d "$TLS/.new.XXXXXX")
  local renew_server=0
  if ! valid_for_a_day "$TLS/ca.pem" || [ ! -s "$TLS/ca.key" ]; then
    log "generating development CA in $TLS"
    (umask 077 && openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days 3650 -sha256 \
      -subj "/O=edge-acme development/CN=edge-acme development CA" \
      -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash" 2>/dev/null)
    mv "$tmp/ca.key" "$TLS/ca.key"
    mv "$tmp/ca.pem" "$TLS/ca.pem"
    renew_server=1
  fi
  if [ $renew_server = 1 ] || ! valid_for_a_day "$TLS/server.pem" || [ ! -s "$TLS/server.key" ]; then
    log "generating server certificate for localhost, 127.0.0.1, ::1"
    cat >"$tmp/ext.cnf" <<'EOT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
authorityKeyIdentifier = keyid
EOT
    (umask 077 && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "$tmp/server.key" -out "$tmp/server.csr" -subj "/CN=localhost" 2>/dev/null)
    openssl x509 -req -in "$tmp/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -days 365 -sha256 \
      -extfile "$tmp/ext.cnf" -out "$tmp/server.pem" 2>/dev/null
    mv "$tmp/server.key" "$TLS/server.key"
    mv "$tmp/server.pem" "$TLS/server.pem"
  fi
  rm -rf "$tmp"
}
make_tls

# --- development secrets (admin token, EAB master secret), made once ---------------------
SECRETS=$DEV_STATE/secrets.env
if [ ! -s "$SECRETS" ]; then
  (umask 077 && printf 'ADMIN_TOKEN=%s\nEAB_MASTER_SECRET=%s\n' "$(openssl rand -hex 24)" \
    "$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')" >"$SECRETS")
fi
ADMIN_TOKEN=$(sed -n 's/^ADMIN_TOKEN=//p' "$SECRETS")
EAB_MASTER_SECRET=$(sed -n 's/^EAB_MASTER_SECRET=//p' "$SECRETS")
ACME_VARS=(--var "DEV_CA:1" --var "ADMIN_TOKEN:$ADMIN_TOKEN" --var "EAB_MASTER_SECRET:$EAB_MASTER_SECRET"
  --var "CAA_IDENTITIES:${EDGE_ACME_CAA_IDENTITIES:-edge-acme.test}")
[ -z "${EDGE_ACME_HTTP01_ADDR:-}" ] || ACME_VARS+=(--var "HTTP01_ADDR:$EDGE_ACME_HTTP01_ADDR")
[ -z "${EDGE_ACME_DOH_URL:-}" ] || ACME_VARS+=(--var "DOH_URL:$EDGE_ACME_DOH_URL")
[ "${EDGE_ACME_EAB_REQUIRED:-false}" != true ] || ACME_VARS+=(--var "EAB_REQUIRED:true")
[ "${EDGE_ACME_SKIP_CAA:-false}" != true ] || ACME_VARS+=(--var "SKIP_CAA:true")

# --- wrangler dev ------------------------------------------------------------------------
WPID=
NOWATCH_CONFIG=
descendants() { # all processes below $1, children first discovered
  local kid
  for kid in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$kid"
    descendants "$kid"
  done
}
stop() {
  [ -n "$WPID" ] || return 0
  local pids; pids=$(descendants "$WPID")
  if kill -0 "$WPID" 2>/dev/null; then
    kill -TERM "$WPID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$WPID" 2>/dev/null || break; sleep 0.1; done
  fi
  # Whatever wrangler left behind (workerd, esbuild, cargo from a rebuild).
  for pid in $WPID $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  wait "$WPID" 2>/dev/null || true
  WPID=
}
cleanup() { stop; [ -z "$NOWATCH_CONFIG" ] || rm -f "$NOWATCH_CONFIG"; [ -z "${BUILD_COPY:-}" ] || rm -rf "$BUILD_COPY"; }
on_signal() { trap - INT TERM HUP; log "stopping"; cleanup; exit "$1"; }
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP
trap cleanup EXIT

CONFIG_ARGS=()
if [ "${EDGE_ACME_DEV_WATCH:-1}" = 0 ]; then
  # wrangler has no flag to skip [build] or its watcher: serve a copy of wrangler.toml
  # without [build], with `main` made absolute.
  if [ "${EDGE_ACME_DEV_SKIP_BUILD:-0}" != 1 ] || [ ! -f "$ROOT/worker/build/index.js" ]; then
    "$ROOT/scripts/build-worker.sh"
  fi
  mkdir -p "$ROOT/.wrangler"
  NOWATCH_CONFIG=$(mktemp "$ROOT/.wrangler/nowatch.XXXXXX.toml")
  # Serve a private copy of the build: wrangler reloads when the files it serves
  # change, and a later build must not restart this server in the middle of a run.
  BUILD_COPY=$(mktemp -d "$ROOT/.wrangler/build.XXXXXX")
  cp -a "$ROOT/worker/build/." "$BUILD_COPY/"
  awk -v main="$BUILD_COPY/index.js" -v site="$BUILD_COPY/site" '
    /^\[build\]/ { skip = 1; next }
    /^\[/ { skip = 0 }
    skip { next }
    /^main *=/ { print "main = \"" main "\""; next }
    /^directory *= *"worker\/build\/site"/ { print "directory = \"" site "\""; next }
    { print }' "$ROOT/wrangler.toml" >"$NOWATCH_CONFIG"
  CONFIG_ARGS=(--config "$NOWATCH_CONFIG")
fi

log "base URL $BASE_URL"
log "CA bundle $TLS/ca.pem"
log "state $PERSIST_TO"
wrangler dev "${CONFIG_ARGS[@]}" --local --ip 127.0.0.1 --port "$PORT" --inspector-port "$INSPECTOR_PORT" \
  --show-interactive-dev-session=false --persist-to "$PERSIST_TO" \
  --local-protocol https --https-key-path "$TLS/server.key" --https-cert-path "$TLS/server.pem" \
  --var EDGE_ACME_DEV_ROUTES:1 "${ACME_VARS[@]}" "$@" </dev/null &
WPID=$!

deadline=$((SECONDS + READY_TIMEOUT))
until curl -sf -o /dev/null --max-time 5 --cacert "$TLS/ca.pem" "$BASE_URL/directory"; do
  if ! kill -0 "$WPID" 2>/dev/null; then
    wait "$WPID" && rc=0 || rc=$?
    WPID=
    log "wrangler exited ($rc) before it was ready"
    exit $((rc == 0 ? 1 : rc))
  fi
  if [ $SECONDS -ge $deadline ]; then log "not ready after ${READY_TIMEOUT}s"; exit 1; fi
  sleep 0.2
done
# One EAB credential per state folder, made through the admin API on first start.
EAB_FILE=$DEV_STATE/eab.json
admin() { curl -sf --cacert "$TLS/ca.pem" -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$@"; }
kid=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["kid"])' "$EAB_FILE" 2>/dev/null || true)
if [ -z "$kid" ] || ! admin -o /dev/null "$BASE_URL/admin/eab/$kid"; then
  admin -d '{"label":"dev"}' "$BASE_URL/admin/eab" >"$EAB_FILE.tmp" && mv "$EAB_FILE.tmp" "$EAB_FILE"
fi
curl -sf --cacert "$TLS/ca.pem" "$BASE_URL/dev/acme-root.pem" -o "$DEV_STATE/acme-root.pem"
python3 - "$DEV_STATE" "$BASE_URL" "$TLS/ca.pem" "$ADMIN_TOKEN" <<'PY'
import json, sys
state, base, bundle, token = sys.argv[1:5]
eab = json.load(open(f"{state}/eab.json"))
json.dump({"directory": f"{base}/directory", "base_url": base, "ca_bundle": bundle,
           "acme_root": f"{state}/acme-root.pem", "admin_token": token,
           "eab": {"kid": eab["kid"], "hmac_key": eab["macKey"]}},
          open(f"{state}/dev.json", "w"), indent=2)
PY
chmod 600 "$DEV_STATE/dev.json"
log "ready base_url=$BASE_URL ca_bundle=$TLS/ca.pem"
log "directory $BASE_URL/directory"
# Development-only secrets, printed for the person who started the server.
log "admin token $ADMIN_TOKEN"
python3 - "$DEV_STATE/dev.json" <<'PY'
import json, sys
eab = json.load(open(sys.argv[1]))["eab"]
print(f"edge-acme dev: EAB key id {eab['kid']} MAC key {eab['hmac_key']}")
PY
log "facts for scripts: $DEV_STATE/dev.json"

wait "$WPID" && rc=0 || rc=$?
WPID=
exit "$rc"
