// Shared helpers for the Worker tests under `wrangler dev` (tests/worker/*.test.mjs):
// the dev server (scripts/dev.sh in its own process group, fresh ports and state), an
// HTTPS client that trusts the development TLS CA, a small ACME client that signs its
// own JWS requests (ES256 account keys, flattened JSON, kid/jwk, nonces, EAB), a
// loopback http-01 responder, an RFC 8484 DNS-over-HTTPS test server, and openssl
// helpers for CSRs, chains and CRLs.
//
// Everything a test starts is stopped by the test's `after` hook; dev servers are also
// killed (their whole process group) if the test process exits early.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dnsPacket from 'dns-packet';
import { base64url, calculateJwkThumbprint, exportJWK, FlattenedSign, generateKeyPair } from 'jose';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const LOG_DIR = path.join(ROOT, 'target', 'test-logs');
const START_TIMEOUT_MS = Number(process.env.EDGE_ACME_WORKER_START_TIMEOUT_MS ?? 600_000);
const STOP_TIMEOUT_MS = 20_000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A short random label, so names and logs of one run never collide with another's. */
export const runId = () => Math.random().toString(36).slice(2, 8);

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

// Every dev server still running when the process exits is killed with its group.
const running = new Set();
process.on('exit', () => { for (const d of running) d.killNow(); });
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { for (const d of running) d.killNow(); process.exit(1); });
}

/** scripts/dev.sh in its own process group. */
export class DevServer {
  constructor(env, logName, args = []) {
    this.env = env;
    this.args = args;
    this.logPath = path.join(LOG_DIR, logName);
    this.child = null;
  }

  async start() {
    mkdirSync(LOG_DIR, { recursive: true });
    const log = createWriteStream(this.logPath);
    const t0 = performance.now();
    this.child = spawn('bash', [path.join(ROOT, 'scripts', 'dev.sh'), ...this.args], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env },
    });
    running.add(this);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
    let out = '';
    let isReady = false;
    this.reloaded = false;
    // wrangler reloads the Worker when worker/build/ changes, even without watching
    // sources: a build by someone else in the same tree would swap the server mid-test.
    const watchReload = (chunk) => {
      if (isReady && /Reloading local server/.test(chunk)) this.reloaded = true;
    };
    this.child.stderr.on('data', (chunk) => { log.write(chunk); watchReload(String(chunk)); });
    const ready = new Promise((resolve, reject) => {
      this.child.stdout.on('data', (chunk) => {
        log.write(chunk);
        watchReload(String(chunk));
        out += chunk;
        const m = out.match(/ready base_url=(\S+) ca_bundle=(\S+)/);
        if (m && !isReady) { isReady = true; resolve({ baseUrl: m[1], caBundle: m[2] }); }
      });
      this.exited.then(({ code, signal }) =>
        reject(new Error(`dev.sh exited (${code ?? signal}) before ready; see ${this.logPath}`)));
    });
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not ready after ${START_TIMEOUT_MS} ms; see ${this.logPath}`)), START_TIMEOUT_MS);
    });
    try {
      const info = await Promise.race([ready, timeout]);
      return { ...info, readyMs: performance.now() - t0 };
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM to dev.sh only: it must stop wrangler and workerd itself. */
  async stop() {
    const child = this.child;
    if (!child) return { clean: true };
    this.child = null;
    const pgid = child.pid;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    let timer;
    const exited = await Promise.race([
      this.exited.then(() => true),
      new Promise((resolve) => { timer = setTimeout(resolve, STOP_TIMEOUT_MS, false); }),
    ]);
    clearTimeout(timer);
    // Give the group a moment to drain, then make sure nothing is left.
    for (let i = 0; i < 50 && groupAlive(pgid); i++) await sleep(100);
    const clean = exited && !groupAlive(pgid);
    if (groupAlive(pgid)) {
      try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
    }
    running.delete(this);
    return { clean };
  }

  killNow() {
    if (this.child) {
      try { process.kill(-this.child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}

/**
 * Minimal HTTPS client trusting the dev CA. `request(method, urlOrPath, body, headers)`
 * resolves to {status, headers, buf, text, json}; `headers` are node's (lower-case names,
 * repeated `link` headers joined by ", ").
 */
export function httpsClient(baseUrl, caBundle, { maxSockets = 256 } = {}) {
  const agent = new https.Agent({ ca: readFileSync(caBundle), keepAlive: true, maxSockets });
  const request = (method, target, body, headers = {}) => new Promise((resolve, reject) => {
    const url = new URL(target, baseUrl);
    const req = https.request(url, { method, agent, timeout: 60_000, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        let json;
        try { json = JSON.parse(buf.toString('utf8')); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, buf, text: buf.toString('utf8'), json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${target}: timeout`)));
    req.on('error', reject);
    if (body !== undefined) req.write(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
    req.end();
  });
  return { request, close: () => agent.destroy() };
}

