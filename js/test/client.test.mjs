// The TypeScript client (through the package's Node entry) against the local edge-acme
// Worker under `wrangler dev` (scripts/dev.sh): certificates for P-256, P-384 and
// Ed25519 account keys, with EAB, by http-01 and by dns-01 for a wildcard, revocation,
// key change, deactivation, ARI, and the nonce pool's badNonce retry. The Worker checks
// http-01 at our responder and dns-01 through our DoH server. Its development TLS CA is
// trusted with tls.setDefaultCACertificates (Node 22.19+), so the client uses plain fetch().
// The same client also runs a whole issuance inside workerd, in Deno and in Node 18.

import assert from 'node:assert/strict';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import * as acme from '../dist/node.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { DENO, JS_DIR, NODE18, openssl, startDoh, startHttp01, startWorker, startWranglerDev } from './support/servers.mjs';

const RUN = Math.random().toString(36).slice(2, 8);
let worker, http01, doh, dir, acmeRoot;

const solve = {
  'http-01': async (ch) => { http01.tokens.set(ch.token, ch.http01.body); },
  'dns-01': async (ch) => {
    const { name, value } = ch.dns01;
    doh.txt.set(name, [...(doh.txt.get(name) ?? []), value]);
  },
};
const solver = (ch) => solve[ch.type](ch);

async function verifyChain(pem) {
  const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g);
  assert.ok(certs && certs.length >= 2, `chain of ${certs?.length} certificate(s)`);
  const leaf = path.join(dir, `leaf-${Math.random()}.pem`);
  const chain = path.join(dir, `chain-${Math.random()}.pem`);
  await writeFile(leaf, certs[0]);
  await writeFile(chain, certs.slice(1).join(''));
  const { stdout } = await openssl(['verify', '-CAfile', acmeRoot, '-untrusted', chain, leaf]);
  assert.match(stdout, /: OK\s*$/);
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'edge-acme-js-client-'));
  http01 = await startHttp01();
  doh = await startDoh();
  worker = await startWorker(`client-${RUN}`, { EDGE_ACME_HTTP01_ADDR: http01.addr, EDGE_ACME_DOH_URL: doh.url });
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), await readFile(worker.facts.ca_bundle, 'utf8')]);
  acmeRoot = worker.facts.acme_root;
});

