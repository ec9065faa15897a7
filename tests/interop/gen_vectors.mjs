// Writes JWS and EAB objects signed by the npm `jose` library (WebCrypto underneath).
// core/tests/interop.rs verifies every object in the file this writes.
// Usage: node gen_vectors.mjs OUT.json
import { writeFileSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { FlattenedSign, base64url, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

const NEW_ACCOUNT_URL = 'https://acme.test/acme/new-account';
const ORDER_URL = 'https://acme.test/acme/new-order';
const ACCOUNT_KID = 'https://acme.test/acme/acct/9Kq1';
const enc = new TextEncoder();

// alg -> generateKeyPair options
const SIGNERS = {
  EdDSA: { crv: 'Ed25519' },
  ES256: {},
  ES384: {},
  RS256: { modulusLength: 2048 },
  // RFC 7518 §3.5: salt as long as the hash. josepy's PS256 uses the longest salt
  // instead, which RFC 7518 verifiers (core, WebCrypto) reject, so PS256 comes from here.
  PS256: { modulusLength: 2048 },
};

async function jwsVector(name, alg, keys, payload, kid) {
  const jwk = await exportJWK(keys.publicKey);
  const nonce = base64url.encode(randomBytes(16));
  const header = { alg, nonce, url: ORDER_URL, ...(kid ? { kid } : { jwk }) };
  const jws = await new FlattenedSign(payload).setProtectedHeader(header).sign(keys.privateKey);
  return {
    name, alg, jws, jwk,
    thumbprint: await calculateJwkThumbprint(jwk, 'sha256'),
    url: ORDER_URL, nonce, kid: kid ?? null,
    payload: payload.length ? JSON.parse(new TextDecoder().decode(payload)) : null,
  };
}

const payload = enc.encode(JSON.stringify({ identifiers: [{ type: 'dns', value: '*.example.net' }] }));
const vectors = [];
const keys = {};
for (const [alg, opts] of Object.entries(SIGNERS)) {
  keys[alg] = await generateKeyPair(alg, { ...opts, extractable: true });
  vectors.push(await jwsVector(`jose-${alg}-jwk`, alg, keys[alg], payload));
  vectors.push(await jwsVector(`jose-${alg}-kid`, alg, keys[alg], payload, ACCOUNT_KID));
}
vectors.push(await jwsVector('jose-EdDSA-post-as-get', 'EdDSA', keys.EdDSA, new Uint8Array(0), ACCOUNT_KID));

// RFC 8555 §7.3.4: the binding's payload is the account's public JWK, MACed with the CA-issued key.
const eab = [];
for (const [alg, size] of [['HS256', 32], ['HS384', 48], ['HS512', 64]]) {
  for (const acct of ['EdDSA', 'ES384']) {
    const accountJwk = await exportJWK(keys[acct].publicKey);
    const macKey = randomBytes(size);
    const kid = `kid-${alg.toLowerCase()}-${acct.toLowerCase()}`;
    const binding = await new FlattenedSign(enc.encode(JSON.stringify(accountJwk)))
      .setProtectedHeader({ alg, kid, url: NEW_ACCOUNT_URL })
      .sign(new Uint8Array(macKey));
    eab.push({
      name: `jose-${alg}-${acct}`, alg, binding, account_jwk: accountJwk,
      mac_key: base64url.encode(macKey), kid, url: NEW_ACCOUNT_URL,
    });
  }
}

const joseVersion = JSON.parse(readFileSync(new URL('./node_modules/jose/package.json', import.meta.url))).version;
const doc = { generator: `jose ${joseVersion} on Node ${process.version}`, jws: vectors, eab };
writeFileSync(process.argv[2], JSON.stringify(doc, null, 1) + '\n');
console.log(`gen_vectors.mjs: ${vectors.length} JWS, ${eab.length} EAB -> ${process.argv[2]}`);
