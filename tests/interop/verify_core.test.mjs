// npm jose verifies JWS and EAB objects signed by core/ (node --test).
// Objects: `cargo run -p edge-acme-core --example emit_vectors`, file in EDGE_ACME_CORE_VECTORS.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { base64url, calculateJwkThumbprint, flattenedVerify, importJWK } from 'jose';

const doc = JSON.parse(readFileSync(process.env.EDGE_ACME_CORE_VECTORS, 'utf8'));
const text = (bytes) => new TextDecoder().decode(bytes);

test('core emits every algorithm npm jose checks', () => {
  const algs = new Set(doc.jws.map((v) => v.alg));
  for (const alg of ['EdDSA', 'ES256', 'ES384', 'ES512', 'RS256']) assert.ok(algs.has(alg), alg);
  assert.ok(doc.eab.length > 0);
});

for (const v of doc.jws) {
  test(`jose verifies core JWS ${v.name}`, async () => {
    const key = await importJWK(v.jwk, v.alg);
    const { protectedHeader: h, payload } = await flattenedVerify(v.jws, key);
    assert.equal(h.alg, v.alg);
    assert.equal(h.url, v.url);
    assert.equal(h.nonce, v.nonce);
    if (v.kid === null) {
      assert.deepEqual(h.jwk, v.jwk);
      assert.equal(h.kid, undefined);
    } else {
      assert.equal(h.kid, v.kid);
      assert.equal(h.jwk, undefined);
    }
    if (v.payload === null) assert.equal(payload.length, 0);
    else assert.deepEqual(JSON.parse(text(payload)), v.payload);
  });

  test(`jose rejects core JWS ${v.name} with a changed payload`, async () => {
    const key = await importJWK(v.jwk, v.alg);
    const forged = { ...v.jws, payload: base64url.encode('{"status":"deactivated"}') };
    await assert.rejects(flattenedVerify(forged, key), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  test(`jose thumbprint equals core for ${v.name}`, async () => {
    assert.equal(await calculateJwkThumbprint(v.jwk, 'sha256'), v.thumbprint);
  });
}

for (const v of doc.eab) {
  test(`jose verifies core EAB ${v.name}`, async () => {
    const { protectedHeader: h, payload } = await flattenedVerify(v.binding, base64url.decode(v.mac_key));
    assert.deepEqual(Object.keys(h).sort(), ['alg', 'kid', 'url']);
    assert.equal(h.alg, v.alg);
    assert.equal(h.kid, v.kid);
    assert.equal(h.url, v.url);
    assert.deepEqual(JSON.parse(text(payload)), v.account_jwk);
  });
}