after(async () => {
  await worker?.stop();
  await http01?.close();
  await doh?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('issuance', () => {
  for (const kind of ['P-256', 'P-384', 'Ed25519']) {
    test(`${kind} account key: http-01 certificate, verified by openssl against the ACME root`, async () => {
      const client = new acme.AcmeClient(worker.directory, { poll: { interval: 200 } });
      const account = await client.createAccount({ key: acme.generateKey(kind), termsOfServiceAgreed: true, contact: [`mailto:js-${RUN}@example.com`] });
      assert.equal(account.status, 'valid');
      assert.equal(account.created, true);
      const host = `${kind.toLowerCase().replace(/[^a-z0-9]/g, '')}-${RUN}.example.com`;
      const issued = await account.issue({ identifiers: [host, `www.${host}`], solve: solver });
      await verifyChain(issued.pem);
      const info = acme.inspectCertificate(issued.pem);
      assert.deepEqual(info.dnsNames, [host, `www.${host}`].sort());
      assert.ok(issued.certificateKey, 'a certificate key was generated');
      assert.equal(issued.order.status, 'valid');
      // The same key finds the same account.
      const again = await client.findAccount(account.key);
      assert.equal(again.url, account.url);
      assert.equal(again.created, false);
    });
  }

  test('EAB account, dns-01 wildcard, supplied CSR, then revocation shows in ARI and refuses a second revoke', async () => {
    const client = new acme.AcmeClient(worker.directory, { poll: { interval: 200 } });
    const { kid, hmac_key: hmacKey } = worker.facts.eab;
    const account = await client.createAccount({
      key: acme.generateKey('P-256'), termsOfServiceAgreed: true, externalAccountBinding: { kid, hmacKey },
    });
    assert.equal(account.status, 'valid');
    const zone = `wild-${RUN}.example.org`;
    const order = await account.newOrder([zone, `*.${zone}`]);
    const authzs = await order.authorizations();
    const wild = authzs.find((a) => a.wildcard);
    assert.ok(wild, 'a wildcard authorization');
    assert.deepEqual(wild.challenges.map((c) => c.type), ['dns-01'], 'wildcards are offered dns-01 only');
    for (const authz of authzs) {
      if (authz.status === 'valid') continue;
      const ch = authz.challenge('dns-01');
      assert.equal(ch.dns01.name, `_acme-challenge.${zone}`);
      await solver(ch);
      await ch.respond();
    }
    for (const authz of authzs) await authz.waitValid({ interval: 200 });
    await order.waitReady();
    const certKey = acme.generateKey('P-384');
    const csr = acme.createCsr(certKey, [zone, `*.${zone}`]);
    const { certificateKey } = await order.finalize({ csr: csr.pem });
    assert.equal(certificateKey, undefined);
    const chains = await order.certificateChains();
    assert.ok(chains.length >= 1);
    await verifyChain(chains[0].pem);
    const info = acme.inspectCertificate(chains[0].pem);
    assert.deepEqual(info.dnsNames, [`*.${zone}`, zone].sort());
    assert.ok(info.ariCertId, 'the certificate has an ARI CertID');

    const before = await client.renewalInfo(chains[0].pem);
    assert.ok(Date.parse(before.suggestedWindow.start) < Date.parse(before.suggestedWindow.end));

    await account.revokeCertificate(chains[0].pem, 4);
    const afterRevoke = await client.renewalInfo(info.ariCertId);
    assert.ok(Date.parse(afterRevoke.suggestedWindow.start) <= Date.now() + 1000,
      `a revoked certificate should be renewed now: ${JSON.stringify(afterRevoke)}`);
    await assert.rejects(account.revokeCertificate(chains[0].pem), (e) =>
      e instanceof acme.AcmeProblemError && e.shortType === 'alreadyRevoked' && e.status === 400);
  });

  test('revocation by the certificate key (jwk-signed), and an ARI replacement order', async () => {
    const client = new acme.AcmeClient(worker.directory, { poll: { interval: 200 } });
    const account = await client.createAccount({ key: acme.generateKey('P-256'), termsOfServiceAgreed: true });
    const host = `revoke-${RUN}.example.com`;
    const issued = await account.issue({ identifiers: [host], solve: solver });
    const renewal = await account.newOrder({ identifiers: [host], replaces: issued.pem });
    assert.equal(renewal.resource.replaces, acme.inspectCertificate(issued.pem).ariCertId);
    await client.revokeWithCertificateKey(issued.pem, issued.certificateKey, 1);
    await assert.rejects(client.revokeWithCertificateKey(issued.pem, issued.certificateKey),
      (e) => e instanceof acme.AcmeProblemError && e.shortType === 'alreadyRevoked');
  });
});

// The same client in the other runtimes: support/flow.mjs run by a test Worker in
// workerd (wrangler dev; the Worker trusts the dev TLS CA through NODE_EXTRA_CA_CERTS,
// which wrangler passes to workerd) and by Deno (DENO_CERT). They publish challenge
// answers through the responders' PUT endpoints; the chain is verified here.
describe('other runtimes', () => {
  const job = (kind, names, eab) => ({
    directory: worker.directory, http01: `http://${http01.addr}/`, doh: doh.url, kind, names, eab,
  });
  async function check(result, kind, names) {
    assert.equal(result.orderStatus, 'valid');
    assert.equal(result.accountAlg, acme.generateKey(kind).alg);
    assert.deepEqual(result.dnsNames, [...names].sort());
    assert.equal(result.secondRevocation, 'alreadyRevoked');
    await verifyChain(result.pem);
    // The server agrees it is revoked: ARI says renew now.
    const ari = await new acme.AcmeClient(worker.directory).renewalInfo(result.pem);
    assert.ok(Date.parse(ari.suggestedWindow.start) <= Date.now() + 1000, JSON.stringify(ari));
  }

  test('inside workerd: P-256 and Ed25519 accounts, http-01, an EAB account with a dns-01 wildcard, revocation', async () => {
    const runtime = await startWranglerDev(path.join(JS_DIR, 'test/workerd'), { NODE_EXTRA_CA_CERTS: worker.facts.ca_bundle });
    try {
      const { kid, hmac_key: hmacKey } = worker.facts.eab;
      const zone = `workerd-wild-${RUN}.example.org`;
      const jobs = [
        ['P-256', [`workerd-p256-${RUN}.example.com`]],
        ['Ed25519', [`workerd-ed-${RUN}.example.com`]],
        ['P-384', [zone, `*.${zone}`], { kid, hmacKey }],
      ];
      for (const [kind, names, eab] of jobs) {
        const res = await fetch(runtime.url, { method: 'POST', body: JSON.stringify(job(kind, names, eab)) });
        const body = await res.json();
        assert.equal(res.status, 200, `${JSON.stringify(body)}\n${runtime.log().slice(-2000)}`);
        await check(body, kind, names);
      }
    } finally {
      await runtime.stop();
    }
  });

  test('in Deno: a P-384 account, http-01, revocation', async () => {
    const names = [`deno-${RUN}.example.com`, `www.deno-${RUN}.example.com`];
    const { stdout } = await promisify(execFile)(DENO, [
      'run', '--no-prompt', '--allow-read', '--allow-net', 'test/run-flow.mjs', JSON.stringify(job('P-384', names)),
    ], { cwd: JS_DIR, env: { ...process.env, DENO_CERT: worker.facts.ca_bundle, NO_COLOR: '1' } });
    await check(JSON.parse(stdout), 'P-384', names);
  });

  test('in Node 18 (the oldest supported): an Ed25519 account, http-01, revocation', async () => {
    const names = [`node18-${RUN}.example.com`];
    const { stdout } = await promisify(execFile)(NODE18, ['test/run-flow.mjs', JSON.stringify(job('Ed25519', names))], {
      cwd: JS_DIR, env: { ...process.env, NODE_EXTRA_CA_CERTS: worker.facts.ca_bundle, NODE_NO_WARNINGS: '1' },
    });
    await check(JSON.parse(stdout), 'Ed25519', names);
  });
});

describe('accounts', () => {
  test('onlyReturnExisting for an unknown key is accountDoesNotExist', async () => {
    const client = new acme.AcmeClient(worker.directory);
    await assert.rejects(client.findAccount(acme.generateKey('P-256')), (e) =>
      e instanceof acme.AcmeProblemError && e.type === 'urn:ietf:params:acme:error:accountDoesNotExist' && e.status === 400);
  });

  test('key change moves the account to the new key; the old key finds nothing', async () => {
    const client = new acme.AcmeClient(worker.directory);
    const oldKey = acme.generateKey('P-256');
    const account = await client.createAccount({ key: oldKey, termsOfServiceAgreed: true });
    const newKey = acme.generateKey('Ed25519');
    await account.changeKey(newKey);
    assert.equal((await client.findAccount(newKey)).url, account.url);
    await assert.rejects(client.findAccount(oldKey), (e) => e.shortType === 'accountDoesNotExist');
    await account.update({ contact: [`mailto:changed-${RUN}@example.com`] });
    assert.deepEqual(account.resource.contact, [`mailto:changed-${RUN}@example.com`]);
  });

  test('a deactivated account is refused afterwards', async () => {
    const client = new acme.AcmeClient(worker.directory);
    const account = await client.createAccount({ key: acme.generateKey('P-256'), termsOfServiceAgreed: true });
    assert.equal((await account.deactivate()).status, 'deactivated');
    await assert.rejects(account.newOrder([`gone-${RUN}.example.com`]), (e) => e.shortType === 'unauthorized');
  });

  test('an authorization can be deactivated', async () => {
    const client = new acme.AcmeClient(worker.directory);
    const account = await client.createAccount({ key: acme.generateKey('P-256'), termsOfServiceAgreed: true });
    const order = await account.newOrder([`deact-authz-${RUN}.example.com`]);
    const [authz] = await order.authorizations();
    assert.equal((await authz.deactivate()).status, 'deactivated');
  });
});

describe('nonces and problems', () => {
  test('a stale nonce is answered badNonce and retried once with the fresh one', async () => {
    const client = new acme.AcmeClient(worker.directory);
    const account = await client.createAccount({ key: acme.generateKey('P-256'), termsOfServiceAgreed: true });
    // Poison the pool with a nonce the server never issued.
    const n = await client.nonce();
    client['nonces'].push(`${n.slice(0, -4)}AAAA`);
    await account.refresh();
    assert.equal(client.stats.badNonceRetries, 1);
  });

  test('a rejected identifier surfaces as a typed AcmeProblemError', async () => {
    const client = new acme.AcmeClient(worker.directory);
    const account = await client.createAccount({ key: acme.generateKey('P-256'), termsOfServiceAgreed: true });
    await assert.rejects(account.newOrder(['localhost']), (e) =>
      e instanceof acme.AcmeProblemError && e.status >= 400 && e.type.startsWith('urn:ietf:params:acme:error:'));
  });
});
