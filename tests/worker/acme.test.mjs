// ACME (RFC 8555) end to end against the Worker under `wrangler dev`, over HTTPS with
// requests this file signs itself: http-01 (a loopback responder), dns-01 and wildcards
// (a DNS-over-HTTPS test server), CAA, orders covered by domain claims, revocation and
// the CRL, key change, deactivation. One dev server for the whole file.
// Run: scripts/test.sh worker   (or: node --test tests/worker/acme.test.mjs)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { exportJWK } from 'jose';
import {
  Account, accountIdOf, b64u, crlSerials, links, makeCsr, newKey, openssl, problemType, runId, startServerForFile, stopServerForFile, signJws, splitPem, verifyChain,
} from './lib.mjs';

const RUN = runId();
let dev, acme, http01, doh, dir;
const state = {}; // what earlier tests hand to later ones

let server;
before(async () => {
  server = await startServerForFile({ name: 'acme', http01: true, doh: true });
  ({ dev, acme, http01, doh, dir } = server);
});
after(() => stopServerForFile(server));

const need = (key) => {
  assert.ok(state[key], `needs ${key} from an earlier test (see the first failure)`);
  return state[key];
};

/** A new account (no EAB) and a check of the newAccount response. */
async function account() {
  const { res, account: a } = await acme.newAccount({ contact: [`mailto:ops-${RUN}@example.com`] });
  assert.equal(res.status, 201, res.text);
  assert.ok(a, 'newAccount without Location');
  return a;
}

/** Finalizes a ready order with a fresh CSR and returns the verified chain. */
async function finalizeAndVerify(acct, order, names) {
  const csr = await makeCsr(dir, names);
  const res = await acct.finalize(order, csr.der);
  assert.equal(res.status, 200, `finalize: ${res.text}`);
  const done = await acct.pollOrder(order.url);
  assert.equal(done.status, 'valid', JSON.stringify(done));
  assert.ok(done.certificate, 'valid order without certificate URL');
  const { pem, res: certRes } = await acct.certificate(done.certificate);
  const v = await verifyChain(dir, pem, dev.facts.acme_root);
  assert.deepEqual(v.names, [...names].sort(), 'certificate names');
  assert.equal(done.certificate, `${dev.baseUrl}/acme/cert/${v.serial}`, 'the certificate URL names its serial');
  assert.ok(v.serial.length >= 16, `a serial of at least 64 bits: ${v.serial}`);
  return { ...v, pem, csr, url: done.certificate, certRes, order: done };
}

test('directory and newNonce over HTTPS', async () => {
  assert.ok(dev?.api, 'dev server is not running');
  for (const k of ['newNonce', 'newAccount', 'newOrder', 'revokeCert', 'keyChange']) {
    assert.match(acme.dir[k], new RegExp(`^${dev.baseUrl}/`), k);
  }
  assert.deepEqual(acme.dir.meta.caaIdentities, ['edge-acme.test']);
  assert.ok(!acme.dir.meta.externalAccountRequired, 'EAB is optional on this server');
  const head = await dev.api.request('HEAD', acme.dir.newNonce);
  assert.equal(head.status, 200);
  assert.match(head.headers['replay-nonce'], /^[A-Za-z0-9_-]+$/);
  assert.equal(head.headers['cache-control'], 'no-store');
  const get = await dev.api.request('GET', acme.dir.newNonce);
  assert.equal(get.status, 204);
  assert.notEqual(get.headers['replay-nonce'], head.headers['replay-nonce']);
});

test('newAccount: 201 with Location, 200 for the same key, accountDoesNotExist for an unknown key', async () => {
  const key = await newKey();
  const first = await acme.newAccount({ key });
  assert.equal(first.res.status, 201, first.res.text);
  assert.match(first.res.headers.location, new RegExp(`^${dev.baseUrl}/acme/acct/[\\w-]+$`));
  assert.equal(first.res.json.status, 'valid');
  assert.deepEqual(first.res.json.key, key.jwk);
  const again = await acme.newAccount({ key });
  assert.equal(again.res.status, 200, again.res.text);
  assert.equal(again.res.headers.location, first.res.headers.location);
  const unknown = await acme.newAccount({ onlyReturnExisting: true });
  assert.equal(unknown.res.status, 400, unknown.res.text);
  assert.equal(problemType(unknown.res), 'accountDoesNotExist');
  assert.ok(unknown.res.headers['replay-nonce'], 'error responses carry a fresh nonce');
});

