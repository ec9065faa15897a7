// Persistence across a restart of `wrangler dev` (scripts/dev.sh, same --persist-to and
// dev-state): stopped in the middle of orders (one authorized but not finalized, one
// still pending), the accounts, orders, authorizations, claims, EAB state, certificates
// and revocations are all still there afterwards, the orders can be completed, and the
// ACME root is byte-identical. One dev server (started twice) for the whole file.
// Run: scripts/test.sh worker   (or: node --test tests/worker/persistence.test.mjs)

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import {
  Account, Acme, crlSerials, makeCsr, problemType, runId, startServerForFile, stopServerForFile, verifyChain,
} from './lib.mjs';

const RUN = runId();
let dev, acme, http01, dir;
const saved = {}; // facts from before the restart

let server;
before(async () => {
  server = await startServerForFile({ name: 'persistence', http01: true, env: { EDGE_ACME_SKIP_CAA: 'true' } });
  ({ dev, acme, http01, dir } = server);
});
after(() => stopServerForFile(server));

const need = (key) => {
  assert.ok(saved[key], `needs ${key} from before the restart (see the first failure)`);
  return saved[key];
};

async function authorizeHttp01(acct, order) {
  for (const u of order.authorizations) {
    const authz = await acct.get(u);
    const { token } = authz.challenges.find((c) => c.type === 'http-01');
    http01.tokens.set(token, acct.keyAuthorization(token));
    assert.equal((await acct.validate(u, 'http-01')).status, 'valid');
  }
}

test('before the restart: a certificate issued and revoked, one order ready, one pending, an EAB account, a claim', async () => {
  assert.ok(dev?.api, 'dev server is not running');
  const { res, account } = await acme.newAccount();
  assert.equal(res.status, 201, res.text);
  saved.account = account;
  // A nonce handed out now and used only after the restart: nonces are signed with a key
  // kept in Durable Object state, so they outlive the process.
  saved.nonce = (await dev.api.request('HEAD', acme.dir.newNonce)).headers['replay-nonce'];

  const n1 = `p1-${RUN}.example.com`;
  const o1 = await account.newOrder([n1]);
  await authorizeHttp01(account, o1);
  const fin = await account.finalize(o1, (await makeCsr(dir, [n1])).der);
  assert.equal(fin.status, 200, fin.text);
  const done = await account.pollOrder(o1.url);
  assert.equal(done.status, 'valid');
  const { pem } = await account.certificate(done.certificate);
  const cert1 = await verifyChain(dir, pem, dev.facts.acme_root);
  const revoked = await dev.admin('POST', `/admin/certificates/${cert1.serial}/revoke`, { reason: 5 });
  assert.equal(revoked.status, 200, revoked.text);
  saved.o1 = { ...done, url: o1.url, pem, serial: cert1.serial, chainFile: cert1.chainFile };

  const n2 = `p2-${RUN}.example.com`;
  const o2 = await account.newOrder([n2]);
  await authorizeHttp01(account, o2);
  assert.equal((await account.get(o2.url)).status, 'ready');
  saved.o2 = { ...o2, name: n2 };

  const n3 = `p3-${RUN}.example.com`;
  const o3 = await account.newOrder([n3]);
  assert.equal(o3.status, 'pending');
  saved.o3 = { ...o3, name: n3 };

  const eab = await acme.newAccount({ eab: dev.facts.eab });
  assert.equal(eab.res.status, 201, eab.res.text);
  saved.eabAccount = eab.account;
  const zone = `zone-${RUN}.example.net`;
  const claim = await dev.admin('POST', `/admin/tenants/${account.id}/claims`, { name: zone, scope: 'subtree' });
  assert.equal(claim.status, 201, claim.text);
  saved.zone = zone;

  saved.facts = dev.facts;
  saved.rootBytes = await readFile(dev.facts.acme_root);
  saved.rootFile = path.join(dir, 'root-before.pem');
  await writeFile(saved.rootFile, saved.rootBytes);
  saved.rootServed = (await dev.api.request('GET', '/dev/acme-root.pem')).buf;
  saved.issuer = (await dev.api.request('GET', '/acme/issuer/local')).buf;
  assert.ok(saved.rootServed.equals(saved.rootBytes), 'dev.json acme_root is what the server serves');
});