/** All values of a response header, from the raw header list (e.g. every `Link`). */
export function headerAll(res, name) {
  const out = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    if (res.rawHeaders[i].toLowerCase() === name.toLowerCase()) out.push(res.rawHeaders[i + 1]);
  }
  return out;
}

/** The `Link` targets with relation `rel`. */
export function links(res, rel) {
  return headerAll(res, 'link').flatMap((v) => v.split(/,(?=\s*<)/))
    .map((v) => v.match(/<([^>]*)>\s*;\s*rel="?([^";]+)"?/))
    .filter((m) => m && m[2] === rel)
    .map((m) => m[1]);
}

/**
 * A dev server on fresh ports with its own state directories (unless `persistTo` and
 * `devState` are given, for restarts). Resolves once dev.json is written.
 */
export class Dev {
  constructor({ name, env = {}, args = [] }) {
    this.name = name;
    this.extraEnv = env;
    this.args = args;
    this.starts = 0;
  }

  async start() {
    if (!this.tmp) {
      this.tmp = await mkdtemp(path.join(os.tmpdir(), `edge-acme-${this.name}-`));
      this.port = await freePort();
      this.inspectorPort = await freePort();
    }
    this.starts += 1;
    this.env = {
      EDGE_ACME_PORT: String(this.port),
      EDGE_ACME_INSPECTOR_PORT: String(this.inspectorPort),
      EDGE_ACME_PERSIST_TO: path.join(this.tmp, 'persist'),
      EDGE_ACME_DEV_STATE: path.join(this.tmp, 'dev-state'),
      EDGE_ACME_DEV_WATCH: '0', // no rebuild or reload in the middle of a run
      ...(this.starts > 1 ? { EDGE_ACME_DEV_SKIP_BUILD: '1' } : {}),
      ...this.extraEnv,
    };
    this.server = new DevServer(this.env, `worker-${this.name}-dev-${this.starts}.log`, this.args);
    const info = await this.server.start();
    this.readyMs = info.readyMs;
    this.baseUrl = info.baseUrl;
    this.caBundle = info.caBundle;
    this.facts = JSON.parse(await readFile(path.join(this.env.EDGE_ACME_DEV_STATE, 'dev.json'), 'utf8'));
    this.api = httpsClient(this.baseUrl, this.caBundle);
    return this;
  }

  /** Stops dev.sh; `clean`: no process left behind; `reloaded`: wrangler reloaded the Worker mid-run. */
  async stop() {
    this.api?.close();
    this.api = undefined;
    if (!this.server) return { clean: true, reloaded: false };
    const reloaded = this.server.reloaded;
    const { clean } = await this.server.stop();
    this.server = undefined;
    return { clean, reloaded };
  }

  async cleanup() {
    await this.stop();
    if (this.tmp) await rm(this.tmp, { recursive: true, force: true });
  }

  /** Admin API call with the dev admin token (or `token`, `null` for none). */
  admin(method, pathname, body, token = this.facts.admin_token) {
    const headers = { 'content-type': 'application/json' };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    return this.api.request(method, pathname, body, headers);
  }
}

// --- ACME client ----------------------------------------------------------------------
const enc = new TextEncoder();
export const b64u = (buf) => base64url.encode(buf);
export const sha256 = (data) => createHash('sha256').update(data).digest();

/** An ES256 key pair (WebCrypto) with its public JWK and RFC 7638 thumbprint. */
export async function newKey() {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { publicKey, privateKey, jwk, thumbprint: await calculateJwkThumbprint(jwk, 'sha256') };
}