test('http-01: a two-name certificate, issued over HTTPS, chains to the ACME root', async () => {
  const acct = await account();
  state.httpAccount = acct;
  const names = [`www.h-${RUN}.example.com`, `h-${RUN}.example.com`];
  const order = await acct.newOrder(names);
  assert.equal(order.status, 'pending');
  assert.equal(order.authorizations.length, 2);
  for (const authzUrl of order.authorizations) {
    const authz = await acct.get(authzUrl);
    assert.equal(authz.status, 'pending');
    assert.deepEqual(authz.challenges.map((c) => c.type).sort(), ['dns-01', 'http-01']);
    const { token } = authz.challenges.find((c) => c.type === 'http-01');
    http01.tokens.set(token, acct.keyAuthorization(token));
    const before = http01.requests.length;
    const done = await acct.validate(authzUrl, 'http-01');
    assert.equal(done.status, 'valid', JSON.stringify(done));
    assert.equal(done.challenges.find((c) => c.type === 'http-01').status, 'valid');
    assert.ok(http01.requests.slice(before).some((r) => r.url === `/.well-known/acme-challenge/${token}`),
      `the responder saw no request for ${token}`);
  }
  const ready = await acct.get(order.url);
  assert.equal(ready.status, 'ready');
  const cert = await finalizeAndVerify(acct, order, names);
  // No Link rel="up": the chain already carries the issuer, and clients that follow "up"
  // (acmez/Caddy) append what it names, with POST-as-GET. The issuer URL the leaf's AIA
  // names serves the chain's intermediate (DER) to plain GETs.
  assert.deepEqual(links(cert.certRes, 'up'), []);
  const issuer = await dev.api.request('GET', '/acme/issuer/local');
  assert.equal(issuer.status, 200);
  const intermediate = splitPem(cert.pem)[1].replace(/-----[A-Z ]+-----|\s/g, '');
  assert.equal(issuer.buf.toString('base64'), intermediate);
  // CAA was checked for both names through the DoH server.
  for (const n of names) {
    assert.ok(doh.queries.some((q) => q.type === 'CAA' && q.name === n), `no CAA lookup for ${n}`);
  }
  state.httpCert = cert;
});

test('http-01: a wrong key authorization makes challenge, authorization and order invalid', async () => {
  const acct = await account();
  const order = await acct.newOrder([`bad-${RUN}.example.com`]);
  const authz = await acct.get(order.authorizations[0]);
  const { token } = authz.challenges.find((c) => c.type === 'http-01');
  http01.tokens.set(token, `${token}.not-the-thumbprint`);
  const done = await acct.validate(order.authorizations[0], 'http-01');
  assert.equal(done.status, 'invalid');
  const ch = done.challenges.find((c) => c.type === 'http-01');
  assert.equal(ch.status, 'invalid');
  assert.equal(ch.error?.type, 'urn:ietf:params:acme:error:incorrectResponse', JSON.stringify(ch));
  assert.equal((await acct.get(order.url)).status, 'invalid');
  const fin = await acct.finalize(order, (await makeCsr(dir, [`bad-${RUN}.example.com`])).der);
  assert.equal(fin.status, 403, fin.text);
  assert.equal(problemType(fin), 'orderNotReady');
});

test('dns-01: a wildcard and its base name in one order, TXT records from the DoH server', async () => {
  const acct = await account();
  state.dnsAccount = acct;
  const base = `d-${RUN}.example.org`;
  const names = [base, `*.${base}`];
  const order = await acct.newOrder(names);
  assert.equal(order.status, 'pending');
  const authzs = await Promise.all(order.authorizations.map((u) => acct.get(u)));
  const wild = authzs.find((a) => a.wildcard === true);
  assert.ok(wild, `no wildcard authorization: ${JSON.stringify(authzs)}`);
  assert.equal(wild.identifier.value, base, 'a wildcard authorization names the base domain');
  assert.deepEqual(wild.challenges.map((c) => c.type), ['dns-01'], 'wildcards are offered dns-01 only');
  const values = authzs.map((a) => acct.dns01Value(a.challenges.find((c) => c.type === 'dns-01').token));
  doh.txt.set(`_acme-challenge.${base}`, values);
  for (const u of order.authorizations) {
    const done = await acct.validate(u, 'dns-01');
    assert.equal(done.status, 'valid', JSON.stringify(done));
  }
  assert.ok(doh.queries.some((q) => q.type === 'TXT' && q.name === `_acme-challenge.${base}`), 'no TXT lookup');
  const cert = await finalizeAndVerify(acct, order, names);
  assert.ok(doh.queries.some((q) => q.type === 'CAA' && q.name === base), 'no CAA lookup');
  state.dnsCert = cert;
});

