// The admin API of the Worker under `wrangler dev` (README "Admin API"): every endpoint
// with its effects on the ACME side, and 401 for missing or wrong bearer tokens with no
// effect. One dev server for the whole file (EAB optional, CAA skipped).
// Run: scripts/test.sh worker   (or: node --test tests/worker/admin.test.mjs)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  b64u, crlSerials, makeCsr, problemType, runId, startServerForFile, stopServerForFile, verifyChain,
} from './lib.mjs';

const RUN = runId();
let dev, acme, dir;
const state = {};

let server;
before(async () => {
  server = await startServerForFile({ name: 'admin', env: { EDGE_ACME_SKIP_CAA: 'true' } });
  ({ dev, acme, dir } = server);
});
after(() => stopServerForFile(server));

const need = (key) => {
  assert.ok(state[key], `needs ${key} from an earlier test (see the first failure)`);
  return state[key];
};

/** An account (no EAB) and a certificate for a claimed name, issued without validation. */
async function issueForClaim(name) {
  const { res, account } = await acme.newAccount();
  assert.equal(res.status, 201, res.text);
  const claim = await dev.admin('POST', `/admin/tenants/${account.id}/claims`, { name });
  assert.equal(claim.status, 201, claim.text);
  const order = await account.newOrder([name]);
  assert.equal(order.status, 'ready');
  const csr = await makeCsr(dir, [name]);
  const fin = await account.finalize(order, csr.der);
  assert.equal(fin.status, 200, fin.text);
  const done = await account.pollOrder(order.url);
  const { pem } = await account.certificate(done.certificate);
  return { account, ...(await verifyChain(dir, pem, dev.facts.acme_root)) };
}

