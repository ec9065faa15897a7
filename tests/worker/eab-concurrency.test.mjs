// EAB-required mode and concurrency against the real Durable Objects of `wrangler dev`:
// one nonce replayed by 200 parallel requests, 20 parallel finalize calls on one order,
// and 80 parallel newAccount calls on an EAB credential limited to 50 uses
// (`--var EAB_MAC_MAX_USES:50`). One dev server for the whole file.
// Run: scripts/test.sh worker   (or: node --test tests/worker/eab-concurrency.test.mjs)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accountIdOf, b64u, eabBinding, makeCsr, newKey, problemType, runId, startServerForFile, stopServerForFile, signJws, verifyChain,
} from './lib.mjs';

const RUN = runId();
const MAX_USES = 50;
let dev, acme, http01, dir;
const state = {};

let server;
before(async () => {
  server = await startServerForFile({
    name: 'eab-concurrency',
    http01: true,
    env: { EDGE_ACME_EAB_REQUIRED: 'true', EDGE_ACME_SKIP_CAA: 'true' },
    args: ['--var', `EAB_MAC_MAX_USES:${MAX_USES}`],
  });
  ({ dev, acme, http01, dir } = server);
});
after(() => stopServerForFile(server));

const need = (key) => {
  assert.ok(state[key], `needs ${key} from an earlier test (see the first failure)`);
  return state[key];
};