/** A flattened JWS (RFC 7515 §7.2.2) over `payload` ('' for POST-as-GET). */
export async function signJws(key, protectedHeader, payload) {
  const bytes = payload === '' ? new Uint8Array(0) : enc.encode(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return new FlattenedSign(bytes).setProtectedHeader({ alg: 'ES256', ...protectedHeader }).sign(key.privateKey);
}

/** The externalAccountBinding of RFC 8555 §7.3.4: HS256 over the account's JWK. */
export async function eabBinding(kid, macKeyB64u, jwk, newAccountUrl) {
  return new FlattenedSign(enc.encode(JSON.stringify(jwk)))
    .setProtectedHeader({ alg: 'HS256', kid, url: newAccountUrl })
    .sign(base64url.decode(macKeyB64u));
}

/** The ACME error type of a problem response (RFC 7807), without its URN prefix. */
export const problemType = (res) => (/^application\/problem\+json/.test(res.headers?.['content-type'] ?? '')
  ? res.json?.type?.replace('urn:ietf:params:acme:error:', '') : undefined);

/** One ACME server, seen through its directory, with a pool of nonces. */
export class Acme {
  constructor(dev) {
    this.dev = dev;
    this.api = dev.api;
    this.nonces = [];
  }

  async init() {
    const res = await this.api.request('GET', '/directory');
    assert.equal(res.status, 200, res.text);
    this.dir = res.json;
    return this;
  }

  /** A fresh nonce from newNonce (HEAD, RFC 8555 §7.2). */
  async freshNonce() {
    const res = await this.api.request('HEAD', this.dir.newNonce);
    assert.equal(res.status, 200, `HEAD newNonce: ${res.status}`);
    const n = res.headers['replay-nonce'];
    assert.ok(n, 'newNonce without Replay-Nonce');
    return n;
  }

  async nonce() {
    return this.nonces.pop() ?? this.freshNonce();
  }

  /** Signs and POSTs; `signer` is {key, kid} or {key, jwk: true}. Keeps the response nonce. */
  async post(url, payload, signer, { nonce } = {}) {
    const header = { nonce: nonce ?? await this.nonce(), url };
    if (signer.kid) header.kid = signer.kid;
    else header.jwk = signer.key.jwk;
    const body = await signJws(signer.key, header, payload);
    const res = await this.api.request('POST', url, JSON.stringify(body), { 'content-type': 'application/jose+json' });
    if (res.headers['replay-nonce']) this.nonces.push(res.headers['replay-nonce']);
    return res;
  }

  /** newAccount with a fresh key (or `key`); `eab` is {kid, hmac_key}. Returns the raw response too. */
  async newAccount({ key, eab, contact, onlyReturnExisting, nonce } = {}) {
    key ??= await newKey();
    const payload = { termsOfServiceAgreed: true };
    if (contact) payload.contact = contact;
    if (onlyReturnExisting) payload.onlyReturnExisting = true;
    if (eab) payload.externalAccountBinding = await eabBinding(eab.kid, eab.hmac_key, key.jwk, this.dir.newAccount);
    const res = await this.post(this.dir.newAccount, payload, { key, jwk: true }, { nonce });
    const url = res.headers.location;
    return { res, account: url ? new Account(this, key, url) : undefined };
  }
}

/** An account: its key and URL (the `kid`). */
export class Account {
  constructor(acme, key, url) {
    this.acme = acme;
    this.key = key;
    this.url = url;
    this.id = url.split('/').pop();
  }

  get signer() { return { key: this.key, kid: this.url }; }

  post(url, payload, opts) { return this.acme.post(url, payload, this.signer, opts); }

  postAsGet(url, opts) { return this.post(url, '', opts); }

  async newOrder(names) {
    const identifiers = names.map((value) => ({ type: 'dns', value }));
    const res = await this.post(this.acme.dir.newOrder, { identifiers });
    assert.equal(res.status, 201, `newOrder ${names}: ${res.text}`);
    return { url: res.headers.location, ...res.json };
  }

  async get(url) {
    const res = await this.postAsGet(url);
    assert.equal(res.status, 200, `POST-as-GET ${url}: ${res.text}`);
    return res.json;
  }

  keyAuthorization(token) { return `${token}.${this.key.thumbprint}`; }

  dns01Value(token) { return b64u(sha256(this.keyAuthorization(token))); }

  /** Answers a challenge and polls its authorization until it is no longer pending. */
  async validate(authzUrl, type) {
    const authz = await this.get(authzUrl);
    const ch = authz.challenges.find((c) => c.type === type);
    assert.ok(ch, `${type} not offered for ${authz.identifier.value}: ${JSON.stringify(authz.challenges)}`);
    const res = await this.post(ch.url, {});
    assert.equal(res.status, 200, `challenge ${ch.url}: ${res.text}`);
    // RFC 8555 §7.5.1: Link rel="up" to the authorization, beside rel="index". (Workers
    // join same-named headers into one comma-separated line, which RFC 8288 allows.)
    assert.deepEqual(links(res, 'up'), [authzUrl]);
    assert.equal(links(res, 'index').length, 1, JSON.stringify(headerAll(res, 'link')));
    return this.pollAuthz(authzUrl);
  }

  async pollAuthz(authzUrl) {
    for (let i = 0; i < 100; i++) {
      const a = await this.get(authzUrl);
      if (a.status !== 'pending') return a;
      await sleep(100);
    }
    assert.fail(`authorization ${authzUrl} still pending`);
  }

  async pollOrder(orderUrl, until = (o) => !['pending', 'processing'].includes(o.status)) {
    for (let i = 0; i < 100; i++) {
      const o = await this.get(orderUrl);
      if (until(o)) return o;
      await sleep(100);
    }
    assert.fail(`order ${orderUrl} did not settle`);
  }

  async finalize(order, csrDer) {
    return this.post(order.finalize, { csr: b64u(csrDer) });
  }

  /** Downloads a certificate chain (PEM). */
  async certificate(url) {
    const res = await this.postAsGet(url);
    assert.equal(res.status, 200, `certificate ${url}: ${res.text}`);
    assert.match(res.headers['content-type'], /^application\/pem-certificate-chain/);
    return { pem: res.text, res };
  }
}

// --- http-01 responder and DNS-over-HTTPS test server -----------------------------------
/** Reads a request body as a string. */
function bodyOf(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Serves /.well-known/acme-challenge/<token> from `tokens`; records every GET. A PUT to
 * the same path sets the token's body: that is how clients running in another runtime
 * (workerd, Deno; js/test/) publish their files.
 */
export async function startHttp01() {
  const tokens = new Map();
  const requests = [];
  const srv = http.createServer(async (req, res) => {
    const m = req.url.match(/^\/\.well-known\/acme-challenge\/([\w-]+)$/);
    if (m && req.method === 'PUT') {
      tokens.set(m[1], await bodyOf(req));
      res.writeHead(204).end();
      return;
    }
    requests.push({ url: req.url, host: req.headers.host });
    if (!m || !tokens.has(m[1])) { res.writeHead(404).end('no such token'); return; }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tokens.get(m[1]));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  return {
    addr: `127.0.0.1:${port}`,
    tokens,
    requests,
    close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(r); }),
  };
}

/**
 * An RFC 8484 resolver: POST application/dns-message, answers TXT from `txt`
 * (name → [strings]) and CAA from `caa` (name → [{flags, tag, value}]); every other
 * question gets NOERROR with no answers. Records every question in `queries`. A PUT to
 * /txt/<name> adds a TXT value (for clients in other runtimes).
 */
export async function startDoh() {
  const txt = new Map();
  const caa = new Map();
  const queries = [];
  const srv = http.createServer(async (req, res) => {
    const put = req.method === 'PUT' && req.url.match(/^\/txt\/([\w.*-]+)$/);
    if (put) {
      const name = put[1].toLowerCase();
      txt.set(name, [...(txt.get(name) ?? []), await bodyOf(req)]);
      res.writeHead(204).end();
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/dns-query'
          || req.headers['content-type'] !== 'application/dns-message') {
        res.writeHead(415).end();
        return;
      }
      let q;
      try { q = dnsPacket.decode(Buffer.concat(chunks)); } catch { res.writeHead(400).end(); return; }
      const answers = [];
      for (const question of q.questions) {
        const name = question.name.toLowerCase().replace(/\.$/, '');
        queries.push({ name, type: question.type });
        if (question.type === 'TXT') {
          for (const value of txt.get(name) ?? []) answers.push({ type: 'TXT', name: question.name, ttl: 60, data: value });
        } else if (question.type === 'CAA') {
          for (const r of caa.get(name) ?? []) {
            answers.push({ type: 'CAA', name: question.name, ttl: 60, data: { flags: r.flags ?? 0, tag: r.tag, value: r.value } });
          }
        }
      }
      const out = dnsPacket.encode({
        type: 'response', id: q.id,
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
        questions: q.questions, answers,
      });
      res.writeHead(200, { 'content-type': 'application/dns-message' }).end(out);
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  return {
    url: `http://127.0.0.1:${port}/dns-query`,
    txt,
    caa,
    queries,
    close: () => new Promise((r) => { srv.closeAllConnections?.(); srv.close(r); }),
  };
}

// --- openssl ----------------------------------------------------------------------------
export function openssl(args, { input } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { encoding: 'buffer', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`openssl ${args.join(' ')}: ${stderr.toString() || err.message}`));
      else resolve({ stdout, stderr: stderr.toString() });
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

/** A scratch directory for one test file. */
export async function scratch(name) {
  return mkdtemp(path.join(os.tmpdir(), `edge-acme-${name}-files-`));
}

/** A P-256 certificate key and a DER CSR for `names` (empty subject, SAN only). */
export async function makeCsr(dir, names) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const keyFile = path.join(dir, `key-${runId()}.pem`);
  await writeFile(keyFile, keyPem);
  const san = names.map((n) => `DNS:${n}`).join(',');
  const { stdout } = await openssl(['req', '-new', '-key', keyFile, '-subj', '/', '-addext', `subjectAltName=${san}`, '-outform', 'DER']);
  return { der: stdout, keyFile, privateKey, publicKey };
}

/** Splits a PEM bundle into its certificates (PEM strings). */
export function splitPem(pem) {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

/**
 * A hex serial as the server writes it (certificate URLs, admin API): lower case, two
 * digits per byte of the minimal positive integer — which is also how openssl prints it.
 */
export const normSerial = (s) => s.toLowerCase().replace(/[^0-9a-f]/g, '');

/**
 * Checks a downloaded chain with `openssl verify -CAfile root -untrusted chain leaf` and
 * returns the leaf's serial and DNS names.
 */
export async function verifyChain(dir, pem, rootFile) {
  const certs = splitPem(pem);
  assert.ok(certs.length >= 2, `chain has ${certs.length} certificate(s), expected leaf + intermediate`);
  const leafFile = path.join(dir, `leaf-${runId()}.pem`);
  const chainFile = path.join(dir, `chain-${runId()}.pem`);
  await writeFile(leafFile, certs[0]);
  await writeFile(chainFile, certs.slice(1).join(''));
  const { stdout } = await openssl(['verify', '-CAfile', rootFile, '-untrusted', chainFile, leafFile]);
  assert.match(stdout.toString(), /: OK\s*$/, stdout.toString());
  const info = (await openssl(['x509', '-in', leafFile, '-noout', '-serial', '-ext', 'subjectAltName'])).stdout.toString();
  const serial = normSerial(info.match(/serial=([0-9A-Fa-f]+)/)[1]);
  const names = [...info.matchAll(/DNS:([^,\s]+)/g)].map((m) => m[1]).sort();
  return { serial, names, leafFile, chainFile, leafPem: certs[0] };
}

/** The serials a DER CRL lists, read with `openssl crl -inform DER -text`; also checks its signature. */
export async function crlSerials(dir, der, issuerPemFile) {
  const file = path.join(dir, `crl-${runId()}.der`);
  await writeFile(file, der);
  const { stdout } = await openssl(['crl', '-inform', 'DER', '-in', file, '-text', '-noout']);
  const text = stdout.toString();
  const serials = [...text.matchAll(/Serial Number:\s*([0-9A-Fa-f]+)/g)].map((m) => normSerial(m[1]));
  if (issuerPemFile) {
    const v = await openssl(['crl', '-inform', 'DER', '-in', file, '-CAfile', issuerPemFile, '-noout']);
    assert.match(v.stderr + v.stdout.toString(), /verify OK/, 'CRL signature');
  }
  return { serials, text };
}

/** The account id of an account URL (its last path segment: the tenant of a non-EAB account). */
export const accountIdOf = (url) => url.split('/').pop();

/**
 * One dev server for a whole test file (call from the file's own `before`): starts the
 * loopback responders asked for (http-01, DoH), a scratch folder and scripts/dev.sh
 * pointed at them. Returns `{ dev, acme, http01, doh, dir }`; pass it to
 * `stopServerForFile` in the file's `after`.
 */
export async function startServerForFile({ name, http01 = false, doh = false, env = {}, args = [] }) {
  const ctx = {};
  try {
    if (http01) ctx.http01 = await startHttp01();
    if (doh) ctx.doh = await startDoh();
    ctx.dir = await scratch(name);
    const fullEnv = { ...env };
    if (ctx.http01) fullEnv.EDGE_ACME_HTTP01_ADDR = ctx.http01.addr;
    if (ctx.doh) fullEnv.EDGE_ACME_DOH_URL = ctx.doh.url;
    ctx.dev = new Dev({ name, env: fullEnv, args });
    await ctx.dev.start();
    ctx.acme = await new Acme(ctx.dev).init();
    return ctx;
  } catch (e) {
    await stopServerForFile(ctx).catch(() => {}); // the start failure is the error to report
    throw e;
  }
}

/** Stops what `startServerForFile` started; fails if dev.sh left processes behind or
 * wrangler reloaded the Worker mid-run. */
export async function stopServerForFile(ctx) {
  const stopped = await ctx?.dev?.stop();
  await ctx?.dev?.cleanup();
  await ctx?.http01?.close();
  await ctx?.doh?.close();
  if (ctx?.dir) await rm(ctx.dir, { recursive: true, force: true });
  assert.ok(stopped?.clean ?? true, 'dev.sh left processes behind after SIGTERM');
  assert.ok(!stopped?.reloaded, 'wrangler reloaded the Worker during the run: worker/build/ changed (a concurrent build?)');
}
