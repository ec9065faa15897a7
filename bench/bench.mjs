// Micro-benchmark driver (bench/run.sh calls it; not part of the test run).
//   node bench.mjs workload OUT.json
//       signs one ES256 JWS, one RS256 JWS (both with a `jwk` header, like newAccount)
//       and one HS256 external account binding with WebCrypto, for all three contenders.
//   node bench.mjs run WORKLOAD.json NATIVE.json WASM_PKG_DIR
//       measures core compiled to wasm (in this Node) and WebCrypto (crypto.subtle) on
//       the same objects, reads the native results, prints ops/s and the ratios.
// One operation is what a server does per request: parse the flattened JWS JSON, decode
// the header, import the key it names, verify. Each contender is checked to accept the
// object before it is timed.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import os from 'node:os';

const { subtle } = globalThis.crypto;
const enc = new TextEncoder();
const b64u = (bytes) => Buffer.from(bytes).toString('base64url');
const unb64u = (s) => new Uint8Array(Buffer.from(s, 'base64url'));
const NEW_ACCOUNT_URL = 'https://acme.test/acme/new-account';

async function signJws(alg, algorithm, keyPair, payload) {
  const jwk = await subtle.exportKey('jwk', keyPair.publicKey);
  const pub = alg === 'RS256' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  const header = { alg, jwk: pub, nonce: b64u(crypto.getRandomValues(new Uint8Array(16))), url: NEW_ACCOUNT_URL };
  const protectedB64 = b64u(enc.encode(JSON.stringify(header)));
  const payloadB64 = b64u(enc.encode(JSON.stringify(payload)));
  const sig = await subtle.sign(algorithm, keyPair.privateKey, enc.encode(`${protectedB64}.${payloadB64}`));
  return { jws: { protected: protectedB64, payload: payloadB64, signature: b64u(sig) }, jwk: pub };
}

async function makeWorkload(out) {
  const es = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const rs = await subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true, ['sign', 'verify']);
  const es256 = await signJws('ES256', { name: 'ECDSA', hash: 'SHA-256' }, es, { termsOfServiceAgreed: true });
  const rs256 = await signJws('RS256', { name: 'RSASSA-PKCS1-v1_5' }, rs, { termsOfServiceAgreed: true });
  // EAB: HS256 over the ES256 account key, as a newAccount request would carry it.
  const macKey = crypto.getRandomValues(new Uint8Array(32));
  const hmac = await subtle.importKey('raw', macKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const protectedB64 = b64u(enc.encode(JSON.stringify({ alg: 'HS256', kid: 'bench-kid', url: NEW_ACCOUNT_URL })));
  const payloadB64 = b64u(enc.encode(JSON.stringify(es256.jwk)));
  const mac = await subtle.sign('HMAC', hmac, enc.encode(`${protectedB64}.${payloadB64}`));
  const eab = {
    binding: { protected: protectedB64, payload: payloadB64, signature: b64u(mac) },
    account_jwk: es256.jwk, mac_key: b64u(macKey), url: NEW_ACCOUNT_URL,
  };
  writeFileSync(out, JSON.stringify({ es256, rs256, eab }, null, 1));
}

// --- WebCrypto contender: the same work per operation as core's verify path --------------
const IMPORT = {
  ES256: [{ name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' }],
  RS256: [{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, { name: 'RSASSA-PKCS1-v1_5' }],
};
async function webcryptoVerifyJws(text) {
  const jws = JSON.parse(text);
  const header = JSON.parse(Buffer.from(jws.protected, 'base64url').toString());
  const [importAlg, verifyAlg] = IMPORT[header.alg];
  const key = await subtle.importKey('jwk', header.jwk, importAlg, false, ['verify']);
  return subtle.verify(verifyAlg, key, unb64u(jws.signature), enc.encode(`${jws.protected}.${jws.payload}`));
}
async function webcryptoVerifyEab(text, accountJwk, macKey, url) {
  const binding = JSON.parse(text);
  const header = JSON.parse(Buffer.from(binding.protected, 'base64url').toString());
  if (header.alg !== 'HS256' || header.url !== url) return false;
  const key = await subtle.importKey('raw', macKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const ok = await subtle.verify('HMAC', key, unb64u(binding.signature), enc.encode(`${binding.protected}.${binding.payload}`));
  const inner = JSON.parse(Buffer.from(binding.payload, 'base64url').toString());
  return ok && inner.x === accountJwk.x && inner.y === accountJwk.y;
}

// Runs `batch(n)` (which performs n operations) for at least `seconds`, returns ops/s.
async function measure(batch, seconds) {
  let n = 1, ops = 0, elapsed = 0;
  const t0 = performance.now();
  while (elapsed < seconds * 1000) {
    await batch(n);
    ops += n;
    elapsed = performance.now() - t0;
    if (n < 1024) n *= 2;
  }
  return ops / (elapsed / 1000);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function run(workloadPath, nativePath, wasmDir) {
  const text = readFileSync(workloadPath, 'utf8');
  const w = JSON.parse(text);
  const native = JSON.parse(readFileSync(nativePath, 'utf8'));
  const { Bench } = createRequire(import.meta.url)(`${wasmDir}/edge_acme_bench_wasm.js`);
  const wasm = new Bench(text);
  const es = JSON.stringify(w.es256.jws), rs = JSON.stringify(w.rs256.jws), eab = JSON.stringify(w.eab.binding);
  const macKey = unb64u(w.eab.mac_key);
  const loop = (f) => async (n) => { for (let i = 0; i < n; i++) if (!(await f())) throw new Error('verify failed'); };
  const ops = {
    es256: { wasm: (n) => wasm.es256(n), webcrypto: loop(() => webcryptoVerifyJws(es)) },
    rs256: { wasm: (n) => wasm.rs256(n), webcrypto: loop(() => webcryptoVerifyJws(rs)) },
    eab_hs256: { wasm: (n) => wasm.eab(n), webcrypto: loop(() => webcryptoVerifyEab(eab, w.eab.account_jwk, macKey, w.eab.url)) },
  };
  const seconds = Number(process.env.BENCH_SECONDS ?? 0.5), rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const rows = [];
  for (const [name, c] of Object.entries(ops)) {
    await c.wasm(1); await c.webcrypto(1); // correctness check + warm-up
    const wasmRuns = [], webRuns = [];
    for (let r = 0; r < rounds; r++) { // interleaved so both see the same machine noise
      wasmRuns.push(await measure(async (n) => { if (c.wasm(n) !== n) throw new Error('wasm verify failed'); }, seconds));
      webRuns.push(await measure(c.webcrypto, seconds));
    }
    rows.push({ name, native: native[name], wasm: median(wasmRuns), webcrypto: median(webRuns) });
  }
  const fmt = (x) => Math.round(x).toString().padStart(9);
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}; Node ${process.version}; median of ${rounds} rounds x ${seconds}s`);
  console.log('op (verify)   native ops/s  wasm ops/s  webcrypto ops/s  native/webcrypto  wasm/webcrypto');
  for (const r of rows) {
    console.log(`${r.name.padEnd(12)} ${fmt(r.native)}    ${fmt(r.wasm)}   ${fmt(r.webcrypto)}        ` +
      `${(r.native / r.webcrypto).toFixed(2).padStart(6)}            ${(r.wasm / r.webcrypto).toFixed(2).padStart(6)}`);
  }
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'workload') await makeWorkload(...args);
else if (cmd === 'run') await run(...args);
else { console.error('usage: bench.mjs workload OUT | run WORKLOAD NATIVE WASM_DIR'); process.exit(2); }