test('restart: dev.sh stops cleanly on SIGTERM and comes back on the same state', async (t) => {
  need('facts');
  const stopped = await dev.stop();
  assert.ok(stopped.clean, 'dev.sh left processes behind after SIGTERM');
  assert.ok(!stopped.reloaded, 'wrangler reloaded the Worker before the restart: worker/build/ changed');
  await assert.rejects(new Promise((resolve, reject) => {
    const s = net.connect(dev.port, '127.0.0.1', () => { s.destroy(); resolve(); });
    s.on('error', reject);
  }), 'the port still accepts connections after the stop');
  await dev.start();
  t.diagnostic(`restarted, ready in ${(dev.readyMs / 1000).toFixed(1)} s`);
  acme = await new Acme(dev).init();
  assert.equal(dev.facts.admin_token, saved.facts.admin_token);
  assert.equal(dev.facts.eab.kid, saved.facts.eab.kid, 'the dev EAB credential is kept');
  const root = await readFile(dev.facts.acme_root);
  assert.ok(root.equals(saved.rootBytes), 'the ACME root changed across the restart');
  assert.ok((await dev.api.request('GET', '/dev/acme-root.pem')).buf.equals(saved.rootBytes));
  assert.ok((await dev.api.request('GET', '/acme/issuer/local')).buf.equals(saved.issuer), 'the issuing CA changed');
});

test('after the restart: account, orders, authorizations, certificate, revocation, claims and EAB state are there', async () => {
  const old = need('account');
  const account = new Account(acme, old.key, old.url);
  const first = await account.postAsGet(account.url, { nonce: need('nonce') });
  assert.equal(first.status, 200, `a nonce from before the restart: ${first.text}`);
  const acct = await account.get(account.url);
  assert.equal(acct.status, 'valid');
  assert.deepEqual(acct.key, old.key.jwk);
  const again = await acme.newAccount({ key: old.key, onlyReturnExisting: true });
  assert.equal(again.res.status, 200, again.res.text);
  assert.equal(again.res.headers.location, account.url);

  const list = await account.get(acct.orders);
  for (const o of [saved.o1, saved.o2, saved.o3]) assert.ok(list.orders.includes(o.url), `orders list lacks ${o.url}`);
  const o1 = await account.get(saved.o1.url);
  assert.equal(o1.status, 'valid');
  assert.equal(o1.certificate, saved.o1.certificate);
  const { pem } = await account.certificate(o1.certificate);
  assert.equal(pem, saved.o1.pem, 'the certificate chain changed');
  assert.equal((await account.get(saved.o2.url)).status, 'ready');
  for (const u of saved.o2.authorizations) assert.equal((await account.get(u)).status, 'valid');
  assert.equal((await account.get(saved.o3.url)).status, 'pending');

  const crl = await dev.api.request('GET', '/acme/crl/local');
  assert.equal(crl.status, 200);
  const { serials } = await crlSerials(dir, crl.buf, saved.o1.chainFile);
  assert.ok(serials.includes(saved.o1.serial), 'the revocation is still on the CRL');
  const twice = await dev.admin('POST', `/admin/certificates/${saved.o1.serial}/revoke`, {});
  assert.equal(problemType(twice), 'alreadyRevoked', twice.text);

  const claims = await dev.admin('GET', `/admin/tenants/${account.id}/claims`);
  const names = claims.json.claims.map((c) => c.name);
  for (const n of [saved.zone, `p1-${RUN}.example.com`, `p2-${RUN}.example.com`]) assert.ok(names.includes(n), `claims lack ${n}`);
  assert.equal((await account.newOrder([`x.${saved.zone}`])).status, 'ready');

  const eab = await dev.admin('GET', `/admin/eab/${saved.facts.eab.kid}`);
  assert.equal(eab.json.macKeyUses, 1, eab.text);
  const tenant = await dev.admin('GET', `/admin/tenants/${saved.facts.eab.kid}/accounts`);
  assert.deepEqual(tenant.json.accounts, [need('eabAccount').url]);
  const eabAcct = new Account(acme, saved.eabAccount.key, saved.eabAccount.url);
  assert.equal((await eabAcct.get(eabAcct.url)).status, 'valid');
});

test('after the restart: the authorized order is finalized and the pending one completed, chaining to the old root', async () => {
  const old = need('account');
  const account = new Account(acme, old.key, old.url);
  const o2 = need('o2');
  const fin = await account.finalize(o2, (await makeCsr(dir, [o2.name])).der);
  assert.equal(fin.status, 200, fin.text);
  const done2 = await account.pollOrder(o2.url);
  assert.equal(done2.status, 'valid');
  const c2 = await verifyChain(dir, (await account.certificate(done2.certificate)).pem, saved.rootFile);
  assert.deepEqual(c2.names, [o2.name]);

  const o3 = need('o3');
  const authz = await account.get(o3.authorizations[0]);
  const { token } = authz.challenges.find((c) => c.type === 'http-01');
  http01.tokens.set(token, account.keyAuthorization(token));
  assert.equal((await account.validate(o3.authorizations[0], 'http-01')).status, 'valid');
  const fin3 = await account.finalize(o3, (await makeCsr(dir, [o3.name])).der);
  assert.equal(fin3.status, 200, fin3.text);
  const done3 = await account.pollOrder(o3.url);
  const c3 = await verifyChain(dir, (await account.certificate(done3.certificate)).pem, saved.rootFile);
  assert.deepEqual(c3.names, [o3.name]);
  assert.notEqual(c3.serial, c2.serial);
});
