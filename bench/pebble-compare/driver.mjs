// Issuance load driver: N full ACME issuances with concurrency C against any directory URL.
//
//   node driver.mjs --directory URL --ca CA.pem --responder-port P [--n 200] [--c 8]
//                   [--label NAME] [--json OUT.json] [--poll-ms 25] [--warmup K] [--domain bench.test]
//
// Each of the C workers creates one account (ES256, newAccount), then takes orders from a
// shared counter until N are done: newOrder -> authz (POST-as-GET) -> challenge (POST {})
// -> validate (poll the authz until valid) -> finalize (P-256 CSR) -> issue (poll the order
// until valid) -> download (POST-as-GET the certificate). One name per order, http-01,
// answered by this process's own responder on 127.0.0.1:P (the address the server under
// test validates against: Pebble's httpPort, edge-acme's EDGE_ACME_HTTP01_ADDR).
//
// --warmup K runs K issuances first (same accounts) and does not count them.
// Polling uses a fixed short interval (--poll-ms) for every server instead of the
// Retry-After the server sends, so the figures measure the server, not client sleeps.
// Plain node:https with a keep-alive agent (C sockets) and node:crypto; no dependencies.
// Prints a table and, with --json, writes {label, n, c, wall_s, orders_per_s, steps: {...}}.

import crypto from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    directory: { type: 'string' },
    ca: { type: 'string' },
    'responder-port': { type: 'string' },
    n: { type: 'string', default: '200' },
    c: { type: 'string', default: '8' },
    label: { type: 'string', default: 'server' },
    json: { type: 'string' },
    'poll-ms': { type: 'string', default: '25' },
    warmup: { type: 'string', default: '0' },
    domain: { type: 'string', default: 'bench.test' },
    'timeout-s': { type: 'string', default: '600' },
  },
});
for (const k of ['directory', 'ca', 'responder-port']) {
  if (!opt[k]) { console.error(`driver.mjs: --${k} is required`); process.exit(2); }
}
const N = Number(opt.n);
const C = Math.min(Number(opt.c), N);
const POLL_MS = Number(opt['poll-ms']);
const RUN = crypto.randomBytes(3).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const b64u = (buf) => Buffer.from(buf).toString('base64url');

// --- HTTP ------------------------------------------------------------------------------------
const agent = new https.Agent({ ca: readFileSync(opt.ca), keepAlive: true, maxSockets: C + 2 });

function request(method, url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, agent, headers, timeout: 60_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        let json;
        if ((res.headers['content-type'] || '').includes('json')) {
          try { json = JSON.parse(buf.toString('utf8')); } catch { /* not JSON */ }
        }
        resolve({ status: res.statusCode, headers: res.headers, buf, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on('error', reject);
    if (body) req.end(body); else req.end();
  });
}

// --- JOSE (ES256) and the CSR -----------------------------------------------------------------
function newEcKey() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const pub = { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  const thumbprint = b64u(crypto.createHash('sha256').update(JSON.stringify(pub)).digest());
  return { privateKey, publicKey, jwk: pub, thumbprint };
}

function jws(key, protectedHeader, payload) {
  const p = b64u(JSON.stringify(protectedHeader));
  const pl = payload === null ? '' : b64u(JSON.stringify(payload));
  const sig = crypto.sign('sha256', Buffer.from(`${p}.${pl}`), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return JSON.stringify({ protected: p, payload: pl, signature: b64u(sig) });
}

function derLen(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const der = (tag, ...parts) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLen(body.length), body]);
};
const OID_EXT_REQ = Buffer.from('06092a864886f70d01090e', 'hex');
const OID_SAN = Buffer.from('0603551d11', 'hex');
const OID_ECDSA_SHA256 = Buffer.from('06082a8648ce3d040302', 'hex');

