// WebCrypto side of the cross-checks in tests/wasm_api.rs. Runs in Node (global
// `crypto`, Node 19+) and in Chromium under wasm-bindgen-test.

const b64u = (bytes) => {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};
const fromB64u = (t) => {
  const s = atob(t.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (t.length % 4)) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
};

function params(kind) {
  if (kind === 'Ed25519') return { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } };
  if (kind === 'RSA') {
    return {
      gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      sign: { name: 'RSASSA-PKCS1-v1_5' },
    };
  }
  const hash = kind === 'P-256' ? 'SHA-256' : kind === 'P-384' ? 'SHA-384' : 'SHA-512';
  return { gen: { name: 'ECDSA', namedCurve: kind }, sign: { name: 'ECDSA', hash } };
}

/** Generates a WebCrypto key pair; returns its PKCS#8 DER, private JWK and a signer. */
export async function webcryptoKey(kind) {
  const p = params(kind);
  const pair = await crypto.subtle.generateKey(p.gen, true, ['sign', 'verify']);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
  const jwk = JSON.stringify(await crypto.subtle.exportKey('jwk', pair.privateKey));
  const publicJwk = JSON.stringify(await crypto.subtle.exportKey('jwk', pair.publicKey));
  return { pkcs8, jwk, publicJwk };
}

/** Verifies a flattened JWS (JSON text) with WebCrypto, importing `jwkJson` (public). */
export async function webcryptoVerifyJws(kind, jwsJson, jwkJson) {
  const p = params(kind);
  const jws = JSON.parse(jwsJson);
  const jwk = JSON.parse(jwkJson);
  const importParams = kind === 'RSA' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : p.gen;
  const key = await crypto.subtle.importKey('jwk', jwk, importParams, true, ['verify']);
  const input = new TextEncoder().encode(`${jws.protected}.${jws.payload}`);
  return crypto.subtle.verify(p.sign, key, fromB64u(jws.signature), input);
}

/** Imports a PKCS#8 key made by wasm into WebCrypto, signs `text`, returns base64url. */
export async function webcryptoSignWithPkcs8(kind, pkcs8, text) {
  const p = params(kind);
  const importParams = kind === 'RSA' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : p.gen;
  const key = await crypto.subtle.importKey('pkcs8', pkcs8, importParams, false, ['sign']);
  return b64u(await crypto.subtle.sign(p.sign, key, new TextEncoder().encode(text)));
}

/** Imports a private JWK made by wasm into WebCrypto (throws if WebCrypto refuses it). */
export async function webcryptoImportJwk(kind, jwkJson) {
  const p = params(kind);
  const importParams = kind === 'RSA' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : p.gen;
  await crypto.subtle.importKey('jwk', JSON.parse(jwkJson), importParams, false, ['sign']);
  return true;
}

/** Whether this runtime's WebCrypto knows Ed25519 (Chromium 137+, Node 18.4+). */
export async function webcryptoHasEd25519() {
  try {
    await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign']);
    return true;
  } catch {
    return false;
  }
}