test('dns-01 with a wrong TXT value, or none, is invalid', async () => {
  const acct = await account();
  for (const [name, values, type] of [
    [`dbad-${RUN}.example.org`, ['not-the-digest'], 'incorrectResponse'],
    [`dnone-${RUN}.example.org`, undefined, 'unauthorized'],
  ]) {
    const order = await acct.newOrder([name]);
    if (values) doh.txt.set(`_acme-challenge.${name}`, values);
    const done = await acct.validate(order.authorizations[0], 'dns-01');
    assert.equal(done.status, 'invalid');
    const ch = done.challenges.find((c) => c.type === 'dns-01');
    assert.equal(ch.error?.type, `urn:ietf:params:acme:error:${type}`, JSON.stringify(ch));
    assert.equal((await acct.get(order.url)).status, 'invalid');
  }
});

test('claims from validations: dns-01 covers the subtree and wildcard, http-01 only its host', async () => {
  const dnsAcct = need('dnsAccount');
  const base = `d-${RUN}.example.org`;
  const covered = await dnsAcct.newOrder([`deep.sub.${base}`, `*.${base}`]);
  assert.equal(covered.status, 'ready', JSON.stringify(covered));
  for (const u of covered.authorizations) assert.equal((await dnsAcct.get(u)).status, 'valid');

  const httpAcct = need('httpAccount');
  const exactHost = await httpAcct.newOrder([`h-${RUN}.example.com`]);
  assert.equal(exactHost.status, 'ready', 'the validated host itself is covered');
  const sub = await httpAcct.newOrder([`sub.h-${RUN}.example.com`]);
  assert.equal(sub.status, 'pending', 'http-01 must not authorize other names');

  // Claims belong to the tenant: another account is not covered.
  const other = await account();
  const notMine = await other.newOrder([`deep.sub.${base}`]);
  assert.equal(notMine.status, 'pending');
});

test('operator claims (admin API) make orders ready at once; exact claims cover one name', async () => {
  const acct = await account();
  const tenant = accountIdOf(acct.url);
  const zone = `c-${RUN}.example.net`;
  const added = await dev.admin('POST', `/admin/tenants/${tenant}/claims`, { name: zone, scope: 'subtree', days: 30 });
  assert.equal(added.status, 201, added.text);
  assert.equal(added.json.name, zone);
  assert.equal(added.json.scope, 'subtree');
  const names = [`a.${zone}`, `*.${zone}`];
  const httpBefore = http01.requests.length;
  const order = await acct.newOrder(names);
  assert.equal(order.status, 'ready', JSON.stringify(order));
  for (const u of order.authorizations) assert.equal((await acct.get(u)).status, 'valid');
  state.claimCert = await finalizeAndVerify(acct, order, names);
  assert.equal(http01.requests.length, httpBefore, 'no http-01 request for claimed names');
  assert.ok(!doh.queries.some((q) => q.type === 'TXT' && q.name.endsWith(zone)), 'no TXT lookup for claimed names');

  const exact = `e-${RUN}.example.net`;
  const ex = await dev.admin('POST', `/admin/tenants/${tenant}/claims`, { name: exact, scope: 'exact', days: 1 });
  assert.equal(ex.status, 201, ex.text);
  assert.equal((await acct.newOrder([exact])).status, 'ready');
  assert.equal((await acct.newOrder([`www.${exact}`])).status, 'pending');
  assert.equal((await acct.newOrder([`*.${exact}`])).status, 'pending', 'an exact claim does not cover the wildcard');
  state.claimAccount = acct;
});

test('CAA: a record for another CA refuses issuance, one naming edge-acme.test allows it', async () => {
  const acct = await account();
  const zone = `caa-${RUN}.example.net`;
  const claim = await dev.admin('POST', `/admin/tenants/${accountIdOf(acct.url)}/claims`, { name: zone });
  assert.equal(claim.status, 201, claim.text);

  doh.caa.set(`deny.${zone}`, [{ tag: 'issue', value: 'other-ca.example' }]);
  const denied = await acct.newOrder([`deny.${zone}`]);
  assert.equal(denied.status, 'ready');
  const res = await acct.finalize(denied, (await makeCsr(dir, [`deny.${zone}`])).der);
  assert.equal(problemType(res), 'caa', res.text);
  assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
  const after = await acct.get(denied.url);
  assert.equal(after.status, 'invalid');
  assert.equal(after.error?.type, 'urn:ietf:params:acme:error:caa');

  // The relevant RRset is found by climbing: the zone's record allows us.
  doh.caa.set(zone, [{ tag: 'issue', value: 'edge-acme.test' }, { tag: 'issuewild', value: ';' }]);
  const allowed = await acct.newOrder([`ok.${zone}`]);
  await finalizeAndVerify(acct, allowed, [`ok.${zone}`]);
  const wild = await acct.newOrder([`*.${zone}`]);
  const wres = await acct.finalize(wild, (await makeCsr(dir, [`*.${zone}`])).der);
  assert.equal(problemType(wres), 'caa', `issuewild ";" forbids wildcards: ${wres.text}`);
});