/** PKCS#10 with an empty subject and one dNSName SAN, signed with ecdsa-with-SHA256. */
function csrDer(key, name) {
  const spki = key.publicKey.export({ type: 'spki', format: 'der' });
  const san = der(0x30, der(0x82, Buffer.from(name, 'ascii')));
  const exts = der(0x30, der(0x30, OID_SAN, der(0x04, san)));
  const attrs = der(0xa0, der(0x30, OID_EXT_REQ, der(0x31, exts)));
  const info = der(0x30, Buffer.from([0x02, 0x01, 0x00]), der(0x30), spki, attrs);
  const sig = crypto.sign('sha256', info, key.privateKey); // DER ECDSA-Sig-Value
  return der(0x30, info, der(0x30, OID_ECDSA_SHA256), der(0x03, Buffer.from([0]), sig));
}

// --- ACME --------------------------------------------------------------------------------------
let dir;

class Account {
  constructor() {
    this.key = newEcKey();
    this.kid = null;
    this.nonce = null;
    this.certKey = newEcKey();
  }

  async freshNonce() {
    const r = await request('HEAD', dir.newNonce);
    this.nonce = r.headers['replay-nonce'];
  }

  /** Signed POST; one retry on badNonce (with the nonce from the error response). */
  async post(url, payload) {
    for (let attempt = 0; ; attempt++) {
      if (!this.nonce) await this.freshNonce();
      const header = { alg: 'ES256', nonce: this.nonce, url, ...(this.kid ? { kid: this.kid } : { jwk: this.key.jwk }) };
      this.nonce = null;
      const r = await request('POST', url, jws(this.key, header, payload), { 'content-type': 'application/jose+json' });
      this.nonce = r.headers['replay-nonce'] || null;
      if (r.status === 400 && r.json?.type === 'urn:ietf:params:acme:error:badNonce' && attempt < 3) {
        stats.badNonce++;
        continue;
      }
      if (r.status >= 400) {
        throw new Error(`POST ${url}: ${r.status} ${r.buf.toString('utf8').slice(0, 400)}`);
      }
      return r;
    }
  }

  async register() {
    const r = await this.post(dir.newAccount, { termsOfServiceAgreed: true });
    this.kid = r.headers.location;
    if (!this.kid) throw new Error('newAccount: no Location');
  }
}

const steps = ['newOrder', 'authz', 'challenge', 'validate', 'finalize', 'issue', 'download', 'total'];
const samples = Object.fromEntries(steps.map((s) => [s, []]));
const stats = { badNonce: 0, polls: 0, errors: [] };
const tokens = new Map();

async function pollUntil(acct, url, done, what) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await acct.post(url, null);
    if (done(r.json)) return r;
    if (r.json?.status === 'invalid') throw new Error(`${what} invalid: ${JSON.stringify(r.json).slice(0, 400)}`);
    if (Date.now() > deadline) throw new Error(`${what}: still ${r.json?.status} after 120 s`);
    stats.polls++;
    await sleep(POLL_MS);
  }
}

async function oneIssuance(acct, i) {
  const name = `o${i}-${RUN}.${opt.domain}`;
  const t = [performance.now()];
  const mark = (step) => { const now = performance.now(); samples[step].push(now - t[t.length - 1]); t.push(now); };

  const order = await acct.post(dir.newOrder, { identifiers: [{ type: 'dns', value: name }] });
  const orderUrl = order.headers.location;
  mark('newOrder');
  const authz = await acct.post(order.json.authorizations[0], null);
  mark('authz');
  const authzUrl = order.json.authorizations[0];
  if (authz.json.status !== 'valid') {
    const ch = authz.json.challenges.find((c) => c.type === 'http-01');
    if (!ch) throw new Error(`no http-01 challenge in ${JSON.stringify(authz.json)}`);
    tokens.set(ch.token, `${ch.token}.${acct.key.thumbprint}`);
    await acct.post(ch.url, {});
    mark('challenge');
    await pollUntil(acct, authzUrl, (a) => a?.status === 'valid', 'authorization');
    tokens.delete(ch.token);
    mark('validate');
  } else {
    mark('challenge'); mark('validate');
  }
  const fin = await acct.post(order.json.finalize, { csr: b64u(csrDer(acct.certKey, name)) });
  mark('finalize');
  let final = fin.json;
  if (final.status !== 'valid') {
    final = (await pollUntil(acct, orderUrl, (o) => o?.status === 'valid', 'order')).json;
  }
  mark('issue');
  const cert = await acct.post(final.certificate, null);
  if (!cert.buf.toString('utf8').includes('BEGIN CERTIFICATE')) throw new Error('download: no PEM');
  mark('download');
  samples.total.push(t[t.length - 1] - t[0]);
}

