// Cross-checks of the wasm API against independent implementations, through the
// package's Node entry (dist/node.js): openssl verifies CSRs and reads keys and
// certificates, npm jose verifies JWS and EAB bindings, WebCrypto trades keys both ways.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as jose from 'jose';
import * as acme from '../dist/node.js';
import { JS_DIR, ROOT, openssl } from './support/servers.mjs';

const RSA_PK8 = await readFile(path.join(ROOT, 'core/src/testdata/rsa2048.pk8.der'));
const KINDS = ['P-256', 'P-384', 'P-521', 'Ed25519', 'RSA'];
const keyOf = (kind) => (kind === 'RSA' ? acme.importKey(new Uint8Array(RSA_PK8)) : acme.generateKey(kind));

let dir;
before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'edge-acme-js-wasm-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

describe('CSRs', () => {
  for (const kind of ['P-256', 'P-384', 'RSA', 'Ed25519']) {
    test(`a ${kind} CSR passes openssl req -verify and lists every name`, async () => {
      const key = keyOf(kind);
      const csr = acme.createCsr(key, ['a.example.com', '*.b.example.com', '192.0.2.7', '2001:db8::9']);
      const file = path.join(dir, `csr-${kind}.pem`);
      await writeFile(file, csr.pem);
      const { stdout, stderr } = await openssl(['req', '-in', file, '-verify', '-noout', '-text']);
      assert.match(stderr + stdout, /verify OK|Certificate request self-signature verify OK/);
      for (const n of ['DNS:a.example.com', 'DNS:*.b.example.com', 'IP Address:192.0.2.7', 'IP Address:2001:DB8:0:0:0:0:0:9']) {
        assert.ok(stdout.includes(n), `${n} missing in\n${stdout}`);
      }
      assert.equal(csr.base64url, Buffer.from(csr.der).toString('base64url'));
      // The public key in the CSR is the key's.
      const pub = (await openssl(['req', '-in', file, '-pubkey', '-noout'])).stdout;
      const spki = Buffer.from(pub.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      assert.deepEqual(new Uint8Array(spki), key.toSpkiDer());
    });
  }
});

describe('JWS and EAB verified by npm jose', () => {
  for (const kind of KINDS) {
    test(`${kind}: jwk- and kid-signed JWS verify with jose`, async () => {
      const key = keyOf(kind);
      const publicJwk = acme.exportJwk(key);
      const joseKey = await jose.importJWK(publicJwk, key.alg);
      const jws = acme.signJws(key, { url: 'https://ca.example/new-acct', nonce: 'bm9uY2U' }, { termsOfServiceAgreed: true });
      const r = await jose.flattenedVerify(jws, joseKey);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(r.payload)), { termsOfServiceAgreed: true });
      assert.equal(r.protectedHeader.alg, key.alg);
      assert.deepEqual(r.protectedHeader.jwk, publicJwk);
      assert.equal(r.protectedHeader.nonce, 'bm9uY2U');
      const byKid = acme.signJws(key, { url: 'https://ca.example/order/1', nonce: 'x', kid: 'https://ca.example/acct/1' });
      const r2 = await jose.flattenedVerify(byKid, joseKey);
      assert.equal(r2.payload.length, 0);
      assert.equal(r2.protectedHeader.kid, 'https://ca.example/acct/1');
      assert.equal(acme.thumbprint(key), await jose.calculateJwkThumbprint(publicJwk, 'sha256'));
      assert.equal(acme.thumbprint(publicJwk), acme.thumbprint(key));
    });
  }

  test('an EAB binding verifies with jose under the MAC key', async () => {
    const key = acme.generateKey('P-256');
    const mac = Buffer.from('a-32-byte-mac-key-for-the-tests!').toString('base64url');
    for (const alg of ['HS256', 'HS384', 'HS512']) {
      const b = acme.eabBinding('kid-1', mac, key, 'https://ca.example/new-acct', alg);
      const r = await jose.flattenedVerify(b, Buffer.from(mac, 'base64url'));
      assert.deepEqual(r.protectedHeader, { alg, kid: 'kid-1', url: 'https://ca.example/new-acct' });
      assert.deepEqual(JSON.parse(new TextDecoder().decode(r.payload)), acme.exportJwk(key));
    }
  });

  test('key authorization and dns-01 value match a jose-computed thumbprint', async () => {
    const key = acme.generateKey('P-384');
    const tp = await jose.calculateJwkThumbprint(acme.exportJwk(key), 'sha256');
    const ka = acme.keyAuthorization('tok', key);
    assert.equal(ka, `tok.${tp}`);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(ka)));
    assert.equal(acme.dns01TxtValue(ka), Buffer.from(digest).toString('base64url'));
  });
});