const tally = (results) => {
  const out = {};
  for (const r of results) {
    const k = `${r.status} ${problemType(r) ?? ''}`.trim();
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
};

/** A new EAB credential from the admin API. */
async function credential(label) {
  const res = await dev.admin('POST', '/admin/eab', { label });
  assert.equal(res.status, 201, res.text);
  return { kid: res.json.kid, hmac_key: res.json.macKey, maxUses: res.json.maxUses };
}

test('EAB required: the directory says so; newAccount without a binding is externalAccountRequired', async () => {
  assert.ok(dev?.api, 'dev server is not running');
  assert.equal(acme.dir.meta.externalAccountRequired, true);
  const { res } = await acme.newAccount();
  assert.equal(res.status, 400, res.text);
  assert.equal(problemType(res), 'externalAccountRequired');
  assert.equal(res.headers.location, undefined);
});

test('EAB required: bindings with a wrong MAC, an unknown key id or another key are refused', async () => {
  const eab = dev.facts.eab;
  assert.match(eab.kid, /^kid-/);
  const wrongMac = await acme.newAccount({ eab: { kid: eab.kid, hmac_key: b64u(Buffer.alloc(32, 7)) } });
  assert.equal(problemType(wrongMac.res), 'unauthorized', wrongMac.res.text);
  const unknown = await acme.newAccount({ eab: { kid: `kid-unknown-${RUN}`, hmac_key: eab.hmac_key } });
  assert.equal(problemType(unknown.res), 'unauthorized', unknown.res.text);
  // The binding must carry the key that signs the outer request (RFC 8555 §7.3.4).
  const key = await newKey();
  const other = await newKey();
  const binding = await eabBinding(eab.kid, eab.hmac_key, other.jwk, acme.dir.newAccount);
  const res = await acme.post(acme.dir.newAccount, { termsOfServiceAgreed: true, externalAccountBinding: binding },
    { key, jwk: true });
  assert.equal(problemType(res), 'unauthorized', res.text);
  for (const r of [wrongMac.res, unknown.res, res]) assert.equal(r.headers.location, undefined);
  // None of these used up the credential.
  const info = await dev.admin('GET', `/admin/eab/${eab.kid}`);
  assert.equal(info.json.macKeyUses, 0, info.text);
});

test('EAB required: http-01 issuance by a bound account; the EAB key id is the tenant of its claims', async () => {
  const eab = dev.facts.eab;
  const { res, account } = await acme.newAccount({ eab });
  assert.equal(res.status, 201, res.text);
  assert.ok(res.json.externalAccountBinding, 'the account object shows its binding');
  state.account = account;

  const name = `eab-${RUN}.example.com`;
  const order = await account.newOrder([name]);
  assert.equal(order.status, 'pending');
  const authz = await account.get(order.authorizations[0]);
  const { token } = authz.challenges.find((c) => c.type === 'http-01');
  http01.tokens.set(token, account.keyAuthorization(token));
  assert.equal((await account.validate(order.authorizations[0], 'http-01')).status, 'valid');
  const csr = await makeCsr(dir, [name]);
  const fin = await account.finalize(order, csr.der);
  assert.equal(fin.status, 200, fin.text);
  const done = await account.pollOrder(order.url);
  assert.equal(done.status, 'valid');
  const { pem } = await account.certificate(done.certificate);
  await verifyChain(dir, pem, dev.facts.acme_root);

  // The validation's claim belongs to the tenant = the EAB key id, not to the account id.
  const byKid = await dev.admin('GET', `/admin/tenants/${eab.kid}/claims`);
  assert.equal(byKid.status, 200);
  assert.ok(byKid.json.claims.some((c) => c.name === name && c.scope === 'exact'), byKid.text);
  const byAccount = await dev.admin('GET', `/admin/tenants/${accountIdOf(account.url)}/claims`);
  assert.deepEqual(byAccount.json.claims, []);
  // So a second account bound to the same credential is covered at once.
  const second = await acme.newAccount({ eab });
  assert.equal(second.res.status, 201, second.res.text);
  assert.equal((await second.account.newOrder([name])).status, 'ready');
  // An operator claim for the tenant covers both accounts.
  const zone = `t-${RUN}.example.net`;
  const claim = await dev.admin('POST', `/admin/tenants/${eab.kid}/claims`, { name: zone });
  assert.equal(claim.status, 201, claim.text);
  assert.equal((await account.newOrder([`a.${zone}`])).status, 'ready');
  assert.equal((await second.account.newOrder([`*.${zone}`])).status, 'ready');
  state.zone = zone;
  const listed = await dev.admin('GET', `/admin/tenants/${eab.kid}/accounts`);
  assert.deepEqual([...listed.json.accounts].sort(), [account.url, second.account.url].sort());
});

test('200 parallel POSTs replaying one nonce: exactly one accepted, 199 badNonce with fresh nonces', async (t) => {
  const account = need('account');
  const N = 200;
  const nonce = await acme.freshNonce();
  const bodies = await Promise.all(Array.from({ length: N }, () =>
    signJws(account.key, { nonce, url: account.url, kid: account.url }, '')));
  const t0 = performance.now();
  const results = await Promise.all(bodies.map((b) =>
    dev.api.request('POST', account.url, JSON.stringify(b), { 'content-type': 'application/jose+json' })));
  const ms = performance.now() - t0;
  const counts = tally(results);
  assert.deepEqual(counts, { 200: 1, '400 badNonce': N - 1 }, JSON.stringify(counts));
  const winner = results.find((r) => r.status === 200);
  assert.equal(winner.json.status, 'valid');
  // Every response, error or not, carries a fresh nonce (RFC 8555 §6.5), all distinct.
  const fresh = results.map((r) => r.headers['replay-nonce']);
  assert.ok(fresh.every(Boolean), 'a response without Replay-Nonce');
  assert.equal(new Set(fresh).size, N);
  assert.ok(!fresh.includes(nonce));
  // ... and they work: a sample of them, in parallel.
  const sample = fresh.filter((_, i) => i % 20 === 0);
  const again = await Promise.all(sample.map((n) => account.postAsGet(account.url, { nonce: n })));
  assert.deepEqual(again.map((r) => r.status), sample.map(() => 200));
  t.diagnostic(`${N} parallel replays answered in ${ms.toFixed(0)} ms`);
});

test('20 parallel finalize calls on one ready order: exactly one certificate', async () => {
  const account = need('account');
  const zone = need('zone');
  const names = [`race.${zone}`];
  const order = await account.newOrder(names);
  assert.equal(order.status, 'ready', 'the tenant claim makes the order ready');
  const csr = await makeCsr(dir, names);
  const N = 20;
  const nonces = await Promise.all(Array.from({ length: N }, () => acme.freshNonce()));
  const bodies = await Promise.all(nonces.map((nonce) =>
    signJws(account.key, { nonce, url: order.finalize, kid: account.url }, { csr: b64u(csr.der) })));
  const results = await Promise.all(bodies.map((b) =>
    dev.api.request('POST', order.finalize, JSON.stringify(b), { 'content-type': 'application/jose+json' })));
  const counts = tally(results);
  assert.deepEqual(counts, { 200: 1, '403 orderNotReady': N - 1 }, JSON.stringify(counts));
  const winner = results.find((r) => r.status === 200).json;
  assert.ok(['valid', 'processing'].includes(winner.status), JSON.stringify(winner));
  for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.json.certificate, undefined);

  const done = await account.pollOrder(order.url);
  assert.equal(done.status, 'valid');
  assert.ok(done.certificate);
  if (winner.status === 'valid') assert.equal(winner.certificate, done.certificate);
  const { pem } = await account.certificate(done.certificate);
  const v = await verifyChain(dir, pem, dev.facts.acme_root);
  assert.deepEqual(v.names, names);
  // Later finalize calls still refuse, and the certificate stays the same.
  const late = await account.finalize(order, csr.der);
  assert.equal(problemType(late), 'orderNotReady', late.text);
  assert.equal((await account.get(order.url)).certificate, done.certificate);
  // The account's orders list shows the order (RFC 8555 §7.1.2.1).
  const acct = await account.get(account.url);
  const list = await account.get(acct.orders);
  assert.ok(list.orders.includes(order.url), JSON.stringify(list));
});

