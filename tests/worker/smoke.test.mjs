// Smoke test of the Worker under `wrangler dev` (real workerd, local KV and SQLite
// Durable Objects), through scripts/dev.sh over HTTPS with its development CA.
// Run: scripts/test.sh worker, or tests/worker_smoke.sh (or: node --test
// tests/worker/smoke.test.mjs after `npm ci` in tests/worker/).
//
// Every run uses fresh ports and a fresh state directory, and stops every process it
// started (the dev server runs in its own process group).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DevServer, freePort, httpsClient, sleep } from './lib.mjs';

const PARALLEL = 50;
const QUOTA_LIMIT = 30;
const RUN = Math.random().toString(36).slice(2, 8);
const client = (baseUrl, caBundle) => httpsClient(baseUrl, caBundle, { maxSockets: PARALLEL + 4 });

// --- fixtures ----------------------------------------------------------------------------
const stateDir = await mkdtemp(path.join(os.tmpdir(), 'edge-acme-smoke-'));
const port = await freePort();
const devEnv = {
  EDGE_ACME_PORT: String(port),
  EDGE_ACME_INSPECTOR_PORT: String(await freePort()),
  EDGE_ACME_PERSIST_TO: path.join(stateDir, 'persist'),
  EDGE_ACME_DEV_STATE: path.join(stateDir, 'dev-state'), // not the repository's dev-state/
  EDGE_ACME_DEV_WATCH: '0', // no rebuild/reload in the middle of the run
};

// A loopback origin, the shape of an http-01 challenge responder.
const origin = http.createServer((req, res) => {
  const m = req.url.match(/^\/\.well-known\/acme-challenge\/([\w-]+)$/);
  if (!m) { res.writeHead(404).end('no'); return; }
  res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(`${m[1]}.thumbprint`);
});
await new Promise((r) => origin.listen(0, '127.0.0.1', r));
const originPort = origin.address().port;

let dev = new DevServer(devEnv, 'worker-smoke-dev-1.log');
let api;

after(async () => {
  api?.close();
  await dev.stop();
  await new Promise((r) => origin.close(r));
  await rm(stateDir, { recursive: true, force: true });
});

// --- tests -------------------------------------------------------------------------------
// Tests after the first one fail fast when the dev server is not up.
const up = () => assert.ok(api, 'dev server is not running (see the first failure)');
const quotaPath = `/_dev/quota/tenant-${RUN}/eab`;
const recordPath = `/_dev/record/account-${RUN}/status`;
const alarmPath = `/_dev/alarm/account-${RUN}`;
const kvPath = `/_dev/kv/cert-${RUN}`;
const kvBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

test('dev server starts and serves HTTPS with the dev CA', async (t) => {
  const info = await dev.start();
  t.diagnostic(`ready in ${(info.readyMs / 1000).toFixed(1)} s at ${info.baseUrl}`);
  assert.equal(info.baseUrl, `https://127.0.0.1:${port}`);
  api = client(info.baseUrl, info.caBundle);
  const res = await api.request('GET', '/health');
  assert.equal(res.status, 200);
  assert.equal(res.json.status, 'ok');
});

test(`DO counted use: exactly ${QUOTA_LIMIT} of ${PARALLEL} parallel uses succeed`, async () => {
  up();
  const results = await Promise.all(
    Array.from({ length: PARALLEL }, () => api.request('POST', `${quotaPath}?limit=${QUOTA_LIMIT}`)));
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 409);
  assert.equal(ok.length + refused.length, PARALLEL, `statuses: ${results.map((r) => r.status)}`);
  assert.equal(ok.length, QUOTA_LIMIT);
  // Each success saw a distinct count: 1..limit, no duplicates, no gaps.
  const seen = ok.map((r) => r.json.used).sort((a, b) => a - b);
  assert.deepEqual(seen, Array.from({ length: QUOTA_LIMIT }, (_, i) => i + 1));
  for (const r of refused) assert.deepEqual(r.json, { ok: false, used: QUOTA_LIMIT });
  const now = await api.request('GET', quotaPath);
  assert.deepEqual(now.json, { ok: true, used: QUOTA_LIMIT });
});