test('revocation by the issuing account; the CRL lists the serial', async () => {
  const acct = need('httpAccount');
  const cert = need('httpCert');
  const der = Buffer.from(cert.leafPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  const res = await acct.post(acme.dir.revokeCert, { certificate: b64u(der), reason: 4 });
  assert.equal(res.status, 200, res.text);
  const again = await acct.post(acme.dir.revokeCert, { certificate: b64u(der), reason: 4 });
  assert.equal(again.status, 400, again.text);
  assert.equal(problemType(again), 'alreadyRevoked');

  const crl = await dev.api.request('GET', '/acme/crl/local');
  assert.equal(crl.status, 200, crl.text);
  assert.equal(crl.headers['content-type'], 'application/pkix-crl');
  const { serials, text } = await crlSerials(dir, crl.buf, cert.chainFile);
  assert.ok(serials.includes(cert.serial), `CRL lacks ${cert.serial}: ${serials}`);
  assert.match(text, /Superseded/);
  // The CRL distribution point in the certificate is that path, over plain http as the
  // Baseline Requirements want (CA/B BR 7.1.2.11.2).
  const cdp = (await openssl(['x509', '-in', cert.leafFile, '-noout', '-ext', 'crlDistributionPoints'])).stdout.toString();
  assert.ok(cdp.includes(`${dev.baseUrl.replace(/^https:/, 'http:')}/acme/crl/local`), cdp);
});

test('revocation signed with the certificate key (jwk); refused for an unrelated account', async () => {
  const cert = need('dnsCert');
  const der = Buffer.from(cert.leafPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  const stranger = await account();
  const refused = await stranger.post(acme.dir.revokeCert, { certificate: b64u(der) });
  assert.equal(refused.status, 403, refused.text);
  assert.equal(problemType(refused), 'unauthorized');

  const certKey = { privateKey: cert.csr.privateKey, jwk: await exportJWK(cert.csr.publicKey) };
  const body = await signJws(certKey, { nonce: await acme.freshNonce(), url: acme.dir.revokeCert, jwk: certKey.jwk },
    { certificate: b64u(der), reason: 1 });
  const res = await dev.api.request('POST', acme.dir.revokeCert, JSON.stringify(body), { 'content-type': 'application/jose+json' });
  assert.equal(res.status, 200, res.text);
  const crl = await dev.api.request('GET', '/acme/crl/local');
  const { serials, text } = await crlSerials(dir, crl.buf, cert.chainFile);
  assert.ok(serials.includes(cert.serial), `CRL lacks ${cert.serial}`);
  assert.ok(serials.includes(need('httpCert').serial), 'the earlier revocation is still listed');
  assert.match(text, /Key Compromise/);
});

test('revocation by another account that holds claims for every name of the certificate (RFC 8555 §7.6)', async () => {
  const cert = need('claimCert');
  const der = Buffer.from(cert.leafPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  const zone = `c-${RUN}.example.net`;
  const other = await account();
  const partial = await dev.admin('POST', `/admin/tenants/${other.id}/claims`, { name: `a.${zone}`, scope: 'exact' });
  assert.equal(partial.status, 201, partial.text);
  const refused = await other.post(acme.dir.revokeCert, { certificate: b64u(der) });
  assert.equal(problemType(refused), 'unauthorized', `a claim for one of two names is not enough: ${refused.text}`);
  const full = await dev.admin('POST', `/admin/tenants/${other.id}/claims`, { name: zone, scope: 'subtree' });
  assert.equal(full.status, 201, full.text);
  const res = await other.post(acme.dir.revokeCert, { certificate: b64u(der), reason: 5 });
  assert.equal(res.status, 200, res.text);
  const crl = await dev.api.request('GET', '/acme/crl/local');
  const { serials } = await crlSerials(dir, crl.buf, cert.chainFile);
  assert.ok(serials.includes(cert.serial), `CRL lacks ${cert.serial}`);
});

test('key change: the new key signs for the account, the old one no longer does', async () => {
  const acct = await account();
  const oldKey = acct.key;
  const newKeyPair = await newKey();
  const inner = await signJws(newKeyPair, { url: acme.dir.keyChange, jwk: newKeyPair.jwk },
    { account: acct.url, oldKey: oldKey.jwk });
  const res = await acct.post(acme.dir.keyChange, inner);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.key, newKeyPair.jwk);

  const withNew = new Account(acme, newKeyPair, acct.url);
  const got = await withNew.postAsGet(acct.url);
  assert.equal(got.status, 200, got.text);
  assert.deepEqual(got.json.key, newKeyPair.jwk);
  const withOld = await acct.postAsGet(acct.url);
  assert.ok(withOld.status >= 400 && withOld.status < 500, `old key still accepted: ${withOld.status} ${withOld.text}`);

  const lookupNew = await acme.newAccount({ key: newKeyPair, onlyReturnExisting: true });
  assert.equal(lookupNew.res.status, 200, lookupNew.res.text);
  assert.equal(lookupNew.res.headers.location, acct.url);
  const lookupOld = await acme.newAccount({ key: oldKey, onlyReturnExisting: true });
  assert.equal(problemType(lookupOld.res), 'accountDoesNotExist', lookupOld.res.text);

  // A key that belongs to another account: 409 with that account's URL (RFC 8555 §7.3.5).
  const other = await account();
  const taken = await signJws(other.key, { url: acme.dir.keyChange, jwk: other.key.jwk },
    { account: acct.url, oldKey: newKeyPair.jwk });
  const conflict = await withNew.post(acme.dir.keyChange, taken);
  assert.equal(conflict.status, 409, conflict.text);
  assert.equal(conflict.headers.location, other.url);
});

test('deactivation: an authorization (its order becomes invalid), then the account (RFC 8555 §7.3.6)', async () => {
  const acct = await account();
  const order = await acct.newOrder([`deact-${RUN}.example.com`]);
  const res = await acct.post(order.authorizations[0], { status: 'deactivated' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.status, 'deactivated');
  assert.equal((await acct.get(order.authorizations[0])).status, 'deactivated');
  assert.equal((await acct.get(order.url)).status, 'invalid');

  const deact = await acct.post(acct.url, { status: 'deactivated' });
  assert.equal(deact.status, 200, deact.text);
  assert.equal(deact.json.status, 'deactivated');
  // §7.3.6: "If a server receives a POST or POST-as-GET from a deactivated account, it
  // MUST return an error response with status code 401 (Unauthorized) and type
  // urn:ietf:params:acme:error:unauthorized."
  for (const [what, r] of [
    ['POST-as-GET account', await acct.postAsGet(acct.url)],
    ['newOrder', await acct.post(acme.dir.newOrder, { identifiers: [{ type: 'dns', value: `x-${RUN}.example.com` }] })],
  ]) {
    assert.equal(problemType(r), 'unauthorized', `${what}: ${r.text}`);
    assert.equal(r.status, 401, `${what}: status`);
  }
  const again = await acme.newAccount({ key: acct.key });
  assert.notEqual(again.res.status, 201, 'a deactivated key must not make a new account');
  assert.equal(problemType(again.res), 'unauthorized', again.res.text);
});

test('JWS checks: wrong url, replayed nonce, missing nonce', async () => {
  const acct = need('claimAccount');
  const wrongUrl = await signJws(acct.key, { nonce: await acme.freshNonce(), url: acme.dir.newOrder, kid: acct.url }, '');
  const r1 = await dev.api.request('POST', acct.url, JSON.stringify(wrongUrl), { 'content-type': 'application/jose+json' });
  assert.equal(problemType(r1), 'unauthorized', r1.text);
  const nonce = await acme.freshNonce();
  const ok = await acct.postAsGet(acct.url, { nonce });
  assert.equal(ok.status, 200, ok.text);
  const replay = await acct.postAsGet(acct.url, { nonce });
  assert.equal(replay.status, 400);
  assert.equal(problemType(replay), 'badNonce');
  const noNonce = await signJws(acct.key, { url: acct.url, kid: acct.url }, '');
  const r3 = await dev.api.request('POST', acct.url, JSON.stringify(noNonce), { 'content-type': 'application/jose+json' });
  assert.equal(problemType(r3), 'badNonce', r3.text);
  const ct = await dev.api.request('POST', acct.url, '{}', { 'content-type': 'application/json' });
  assert.equal(ct.status, 415);
});