test('20 parallel newAccount calls with one key and one EAB credential: one account, one use counted', async () => {
  const cred = await credential(`samekey-${RUN}`);
  const key = await newKey();
  const N = 20;
  const nonces = await Promise.all(Array.from({ length: N }, () => acme.freshNonce()));
  const bodies = await Promise.all(nonces.map(async (nonce) => {
    const externalAccountBinding = await eabBinding(cred.kid, cred.hmac_key, key.jwk, acme.dir.newAccount);
    return signJws(key, { nonce, url: acme.dir.newAccount, jwk: key.jwk }, { termsOfServiceAgreed: true, externalAccountBinding });
  }));
  const results = await Promise.all(bodies.map((b) =>
    dev.api.request('POST', acme.dir.newAccount, JSON.stringify(b), { 'content-type': 'application/jose+json' })));
  assert.deepEqual(tally(results), { 201: 1, 200: N - 1 }, JSON.stringify(tally(results)));
  assert.equal(new Set(results.map((r) => r.headers.location)).size, 1, 'one account URL for one key');
  const info = await dev.admin('GET', `/admin/eab/${cred.kid}`);
  assert.equal(info.json.macKeyUses, 1, 'uses given back for the requests that found the account');
  assert.equal(info.json.accounts, 1);
  assert.equal((await dev.admin('GET', `/admin/tenants/${cred.kid}/accounts`)).json.accounts.length, 1);
});

test('10 parallel responses to one http-01 challenge: one validation, one valid authorization', async () => {
  const account = need('account');
  const name = `chal-${RUN}.example.com`;
  const order = await account.newOrder([name]);
  const authz = await account.get(order.authorizations[0]);
  const ch = authz.challenges.find((c) => c.type === 'http-01');
  http01.tokens.set(ch.token, account.keyAuthorization(ch.token));
  const N = 10;
  const nonces = await Promise.all(Array.from({ length: N }, () => acme.freshNonce()));
  const bodies = await Promise.all(nonces.map((nonce) => signJws(account.key, { nonce, url: ch.url, kid: account.url }, {})));
  const results = await Promise.all(bodies.map((b) =>
    dev.api.request('POST', ch.url, JSON.stringify(b), { 'content-type': 'application/jose+json' })));
  assert.deepEqual(tally(results), { 200: N }, JSON.stringify(tally(results)));
  for (const r of results) assert.ok(['processing', 'valid'].includes(r.json.status), r.text);
  const done = await account.pollAuthz(order.authorizations[0]);
  assert.equal(done.status, 'valid');
  const fetches = http01.requests.filter((r) => r.url === `/.well-known/acme-challenge/${ch.token}`).length;
  assert.equal(fetches, 1, 'concurrent triggers validate once');
  assert.equal((await account.get(order.url)).status, 'ready');
});

test(`80 parallel newAccount calls on an EAB credential limited to ${MAX_USES} uses: exactly ${MAX_USES} accounts`, async (t) => {
  assert.ok(dev?.api, 'dev server is not running');
  const cred = await credential(`race-${RUN}`);
  assert.equal(cred.maxUses, MAX_USES, 'EAB_MAC_MAX_USES reached the Worker');
  const N = 80;
  const keys = await Promise.all(Array.from({ length: N }, () => newKey()));
  const nonces = await Promise.all(keys.map(() => acme.freshNonce()));
  const bodies = await Promise.all(keys.map(async (key, i) => {
    const externalAccountBinding = await eabBinding(cred.kid, cred.hmac_key, key.jwk, acme.dir.newAccount);
    return signJws(key, { nonce: nonces[i], url: acme.dir.newAccount, jwk: key.jwk },
      { termsOfServiceAgreed: true, externalAccountBinding });
  }));
  const t0 = performance.now();
  const results = await Promise.all(bodies.map((b) =>
    dev.api.request('POST', acme.dir.newAccount, JSON.stringify(b), { 'content-type': 'application/jose+json' })));
  const ms = performance.now() - t0;
  const counts = tally(results);
  assert.deepEqual(counts, { 201: MAX_USES, '403 unauthorized': N - MAX_USES }, JSON.stringify(counts));
  const created = results.filter((r) => r.status === 201).map((r) => r.headers.location);
  assert.equal(new Set(created).size, MAX_USES);
  for (const r of results.filter((x) => x.status !== 201)) assert.equal(r.headers.location, undefined);

  const listed = await dev.admin('GET', `/admin/tenants/${cred.kid}/accounts`);
  assert.equal(listed.status, 200);
  assert.equal(listed.json.accounts.length, MAX_USES, `tenant lists ${listed.json.accounts.length} accounts`);
  assert.deepEqual([...listed.json.accounts].sort(), [...created].sort());
  const info = await dev.admin('GET', `/admin/eab/${cred.kid}`);
  assert.equal(info.json.macKeyUses, MAX_USES);
  assert.equal(info.json.accounts, MAX_USES);
  // The refused keys really have no account.
  const refusedIdx = results.findIndex((r) => r.status !== 201);
  const lookup = await acme.newAccount({ key: keys[refusedIdx], onlyReturnExisting: true });
  assert.equal(problemType(lookup.res), 'accountDoesNotExist', lookup.res.text);
  t.diagnostic(`${N} parallel EAB newAccount calls answered in ${ms.toFixed(0)} ms`);
});
