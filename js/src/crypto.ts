// The wasm API with its documented names and types: keys, JWS, external account
// binding, key authorizations, CSRs and certificate inspection, all computed by the
// edge-acme Rust core compiled to wasm. Nothing here does I/O.

import * as wasm from '../wasm/edge_acme.js';
import { PrivateKey } from '../wasm/edge_acme.js';

export { PrivateKey };

/** Key kinds generateKey() makes. RSA keys can be imported but not generated. */
export type KeyKind = 'P-256' | 'P-384' | 'P-521' | 'Ed25519';

/** A JSON Web Key (RFC 7517). Private keys carry `d` (and the RSA CRT members). */
export interface Jwk {
  kty: 'EC' | 'OKP' | 'RSA' | string;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  d?: string;
  [member: string]: unknown;
}

/** A flattened JWS JSON object (RFC 7515 §7.2.2), the body of every ACME POST. */
export interface FlattenedJws {
  protected: string;
  payload: string;
  signature: string;
}

/** What inspectCertificate() reports about a certificate. */
export interface CertificateInfo {
  /** DNS names, then IP addresses, from the subjectAltName. */
  names: string[];
  dnsNames: string[];
  ipAddresses: string[];
  /** Serial number, lowercase hex without leading zeros. */
  serial: string;
  /** RFC 3339 UTC timestamps. */
  notBefore: string;
  notAfter: string;
  /** The issuer name as an RFC 4514 string. */
  issuer: string;
  /** The RFC 9773 ARI CertID (`aki.serial`), or null without an authority key identifier. */
  ariCertId: string | null;
  isCa: boolean;
  /** Number of certificates in the PEM bundle that was inspected (PEM input only). */
  chainLength?: number;
}

/** A PKCS#10 certificate signing request in the three forms clients need. */
export interface Csr {
  der: Uint8Array;
  pem: string;
  /** base64url of the DER, the `csr` member of a finalize request. */
  base64url: string;
}

/**
 * The error the wasm functions throw: `type` is the RFC 8555 problem type URI
 * (for example `urn:ietf:params:acme:error:badPublicKey`).
 */
export interface AcmeError extends Error {
  name: 'AcmeError';
  type: string;
  detail: string;
  status: number;
}

/** True for errors thrown by the wasm functions. */
export function isAcmeError(e: unknown): e is AcmeError {
  return e instanceof Error && e.name === 'AcmeError' && typeof (e as AcmeError).type === 'string';
}

let initialized = false;

/** Called by the entry points once the wasm instance exists. @internal */
export function markInitialized(): void {
  initialized = true;
}

let initializer: (() => Promise<void>) | undefined;

/** Registers how the current entry point loads the wasm (the browser entry's init). @internal */
export function setInitializer(f: () => Promise<void>): void {
  initializer = f;
}

/** Loads the wasm if the entry point can do so lazily; the client calls this before any crypto. */
export async function ensureInitialized(): Promise<void> {
  if (!initialized && initializer) await initializer();
}

/** Whether the wasm module has been initialized (the Node and Workers entries do it on import). */
export function isInitialized(): boolean {
  return initialized;
}

function ready(): void {
  if (!initialized) {
    throw new Error('edge-acme: the wasm module is not initialized yet; `await init()` first');
  }
}

const encoder = new TextEncoder();

/** Generates a private key with crypto.getRandomValues (default P-256, the usual ACME account key). */
export function generateKey(kind: KeyKind = 'P-256'): PrivateKey {
  ready();
  return wasm.generateKey(kind);
}

/**
 * Imports a private key: PEM text (PKCS#8 `PRIVATE KEY`, SEC1 `EC PRIVATE KEY`,
 * PKCS#1 `RSA PRIVATE KEY`), PKCS#8 DER bytes, or a private JWK (EC, Ed25519 or RSA).
 */
export function importKey(key: string | Uint8Array | Jwk): PrivateKey {
  ready();
  if (typeof key === 'string') return wasm.importKeyPem(key);
  if (key instanceof Uint8Array) return wasm.importKeyPkcs8(key);
  return wasm.importKeyJwk(JSON.stringify(key));
}

/** The key's JWK: public members only unless `private` is set. */
export function exportJwk(key: PrivateKey, options: { private?: boolean } = {}): Jwk {
  ready();
  return (options.private ? key.privateJwk() : key.publicJwk()) as Jwk;
}

/** The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
export function exportPkcs8Pem(key: PrivateKey): string {
  ready();
  return key.toPkcs8Pem();
}

function jwkJson(key: PrivateKey | Jwk): string {
  return JSON.stringify(key instanceof PrivateKey ? key.publicJwk() : key);
}

/** The RFC 7638 JWK thumbprint (base64url SHA-256) of a key or public JWK. */
export function thumbprint(key: PrivateKey | Jwk): string {
  ready();
  return key instanceof PrivateKey ? key.thumbprint() : wasm.jwkThumbprint(JSON.stringify(key));
}

/** Options of signJws(): the request URL, the nonce, and the account URL (`kid`) if any. */
export interface JwsOptions {
  url: string;
  nonce?: string;
  /** The account URL; without it the public key is embedded as `jwk` (newAccount, revocation by certificate key). */
  kid?: string;
}