test(`DO versioned put (the engine's store): one winner among ${PARALLEL} concurrent creators`, async () => {
  up();
  const results = await Promise.all(Array.from({ length: PARALLEL }, (_, i) =>
    api.request('POST', recordPath, { version: null, value: `pending-${i}` })));
  const winners = results.filter((r) => r.status === 200);
  assert.equal(winners.length, 1, `statuses: ${results.map((r) => r.status)}`);
  assert.equal(results.filter((r) => r.status === 409).length, PARALLEL - 1);
  const winner = winners[0].json.value;
  assert.deepEqual((await api.request('GET', recordPath)).json, { ok: true, value: winner, version: 1 });

  const stale = await api.request('POST', recordPath, { version: 7, value: 'valid' });
  assert.equal(stale.status, 409);
  assert.deepEqual(stale.json, { ok: false, value: winner, version: 1 });
  const again = await api.request('POST', recordPath, { version: null, value: 'valid' });
  assert.equal(again.status, 409, 'create over an existing record');
  const next = await api.request('POST', recordPath, { version: 1, value: 'valid' });
  assert.equal(next.status, 200);
  assert.deepEqual(next.json, { ok: true, value: 'valid', version: 2 });
});

test('DO transactionSync rolls back a failed transaction', async () => {
  up();
  const res = await api.request('POST', recordPath.replace('/record/', '/rollback/'), 'must-not-stick');
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { ok: false, value: 'valid', version: 2 });
});

test('KV put/get round-trips bytes; a missing key is 404', async () => {
  up();
  assert.equal((await api.request('PUT', kvPath, kvBytes)).status, 204);
  const got = await api.request('GET', kvPath);
  assert.equal(got.status, 200);
  assert.ok(got.buf.equals(kvBytes));
  assert.equal((await api.request('GET', `${kvPath}-missing`)).status, 404);
});

test('outbound fetch() from the Worker reaches a loopback HTTP server', async () => {
  up();
  const target = `http://127.0.0.1:${originPort}/.well-known/acme-challenge/tok-${RUN}`;
  const res = await api.request('GET', `/_dev/fetch?url=${encodeURIComponent(target)}`);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { status: 200, body: `tok-${RUN}.thumbprint` });
  const notFound = await api.request('GET', `/_dev/fetch?url=${encodeURIComponent(`http://127.0.0.1:${originPort}/x`)}`);
  assert.equal(notFound.json.status, 404);
});

test('DO alarm is set and fires', async (t) => {
  up();
  const before = Date.now();
  const set = await api.request('POST', `${alarmPath}?delay_ms=300`);
  assert.equal(set.status, 200);
  assert.equal(set.json.fired, 0);
  assert.ok(set.json.scheduled_at >= before + 300, JSON.stringify(set.json));
  let status;
  for (let i = 0; i < 100; i++) {
    status = (await api.request('GET', alarmPath)).json;
    if (status.fired > 0) break;
    await sleep(100);
  }
  assert.equal(status.fired, 1, JSON.stringify(status));
  assert.equal(status.scheduled_at, null);
  t.diagnostic(`alarm fired ${status.last_fired_at - set.json.scheduled_at} ms after its scheduled time`);
});

test('KV and Durable Object state survive a dev server restart', async (t) => {
  up();
  api.close();
  api = undefined;
  const stopped = await dev.stop();
  assert.ok(stopped.clean, 'dev.sh left processes behind after SIGTERM');
  // Same build as before: this checks the state, not a rebuild.
  dev = new DevServer({ ...devEnv, EDGE_ACME_DEV_SKIP_BUILD: '1' }, 'worker-smoke-dev-2.log');
  const info = await dev.start();
  t.diagnostic(`restarted, ready in ${(info.readyMs / 1000).toFixed(1)} s`);
  api = client(info.baseUrl, info.caBundle);
  assert.deepEqual((await api.request('GET', quotaPath)).json, { ok: true, used: QUOTA_LIMIT });
  assert.equal((await api.request('POST', `${quotaPath}?limit=${QUOTA_LIMIT}`)).status, 409);
  assert.deepEqual((await api.request('GET', recordPath)).json, { ok: true, value: 'valid', version: 2 });
  const kv = await api.request('GET', kvPath);
  assert.equal(kv.status, 200);
  assert.ok(kv.buf.equals(kvBytes));
  assert.equal((await api.request('GET', alarmPath)).json.fired, 1);
});

test('dev server stops cleanly on SIGTERM', async () => {
  up();
  api.close();
  api = undefined;
  const stopped = await dev.stop();
  assert.ok(stopped.clean, 'dev.sh left processes behind after SIGTERM');
  await assert.rejects(new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(); });
    s.on('error', reject);
  }), 'port still accepts connections');
});