describe('WebCrypto and openssl keys', () => {
  const webcrypto = {
    'P-256': [{ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' }],
    'P-384': [{ name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-384' }],
    Ed25519: [{ name: 'Ed25519' }, { name: 'Ed25519' }],
    RSA: [{ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, { name: 'RSASSA-PKCS1-v1_5' }],
  };
  for (const [kind, [gen, sign]] of Object.entries(webcrypto)) {
    test(`${kind}: a WebCrypto key imports here, and a key made here signs in WebCrypto`, async () => {
      const pair = await crypto.subtle.generateKey(gen, true, ['sign', 'verify']);
      const imported = await acme.importCryptoKey(pair.privateKey);
      const jws = acme.signJws(imported, { url: 'https://ca.example/x' }, 'hello');
      const ok = await crypto.subtle.verify(sign, pair.publicKey, Buffer.from(jws.signature, 'base64url'),
        new TextEncoder().encode(`${jws.protected}.${jws.payload}`));
      assert.ok(ok, 'WebCrypto verifies a JWS signed with its key imported here');
      const fromJwk = acme.importKey(await crypto.subtle.exportKey('jwk', pair.privateKey));
      assert.equal(fromJwk.thumbprint(), imported.thumbprint());

      const mine = kind === 'RSA' ? keyOf('RSA') : acme.generateKey(kind);
      const { privateKey } = await acme.exportCryptoKey(mine);
      const input = new TextEncoder().encode('signed in WebCrypto');
      const sig = new Uint8Array(await crypto.subtle.sign(sign, privateKey, input));
      const compact = `${Buffer.from(JSON.stringify({ alg: mine.alg })).toString('base64url')}.${Buffer.from(input).toString('base64url')}`;
      const sig2 = new Uint8Array(await crypto.subtle.sign(sign, privateKey, new TextEncoder().encode(compact)));
      const r = await jose.compactVerify(`${compact}.${Buffer.from(sig2).toString('base64url')}`, await jose.importJWK(acme.exportJwk(mine), mine.alg));
      assert.equal(new TextDecoder().decode(r.payload), 'signed in WebCrypto');
      assert.ok(sig.length > 0);
      // The private JWK imports into WebCrypto too.
      await crypto.subtle.importKey('jwk', acme.exportJwk(mine, { private: true }), kind === 'RSA' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : gen, false, ['sign']);
    });
  }

  test('openssl keys import: PKCS#8, SEC1 with EC PARAMETERS, PKCS#1 RSA; PKCS#8 out reads in openssl', async () => {
    const sec1 = (await openssl(['ecparam', '-name', 'prime256v1', '-genkey'])).stdout;
    assert.match(sec1, /EC PARAMETERS[\s\S]*EC PRIVATE KEY/);
    const k1 = acme.importKey(sec1);
    assert.equal(k1.kind, 'P-256');
    const rsaFile = path.join(dir, 'rsa.pem');
    await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', rsaFile]);
    const pkcs1 = (await openssl(['rsa', '-in', rsaFile, '-traditional'])).stdout;
    assert.match(pkcs1, /BEGIN RSA PRIVATE KEY/);
    const k2 = acme.importKey(pkcs1);
    assert.equal(k2.alg, 'RS256');
    assert.equal(acme.importKey(await readFile(rsaFile, 'utf8')).thumbprint(), k2.thumbprint());
    for (const kind of ['P-256', 'P-384', 'Ed25519']) {
      const file = path.join(dir, `k-${kind}.pem`);
      const key = acme.generateKey(kind);
      await writeFile(file, acme.exportPkcs8Pem(key));
      const pub = (await openssl(['pkey', '-in', file, '-pubout', '-outform', 'DER'])).stdout;
      assert.ok(pub.length > 0);
    }
  });

  test('a key with a weak RSA modulus is refused with badPublicKey', async () => {
    const file = path.join(dir, 'rsa1024.pem');
    await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', file]);
    assert.throws(() => acme.importKey(readFileSync(file, 'utf8')), (e) => acme.isAcmeError(e) && e.type === 'urn:ietf:params:acme:error:badPublicKey');
  });
});

describe('certificates', () => {
  test('inspectCertificate agrees with openssl', async () => {
    const pem = await readFile(path.join(JS_DIR, 'tests/fixtures/chain.pem'), 'utf8');
    const info = acme.inspectCertificate(pem);
    const leaf = path.join(dir, 'leaf.pem');
    await writeFile(leaf, acme.derToPem('CERTIFICATE', acme.pemCertificates(pem)[0]));
    const text = (await openssl(['x509', '-in', leaf, '-noout', '-serial', '-issuer', '-nameopt', 'RFC2253', '-enddate'])).stdout;
    assert.equal(info.serial, text.match(/serial=0*([0-9A-F]+)/)[1].toLowerCase());
    assert.equal(info.issuer, text.match(/issuer=(.*)/)[1]);
    assert.equal(new Date(info.notAfter).getTime(), new Date(text.match(/notAfter=(.*)/)[1]).getTime());
    assert.deepEqual(info.dnsNames, ['example.com', 'www.example.com']);
    assert.equal(info.chainLength, 2);
    assert.equal(acme.inspectCertificate(acme.pemCertificates(pem)[1]).isCa, true);
  });
});