/** Payload bytes: undefined/null is POST-as-GET (empty), strings are UTF-8, objects are JSON. */
export function payloadBytes(payload: unknown): Uint8Array {
  if (payload === undefined || payload === null) return new Uint8Array(0);
  if (payload instanceof Uint8Array) return payload;
  if (typeof payload === 'string') return encoder.encode(payload);
  return encoder.encode(JSON.stringify(payload));
}

/** Signs a flattened JWS as RFC 8555 §6.2 requires. */
export function signJws(key: PrivateKey, options: JwsOptions, payload?: unknown): FlattenedJws {
  ready();
  return wasm.signJws(key, options.url, options.nonce, options.kid, payloadBytes(payload)) as FlattenedJws;
}

/**
 * The `externalAccountBinding` member of a newAccount payload (RFC 8555 §7.3.4): the
 * account key MACed with the CA-issued key. `hmacKey` is base64url (padding accepted).
 */
export function eabBinding(
  kid: string,
  hmacKey: string,
  accountKey: PrivateKey | Jwk,
  newAccountUrl: string,
  alg: 'HS256' | 'HS384' | 'HS512' = 'HS256',
): FlattenedJws {
  ready();
  return wasm.eabBinding(kid, hmacKey, jwkJson(accountKey), newAccountUrl, alg) as FlattenedJws;
}

/** The key authorization `token.thumbprint` (RFC 8555 §8.1); the http-01 response body. */
export function keyAuthorization(token: string, accountKey: PrivateKey | Jwk): string {
  ready();
  return wasm.keyAuthorization(token, jwkJson(accountKey));
}

/** The TXT record value for dns-01: base64url(SHA-256(key authorization)). */
export function dns01TxtValue(keyAuth: string): string {
  ready();
  return wasm.dns01TxtValue(keyAuth);
}

/** The path an http-01 response is served at. */
export function http01Path(token: string): string {
  return `/.well-known/acme-challenge/${token}`;
}

/** The DNS name that carries the dns-01 TXT record for an identifier (wildcards drop `*.`). */
export function dns01RecordName(identifier: string): string {
  return `_acme-challenge.${identifier.replace(/^\*\./, '')}`;
}

/**
 * A CSR for `names` (DNS names and IP addresses, all in subjectAltName, empty subject)
 * signed by `key` (P-256, P-384, RSA or Ed25519; Web PKI CAs refuse Ed25519).
 */
export function createCsr(key: PrivateKey, names: string[]): Csr {
  ready();
  const der = wasm.createCsr(key, names);
  return { der, pem: wasm.derToPem('CERTIFICATE REQUEST', der), base64url: base64url(der) };
}

/** Facts about a certificate: the first one of a PEM bundle, or one DER certificate. */
export function inspectCertificate(cert: string | Uint8Array): CertificateInfo {
  ready();
  return (typeof cert === 'string' ? wasm.inspectCertificate(cert) : wasm.inspectCertificateDer(cert)) as CertificateInfo;
}

/** The DER certificates of a PEM bundle, in order. */
export function pemCertificates(pem: string): Uint8Array[] {
  ready();
  return wasm.pemCertificates(pem) as Uint8Array[];
}

/** PEM-encodes DER under a label (`CERTIFICATE`, `CERTIFICATE REQUEST`, `PRIVATE KEY`...). */
export function derToPem(label: string, der: Uint8Array): string {
  ready();
  return wasm.derToPem(label, der);
}

/** base64url without padding (RFC 4648 §5), as JOSE and ACME use it. */
export function base64url(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes base64url, with or without padding. */
export function base64urlDecode(text: string): Uint8Array {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

type WebCryptoImportParams = EcKeyImportParams | RsaHashedImportParams | Algorithm;

function webCryptoParams(key: PrivateKey): WebCryptoImportParams {
  switch (key.kind) {
    case 'P-256':
    case 'P-384':
    case 'P-521':
      return { name: 'ECDSA', namedCurve: key.kind };
    case 'Ed25519':
      return { name: 'Ed25519' };
    default:
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  }
}

/** Imports a WebCrypto private key (it must be extractable) through PKCS#8. */
export async function importCryptoKey(key: CryptoKey): Promise<PrivateKey> {
  ready();
  const der = new Uint8Array(await crypto.subtle.exportKey('pkcs8', key));
  return wasm.importKeyPkcs8(der);
}

/** The key as a WebCrypto signing key pair, for code that wants to sign with WebCrypto. */
export async function exportCryptoKey(
  key: PrivateKey,
  options: { extractable?: boolean } = {},
): Promise<CryptoKeyPair> {
  ready();
  const params = webCryptoParams(key);
  const privateKey = await crypto.subtle.importKey(
    'pkcs8',
    key.toPkcs8Der() as Uint8Array<ArrayBuffer>,
    params,
    options.extractable ?? false,
    ['sign'],
  );
  const publicKey = await crypto.subtle.importKey('spki', key.toSpkiDer() as Uint8Array<ArrayBuffer>, params, true, ['verify']);
  return { privateKey, publicKey };
}