test('every endpoint answers 401 with WWW-Authenticate: Bearer for missing or wrong tokens, and changes nothing', async () => {
  assert.ok(dev?.api, 'dev server is not running');
  const token = dev.facts.admin_token;
  assert.ok(token.length >= 32, 'dev admin token');
  // Real objects in the paths, so that an endpoint that acted anyway would show it.
  const cred = await dev.admin('POST', '/admin/eab', { label: `target-${RUN}` });
  assert.equal(cred.status, 201, cred.text);
  const kid = cred.json.kid;
  const target = await issueForClaim(`target-${RUN}.example.com`);
  const tenant = target.account.id;
  const endpoints = [
    ['POST', '/admin/eab', { label: 'x' }],
    ['GET', `/admin/eab/${kid}`],
    ['POST', `/admin/eab/${kid}/rotate`],
    ['POST', `/admin/eab/${kid}/revoke`],
    ['GET', `/admin/tenants/${tenant}/claims`],
    ['POST', `/admin/tenants/${tenant}/claims`, { name: `evil-${RUN}.example.com` }],
    ['DELETE', `/admin/tenants/${tenant}/claims/target-${RUN}.example.com`],
    ['GET', `/admin/tenants/${tenant}/accounts`],
    ['POST', `/admin/certificates/${target.serial}/revoke`, { reason: 1 }],
  ];
  const variants = [
    ['no Authorization header', {}],
    ['a wrong token', { authorization: 'Bearer wrong' }],
    ['the token with a character more', { authorization: `Bearer ${token}x` }],
    ['the token with a character less', { authorization: `Bearer ${token.slice(0, -1)}` }],
    ['an empty bearer token', { authorization: 'Bearer ' }],
    ['the token without the Bearer scheme', { authorization: token }],
    ['the token as Basic credentials', { authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}` }],
    ['the token in another header', { 'x-admin-token': token }],
  ];
  for (const [method, p, body] of endpoints) {
    for (const [what, headers] of variants) {
      const res = await dev.api.request(method, p, body === undefined ? undefined : JSON.stringify(body),
        { 'content-type': 'application/json', ...headers });
      assert.equal(res.status, 401, `${method} ${p} with ${what}: ${res.status} ${res.text}`);
      assert.equal(res.headers['www-authenticate'], 'Bearer', `${method} ${p} with ${what}`);
      assert.equal(problemType(res), 'unauthorized');
      assert.ok(!res.text.includes(token), 'the token is never echoed');
    }
  }
  // Nothing happened.
  const info = await dev.admin('GET', `/admin/eab/${kid}`);
  assert.equal(info.json.status, 'active');
  assert.equal(info.json.macKeyVersion, 1);
  const claims = await dev.admin('GET', `/admin/tenants/${tenant}/claims`);
  assert.deepEqual(claims.json.claims.map((c) => c.name), [`target-${RUN}.example.com`]);
  const crl = await dev.api.request('GET', '/acme/crl/local');
  const { serials } = await crlSerials(dir, crl.buf, target.chainFile);
  assert.ok(!serials.includes(target.serial), 'a 401 request revoked the certificate');
  state.target = target;
});

test('EAB credentials: create shows the MAC key once, get, rotate, revoke — each with its effect on newAccount', async () => {
  const created = await dev.admin('POST', '/admin/eab', { label: `team-${RUN}` });
  assert.equal(created.status, 201, created.text);
  const { kid, macKey, version, expiresAt, maxUses } = created.json;
  assert.match(kid, /^kid-[\w-]+$/);
  assert.equal(Buffer.from(macKey, 'base64url').length, 32, 'a 256-bit MAC key');
  assert.equal(version, 1);
  assert.ok(expiresAt > Date.now() / 1000, 'expiresAt is in the future');
  assert.ok(Number.isInteger(maxUses) && maxUses > 0);

  const info = await dev.admin('GET', `/admin/eab/${kid}`);
  assert.equal(info.status, 200, info.text);
  assert.equal(info.json.kid, kid);
  assert.equal(info.json.label, `team-${RUN}`);
  assert.equal(info.json.status, 'active');
  assert.equal(info.json.macKeyVersion, 1);
  assert.equal(info.json.macKeyUses, 0);
  assert.equal(info.json.accounts, 0);
  assert.equal(info.json.macKeyMaxUses, maxUses);
  assert.ok(!info.text.includes(macKey), 'the MAC key is never shown again');
  assert.equal((await dev.admin('GET', `/admin/eab/kid-nope-${RUN}`)).status, 404);
  assert.equal((await dev.admin('POST', '/admin/eab', { label: 'x', bogus: 1 })).status, 400);

  const a1 = await acme.newAccount({ eab: { kid, hmac_key: macKey } });
  assert.equal(a1.res.status, 201, a1.res.text);
  const used = await dev.admin('GET', `/admin/eab/${kid}`);
  assert.equal(used.json.macKeyUses, 1);
  assert.equal(used.json.accounts, 1);

  const rotated = await dev.admin('POST', `/admin/eab/${kid}/rotate`);
  assert.equal(rotated.status, 200, rotated.text);
  assert.equal(rotated.json.kid, kid);
  assert.equal(rotated.json.version, 2);
  assert.notEqual(rotated.json.macKey, macKey);
  const stale = await acme.newAccount({ eab: { kid, hmac_key: macKey } });
  assert.equal(problemType(stale.res), 'unauthorized', `the replaced MAC key still binds: ${stale.res.text}`);
  const a2 = await acme.newAccount({ eab: { kid, hmac_key: rotated.json.macKey } });
  assert.equal(a2.res.status, 201, a2.res.text);
  const after = await dev.admin('GET', `/admin/eab/${kid}`);
  assert.equal(after.json.macKeyVersion, 2);
  assert.equal(after.json.macKeyUses, 1, 'uses count per MAC key');
  assert.equal(after.json.accounts, 2);
  assert.equal((await a1.account.postAsGet(a1.account.url)).status, 200, 'accounts bound earlier keep working');

  const accounts = await dev.admin('GET', `/admin/tenants/${kid}/accounts`);
  assert.equal(accounts.status, 200);
  assert.deepEqual([...accounts.json.accounts].sort(), [a1.account.url, a2.account.url].sort());

  const revoked = await dev.admin('POST', `/admin/eab/${kid}/revoke`);
  assert.equal(revoked.status, 200, revoked.text);
  assert.deepEqual(revoked.json, { kid, status: 'revoked' });
  assert.equal((await dev.admin('GET', `/admin/eab/${kid}`)).json.status, 'revoked');
  for (const a of [a1.account, a2.account]) {
    const r = await a.postAsGet(a.url);
    assert.equal(problemType(r), 'unauthorized', `an account of a revoked credential still works: ${r.text}`);
  }
  const refused = await acme.newAccount({ eab: { kid, hmac_key: rotated.json.macKey } });
  assert.equal(problemType(refused.res), 'unauthorized', refused.res.text);
  const rerotate = await dev.admin('POST', `/admin/eab/${kid}/rotate`);
  assert.ok(rerotate.status >= 400, `a revoked credential was rotated: ${rerotate.text}`);
  assert.equal((await dev.admin('POST', `/admin/eab/kid-nope-${RUN}/rotate`)).status, 404);
  assert.equal((await dev.admin('POST', `/admin/eab/kid-nope-${RUN}/revoke`)).status, 404);
});

test('claims: add (subtree and exact, days), list, remove — and what they do to new orders', async () => {
  const { res, account } = await acme.newAccount();
  assert.equal(res.status, 201, res.text);
  const tenant = account.id;
  const zone = `claims-${RUN}.example.org`;
  const t0 = Math.floor(Date.now() / 1000);
  const sub = await dev.admin('POST', `/admin/tenants/${tenant}/claims`, { name: zone, scope: 'subtree', days: 30 });
  assert.equal(sub.status, 201, sub.text);
  assert.equal(sub.json.name, zone);
  assert.equal(sub.json.scope, 'subtree');
  assert.equal(sub.json.method, 'operator');
  assert.equal(sub.json.expires - sub.json.createdAt, 30 * 86400);
  assert.ok(Math.abs(sub.json.createdAt - t0) < 120, 'created now');
  const exact = await dev.admin('POST', `/admin/tenants/${tenant}/claims`, { name: `one.${RUN}.example.org`, scope: 'exact' });
  assert.equal(exact.status, 201, exact.text);
  assert.equal(exact.json.scope, 'exact');
  const dflt = await dev.admin('POST', `/admin/tenants/${tenant}/claims`, { name: `dflt-${RUN}.example.org` });
  assert.equal(dflt.json.scope, 'subtree', 'subtree is the default scope');
  assert.equal(dflt.json.expires - dflt.json.createdAt, 397 * 86400, 'claims last 397 days by default');

  const list = await dev.admin('GET', `/admin/tenants/${tenant}/claims`);
  assert.equal(list.status, 200);
  assert.deepEqual(list.json.claims.map((c) => c.name).sort(),
    [zone, `one.${RUN}.example.org`, `dflt-${RUN}.example.org`].sort());

  assert.equal((await account.newOrder([`*.${zone}`, `a.b.${zone}`])).status, 'ready');
  assert.equal((await account.newOrder([`one.${RUN}.example.org`])).status, 'ready');
  assert.equal((await account.newOrder([`two.one.${RUN}.example.org`])).status, 'pending');

  for (const [body, why] of [
    [{ name: 'Bad_Name.example' }, 'an invalid name'],
    [{ name: `*.${zone}` }, 'a wildcard'],
    [{ name: zone, scope: 'everything' }, 'an unknown scope'],
    [{}, 'no name'],
    [{ name: zone, extra: true }, 'an unknown field'],
  ]) {
    const r = await dev.admin('POST', `/admin/tenants/${tenant}/claims`, body);
    assert.equal(r.status, 400, `${why}: ${r.status} ${r.text}`);
  }

  const del = await dev.admin('DELETE', `/admin/tenants/${tenant}/claims/${zone}`);
  assert.equal(del.status, 204, del.text);
  assert.equal((await dev.admin('DELETE', `/admin/tenants/${tenant}/claims/${zone}`)).status, 404);
  const left = await dev.admin('GET', `/admin/tenants/${tenant}/claims`);
  assert.ok(!left.json.claims.some((c) => c.name === zone), 'the deleted claim is still listed');
  assert.equal((await account.newOrder([`c.${zone}`])).status, 'pending', 'a deleted claim still covers new orders');
  // Another tenant's list is its own.
  assert.deepEqual((await dev.admin('GET', `/admin/tenants/other-${RUN}/claims`)).json.claims, []);
});

test('revoke by serial: 200 with the revocation, on the CRL with its reason; refusals for repeats, unknown serials, bad reasons', async () => {
  const target = need('target');
  const bad = await dev.admin('POST', `/admin/certificates/${target.serial}/revoke`, { reason: 7 });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(problemType(bad), 'badRevocationReason');
  const unknown = await dev.admin('POST', `/admin/certificates/00${'ab'.repeat(15)}/revoke`, {});
  assert.equal(unknown.status, 404, unknown.text);

  // Serials are accepted in upper case too.
  const res = await dev.admin('POST', `/admin/certificates/${target.serial.toUpperCase()}/revoke`, { reason: 3 });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.serial, target.serial);
  assert.equal(res.json.revoked.reason, 3);
  const again = await dev.admin('POST', `/admin/certificates/${target.serial}/revoke`, {});
  assert.equal(problemType(again), 'alreadyRevoked', again.text);

  const crl = await dev.api.request('GET', '/acme/crl/local');
  const { serials, text } = await crlSerials(dir, crl.buf, target.chainFile);
  assert.ok(serials.includes(target.serial), `CRL lacks ${target.serial}`);
  assert.match(text, /Affiliation Changed/);
  // The ACME side agrees: the subscriber cannot revoke it again.
  const der = Buffer.from(target.leafPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  const acmeAgain = await target.account.post(acme.dir.revokeCert, { certificate: b64u(der) });
  assert.equal(problemType(acmeAgain), 'alreadyRevoked', acmeAgain.text);
});

test('unknown admin paths and methods are 404 with a valid token; CORS preflight needs no token', async () => {
  for (const [method, p] of [
    ['GET', '/admin/eab'],
    ['GET', '/admin/nothing'],
    ['PUT', `/admin/tenants/t-${RUN}/claims`],
    ['GET', '/admin/certificates/00ff/revoke'],
    ['POST', '/admin/'],
  ]) {
    const r = await dev.admin(method, p);
    assert.equal(r.status, 404, `${method} ${p}: ${r.status} ${r.text}`);
  }
  const pre = await dev.api.request('OPTIONS', '/admin/eab', undefined, {
    origin: 'https://app.example', 'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization, content-type',
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], '*');
  assert.match(pre.headers['access-control-allow-headers'], /authorization/i);
});