// --- http-01 responder ---------------------------------------------------------------------
const responder = http.createServer((req, res) => {
  const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url);
  const body = m && tokens.get(m[1]);
  if (!body) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
});
responder.keepAliveTimeout = 5000;

function pct(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

async function main() {
  await new Promise((resolve, reject) => {
    responder.once('error', reject);
    responder.listen(Number(opt['responder-port']), '127.0.0.1', resolve);
  });
  const d = await request('GET', opt.directory);
  if (d.status !== 200) throw new Error(`directory: ${d.status}`);
  dir = d.json;

  const accounts = Array.from({ length: C }, () => new Account());
  const tAcc = performance.now();
  await Promise.all(accounts.map((a) => a.register()));
  const accountsMs = performance.now() - tAcc;

  const WARMUP = Number(opt.warmup);
  if (WARMUP > 0) {
    let w = 0;
    await Promise.all(accounts.map(async (acct) => {
      while (w < WARMUP) await oneIssuance(acct, `w${w++}`);
    }));
    for (const s of steps) samples[s].length = 0;
    stats.polls = 0;
  }

  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const hardDeadline = t0 + Number(opt['timeout-s']) * 1000;
  await Promise.all(accounts.map(async (acct) => {
    while (next < N && performance.now() < hardDeadline) {
      const i = next++;
      try {
        await oneIssuance(acct, i);
        done++;
      } catch (err) {
        stats.errors.push(String(err.message ?? err));
        if (stats.errors.length > Math.max(5, N / 10)) throw new Error(`too many errors; first: ${stats.errors[0]}`);
      }
    }
  }));
  const wallS = (performance.now() - t0) / 1000;

  const summary = {
    label: opt.label, n: N, c: C, warmup: WARMUP, completed: done, failed: stats.errors.length, wall_s: wallS,
    orders_per_s: done / wallS, accounts_ms: accountsMs, poll_ms: POLL_MS,
    polls: stats.polls, bad_nonce_retries: stats.badNonce, first_errors: stats.errors.slice(0, 3), steps: {},
  };
  for (const s of steps) {
    const v = samples[s].slice().sort((a, b) => a - b);
    summary.steps[s] = { p50_ms: pct(v, 50), p99_ms: pct(v, 99), mean_ms: v.reduce((a, b) => a + b, 0) / (v.length || 1) };
  }
  console.log(`${opt.label}: ${done}/${N} issuances, concurrency ${C}, ${wallS.toFixed(2)} s, ` +
    `${summary.orders_per_s.toFixed(2)} orders/s (accounts: ${accountsMs.toFixed(0)} ms for ${C}; ` +
    `${stats.polls} polls, ${stats.badNonce} badNonce retries, ${stats.errors.length} errors)`);
  for (const s of steps) {
    const x = summary.steps[s];
    console.log(`  ${s.padEnd(10)} p50 ${x.p50_ms.toFixed(1).padStart(8)} ms   p99 ${x.p99_ms.toFixed(1).padStart(8)} ms`);
  }
  if (opt.json) writeFileSync(opt.json, JSON.stringify(summary, null, 2));
  agent.destroy();
  responder.close();
  if (done < N) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`driver: ${err.stack ?? err}`);
  process.exit(1);
});
