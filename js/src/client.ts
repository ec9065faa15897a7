// A typed ACME (RFC 8555) client on top of fetch(). It names things after the
// protocol's nouns (Directory, Account, Order, Authorization, Challenge) and its actions
// (newAccount, newOrder, respond, finalize, revoke, keyChange, renewalInfo). It uses only
// fetch() and Web APIs, so it runs unchanged in browsers, Node 18+, Deno and Workers;
// all cryptography is the wasm core (./crypto.ts).

import {
  type FlattenedJws,
  type KeyKind,
  PrivateKey,
  base64url,
  createCsr,
  ensureInitialized,
  dns01RecordName,
  dns01TxtValue,
  eabBinding,
  exportJwk,
  generateKey,
  http01Path,
  inspectCertificate,
  keyAuthorization,
  pemCertificates,
  signJws,
} from './crypto.js';

// ---------------------------------------------------------------------------------------
// Wire types (RFC 8555 §7.1, RFC 9773)

/** An identifier an order or authorization is about. */
export interface Identifier {
  type: 'dns' | 'ip' | string;
  value: string;
}

/** The directory object (RFC 8555 §7.1.1), with ARI's renewalInfo (RFC 9773). */
export interface Directory {
  newNonce: string;
  newAccount: string;
  newOrder: string;
  newAuthz?: string;
  revokeCert: string;
  keyChange: string;
  renewalInfo?: string;
  meta?: {
    termsOfService?: string;
    website?: string;
    caaIdentities?: string[];
    externalAccountRequired?: boolean;
    profiles?: Record<string, string>;
    [member: string]: unknown;
  };
}

/** One entry of a problem's subproblems (RFC 8555 §6.7.1). */
export interface Subproblem {
  type: string;
  detail?: string;
  identifier?: Identifier;
}

/** A problem document (RFC 7807 as RFC 8555 §6.7 uses it). */
export interface Problem {
  type: string;
  detail?: string;
  status?: number;
  subproblems?: Subproblem[];
  identifier?: Identifier;
  algorithms?: string[];
  instance?: string;
}

export type AccountStatus = 'valid' | 'deactivated' | 'revoked';
export type OrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
export type AuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'expired' | 'revoked';
export type ChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';

/** An account object (RFC 8555 §7.1.2). */
export interface AccountResource {
  status: AccountStatus;
  contact?: string[];
  termsOfServiceAgreed?: boolean;
  externalAccountBinding?: unknown;
  orders?: string;
}

/** An order object (RFC 8555 §7.1.3). */
export interface OrderResource {
  status: OrderStatus;
  expires?: string;
  identifiers: Identifier[];
  notBefore?: string;
  notAfter?: string;
  error?: Problem;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  replaces?: string;
  profile?: string;
}

/** A challenge object (RFC 8555 §7.1.5, §8). */
export interface ChallengeResource {
  type: 'http-01' | 'dns-01' | 'tls-alpn-01' | string;
  url: string;
  status: ChallengeStatus;
  token: string;
  validated?: string;
  error?: Problem;
}

/** An authorization object (RFC 8555 §7.1.4). */
export interface AuthorizationResource {
  status: AuthorizationStatus;
  expires?: string;
  identifier: Identifier;
  challenges: ChallengeResource[];
  wildcard?: boolean;
}

/** ARI renewal information (RFC 9773 §4.2). */
export interface RenewalInfo {
  suggestedWindow: { start: string; end: string };
  explanationURL?: string;
  /** Seconds until the client should ask again (the Retry-After header). */
  retryAfter?: number;
}

/** Revocation reason codes (RFC 5280 §5.3.1) a client may send. */
export type RevocationReason = 0 | 1 | 3 | 4 | 5 | 9;

// ---------------------------------------------------------------------------------------
// Errors

/** An ACME server answered with a problem document (or a non-success status without one). */
export class AcmeProblemError extends Error {
  override name = 'AcmeProblemError';
  /** The problem type URI, e.g. `urn:ietf:params:acme:error:badNonce`. */
  readonly type: string;
  readonly detail: string;
  /** HTTP status of the response. */
  readonly status: number;
  readonly subproblems: Subproblem[];
  readonly identifier?: Identifier;
  readonly algorithms?: string[];
  /** The whole problem document as the server sent it. */
  readonly problem: Problem;
  /** The request URL. */
  readonly url: string;
  /** Seconds from a Retry-After header (rateLimited), if any. */
  readonly retryAfter?: number;

  constructor(problem: Problem, status: number, url: string, retryAfter?: number) {
    super(`${problem.type}: ${problem.detail ?? '(no detail)'} (HTTP ${status}, ${url})`);
    this.type = problem.type;
    this.detail = problem.detail ?? '';
    this.status = problem.status ?? status;
    this.subproblems = problem.subproblems ?? [];
    this.identifier = problem.identifier;
    this.algorithms = problem.algorithms;
    this.problem = problem;
    this.url = url;
    this.retryAfter = retryAfter;
  }

  /** The short type name (`badNonce`) for ACME error URNs, else the type as is. */
  get shortType(): string {
    return this.type.startsWith(ACME_ERROR) ? this.type.slice(ACME_ERROR.length) : this.type;
  }
}

/** A resource did not reach the wanted state: it became invalid, or polling timed out. */
export class AcmeStateError extends Error {
  override name = 'AcmeStateError';
  constructor(
    message: string,
    /** The resource's last state as the server sent it. */
    readonly resource: unknown,
    /** The problem the resource carries (order or challenge `error`), if any. */
    readonly problem?: Problem,
  ) {
    super(message);
  }
}

const ACME_ERROR = 'urn:ietf:params:acme:error:';

// ---------------------------------------------------------------------------------------
// Client

/** How the client polls (order, authorization, challenge, processing finalization). */
export interface PollOptions {
  /** Delay when the server sends no Retry-After, in ms (default 1000). */
  interval?: number;
  /** Longest accepted Retry-After, in ms (default 60 000); longer values are clamped. */
  maxInterval?: number;
  /** Give up after this many ms (default 300 000). */
  timeout?: number;
  /** Abort polling. */
  signal?: AbortSignal;
}

export interface ClientOptions {
  /** The fetch implementation (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Default polling behaviour. */
  poll?: PollOptions;
  /** Extra headers on every request (User-Agent where the runtime allows it). */
  headers?: Record<string, string>;
}

/** A raw response the client has read: status, headers, parsed body. */
export interface AcmeResponse<T = unknown> {
  status: number;
  headers: Headers;
  url: string;
  body: T;
  /** The Location header, if any. */
  location?: string;
}

/** Parses Retry-After (delta-seconds or an HTTP date) into seconds. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, Math.ceil((t - now) / 1000));
}

/** The URLs of `Link` header entries with relation `rel` (RFC 8288), resolved against `base`. */
export function parseLinks(header: string | null, rel: string, base: string): string[] {
  if (!header) return [];
  const out: string[] = [];
  // Entries are `<uri>; param=value; ...`, joined by commas (fetch joins repeated headers).
  const re = /<([^>]*)>((?:\s*;\s*[^;,]+(?:=(?:"[^"]*"|[^;,]*))?)*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) !== null) {
    const params = m[2];
    const relMatch = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]+))/i.exec(params);
    const rels = (relMatch?.[1] ?? relMatch?.[2] ?? '').split(/\s+/);
    if (rels.includes(rel)) out.push(new URL(m[1], base).toString());
  }
  return out;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function identifierOf(name: string | Identifier): Identifier {
  if (typeof name !== 'string') return name;
  // IPv6 contains ':', IPv4 is four decimal octets; everything else is a DNS name.
  const ip = name.includes(':') || /^\d{1,3}(\.\d{1,3}){3}$/.test(name);
  return { type: ip ? 'ip' : 'dns', value: name };
}

/**
 * An ACME client for one directory URL. It keeps the directory and a pool of nonces;
 * every signed request takes a nonce from the pool (or from newNonce) and returns the
 * response's Replay-Nonce to it. A `badNonce` answer is retried once with a fresh nonce.
 */
export class AcmeClient {
  readonly directoryUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly pollDefaults: Required<Omit<PollOptions, 'signal'>>;
  private readonly extraHeaders: Record<string, string>;
  private directoryPromise?: Promise<Directory>;
  private readonly nonces: string[] = [];
  /** How many requests the client sent and how many badNonce retries it made (diagnostics). */
  readonly stats = { requests: 0, badNonceRetries: 0, newNonceRequests: 0 };

  constructor(directoryUrl: string, options: ClientOptions = {}) {
    this.directoryUrl = directoryUrl;
    const f = options.fetch ?? globalThis.fetch;
    // Calling an unbound global fetch throws "Illegal invocation" in browsers and Workers.
    this.fetchImpl = f === globalThis.fetch ? (input, init) => globalThis.fetch(input, init) : f;
    this.pollDefaults = { interval: 1000, maxInterval: 60_000, timeout: 300_000, ...options.poll };
    this.extraHeaders = options.headers ?? {};
  }

  /** The directory, fetched once. */
  directory(): Promise<Directory> {
    if (!this.directoryPromise) {
      // The first request of every flow: load the wasm here when the entry point is lazy.
      this.directoryPromise = ensureInitialized()
        .then(() => this.get<Directory>(this.directoryUrl))
        .then((r) => r.body);
      this.directoryPromise.catch(() => (this.directoryPromise = undefined));
    }
    return this.directoryPromise;
  }

  /** Poll settings with per-call overrides. @internal */
  pollSettings(o?: PollOptions): Required<Omit<PollOptions, 'signal'>> & { signal?: AbortSignal } {
    return { ...this.pollDefaults, ...o };
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    this.stats.requests++;
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(this.extraHeaders)) headers.set(k, v);
    const res = await this.fetchImpl(url, { ...init, headers });
    const nonce = res.headers.get('Replay-Nonce');
    if (nonce) this.pushNonce(nonce);
    return res;
  }

  private pushNonce(nonce: string): void {
    this.nonces.push(nonce);
    // A pool, not a hoard: nonces expire, keep the freshest few.
    if (this.nonces.length > 8) this.nonces.shift();
  }

  /** A nonce from the pool, or a fresh one from newNonce (RFC 8555 §7.2). */
  async nonce(): Promise<string> {
    const pooled = this.nonces.pop();
    if (pooled) return pooled;
    const dir = await this.directory();
    this.stats.newNonceRequests++;
    const res = await this.send(dir.newNonce, { method: 'HEAD' });
    const n = this.nonces.pop();
    if (!res.ok || !n) {
      await this.fail(res, dir.newNonce);
      throw new Error(`newNonce at ${dir.newNonce} answered ${res.status} without a Replay-Nonce header`);
    }
    return n;
  }

  /** An unauthenticated GET (directory, renewalInfo). */
  async get<T = unknown>(url: string, accept?: string): Promise<AcmeResponse<T>> {
    const res = await this.send(url, { method: 'GET', headers: accept ? { Accept: accept } : {} });
    if (!res.ok) await this.fail(res, url);
    return this.read<T>(res, url);
  }

  /**
   * A signed POST: `payload` undefined is POST-as-GET. `kid` is the account URL, or
   * undefined to embed the key's JWK. Retries once on badNonce.
   */
  async post<T = unknown>(
    url: string,
    key: PrivateKey,
    kid: string | undefined,
    payload?: unknown,
    accept?: string,
  ): Promise<AcmeResponse<T>> {
    for (let attempt = 0; ; attempt++) {
      const nonce = await this.nonce();
      const body = JSON.stringify(signJws(key, { url, nonce, kid }, payload));
      const headers: Record<string, string> = { 'Content-Type': 'application/jose+json' };
      if (accept) headers.Accept = accept;
      const res = await this.send(url, { method: 'POST', headers, body });
      if (res.ok) return this.read<T>(res, url);
      const problem = await this.problemOf(res, url);
      if (problem.type === `${ACME_ERROR}badNonce` && attempt === 0) {
        // The server sent a fresh nonce with the error (RFC 8555 §6.5); it is in the pool.
        this.stats.badNonceRetries++;
        continue;
      }
      throw problem;
    }
  }

  private async read<T>(res: Response, url: string): Promise<AcmeResponse<T>> {
    const type = res.headers.get('Content-Type') ?? '';
    const text = await res.text();
    let body: unknown = text;
    if (/json/.test(type) && text.length > 0) body = JSON.parse(text);
    const loc = res.headers.get('Location');
    return {
      status: res.status,
      headers: res.headers,
      url,
      body: body as T,
      location: loc ? new URL(loc, url).toString() : undefined,
    };
  }

  private async problemOf(res: Response, url: string): Promise<AcmeProblemError> {
    const text = await res.text().catch(() => '');
    let problem: Problem = { type: 'about:blank', detail: text.slice(0, 500) || res.statusText };
    if ((res.headers.get('Content-Type') ?? '').includes('json')) {
      try {
        const doc = JSON.parse(text) as Problem;
        if (doc && typeof doc.type === 'string') problem = doc;
      } catch {
        // Not JSON after all: keep the text as the detail.
      }
    }
    return new AcmeProblemError(problem, res.status, url, parseRetryAfter(res.headers.get('Retry-After')));
  }

  private async fail(res: Response, url: string): Promise<never> {
    throw await this.problemOf(res, url);
  }

  /**
   * newAccount (RFC 8555 §7.3): creates an account for `key`, or returns the existing
   * one (`onlyReturnExisting` never creates; a missing account is `accountDoesNotExist`).
   */
  async createAccount(options: {
    key: PrivateKey;
    contact?: string[];
    termsOfServiceAgreed?: boolean;
    onlyReturnExisting?: boolean;
    externalAccountBinding?: { kid: string; hmacKey: string; alg?: 'HS256' | 'HS384' | 'HS512' };
  }): Promise<Account> {
    const dir = await this.directory();
    const payload: Record<string, unknown> = {};
    if (options.contact) payload.contact = options.contact;
    if (options.termsOfServiceAgreed !== undefined) payload.termsOfServiceAgreed = options.termsOfServiceAgreed;
    if (options.onlyReturnExisting) payload.onlyReturnExisting = true;
    const eab = options.externalAccountBinding;
    if (eab) payload.externalAccountBinding = eabBinding(eab.kid, eab.hmacKey, options.key, dir.newAccount, eab.alg);
    const res = await this.post<AccountResource>(dir.newAccount, options.key, undefined, payload);
    if (!res.location) throw new Error('newAccount response has no Location header');
    return new Account(this, options.key, res.location, res.body, res.status === 201);
  }

  /** The account of `key` if there is one (newAccount with onlyReturnExisting). */
  findAccount(key: PrivateKey): Promise<Account> {
    return this.createAccount({ key, onlyReturnExisting: true });
  }

  /** An account whose URL is already known (no request). */
  account(key: PrivateKey, url: string, resource?: AccountResource): Account {
    return new Account(this, key, url, resource ?? { status: 'valid' }, false);
  }

  /**
   * ARI renewal information (RFC 9773) for a certificate (PEM, DER or its CertID).
   * Unauthenticated; throws if the server has no renewalInfo endpoint.
   */
  async renewalInfo(cert: string | Uint8Array): Promise<RenewalInfo> {
    const dir = await this.directory();
    if (!dir.renewalInfo) throw new Error('this ACME server does not offer ARI (no renewalInfo in the directory)');
    const certId = typeof cert === 'string' && !cert.includes('-----BEGIN') ? cert : certIdOf(cert);
    const base = dir.renewalInfo.endsWith('/') ? dir.renewalInfo : `${dir.renewalInfo}/`;
    const res = await this.get<RenewalInfo>(base + certId);
    return { ...res.body, retryAfter: parseRetryAfter(res.headers.get('Retry-After')) };
  }

  /**
   * Revokes a certificate by signing with the certificate's own key (RFC 8555 §7.6,
   * `jwk` form). Account holders use Account.revokeCertificate instead.
   */
  async revokeWithCertificateKey(cert: string | Uint8Array, certKey: PrivateKey, reason?: RevocationReason) {
    const dir = await this.directory();
    await this.post(dir.revokeCert, certKey, undefined, revocationPayload(cert, reason));
  }

  /**
   * Polls `url` with POST-as-GET until `done(resource)` holds, honouring Retry-After.
   * `failed(resource)` ends polling with an AcmeStateError.
   */
  async poll<T>(
    url: string,
    key: PrivateKey,
    kid: string,
    done: (r: T) => boolean,
    failed: (r: T) => Problem | false | undefined,
    what: string,
    options?: PollOptions,
  ): Promise<AcmeResponse<T>> {
    const o = this.pollSettings(options);
    const deadline = Date.now() + o.timeout;
    for (;;) {
      const res = await this.post<T>(url, key, kid);
      if (done(res.body)) return res;
      const problem = failed(res.body);
      if (problem !== false && problem !== undefined) {
        throw new AcmeStateError(`${what} failed: ${problem.type ?? ''} ${problem.detail ?? ''}`.trim(), res.body, problem);
      }
      const retry = parseRetryAfter(res.headers.get('Retry-After'));
      const wait = Math.min(retry !== undefined ? retry * 1000 : o.interval, o.maxInterval);
      if (Date.now() + wait > deadline) {
        throw new AcmeStateError(`${what}: gave up after ${o.timeout} ms`, res.body);
      }
      await sleep(wait, o.signal);
    }
  }
}

function certDer(cert: string | Uint8Array): Uint8Array {
  if (cert instanceof Uint8Array) return cert;
  const ders = pemCertificates(cert);
  if (ders.length === 0) throw new Error('no PEM CERTIFICATE block found');
  return ders[0];
}

function certIdOf(cert: string | Uint8Array): string {
  const id = inspectCertificate(cert).ariCertId;
  if (!id) throw new Error('the certificate has no authority key identifier, so it has no ARI CertID');
  return id;
}

function revocationPayload(cert: string | Uint8Array, reason?: RevocationReason) {
  const payload: { certificate: string; reason?: number } = { certificate: base64url(certDer(cert)) };
  if (reason !== undefined) payload.reason = reason;
  return payload;
}

/** Options of Account.newOrder(). */
export interface NewOrderOptions {
  /** Names: strings (IP addresses are recognised) or identifier objects. */
  identifiers: (string | Identifier)[];
  notBefore?: string | Date;
  notAfter?: string | Date;
  /** ARI: the certificate this order replaces (PEM, DER or CertID). */
  replaces?: string | Uint8Array;
  /** ACME profiles: the profile name from directory.meta.profiles. */
  profile?: string;
}

/** An account and its key: every account-scoped action signs with `kid` = the account URL. */
export class Account {
  constructor(
    readonly client: AcmeClient,
    /** The account key. After changeKey() this is the new key. */
    public key: PrivateKey,
    readonly url: string,
    public resource: AccountResource,
    /** True when newAccount created the account (201), false when it existed. */
    readonly created: boolean,
  ) {}

  get status(): AccountStatus {
    return this.resource.status;
  }

  /** POST-as-GET to the account URL. @internal */
  postAsGet<T>(url: string, accept?: string): Promise<AcmeResponse<T>> {
    return this.client.post<T>(url, this.key, this.url, undefined, accept);
  }

  /** A signed POST with a payload. @internal */
  postPayload<T>(url: string, payload: unknown): Promise<AcmeResponse<T>> {
    return this.client.post<T>(url, this.key, this.url, payload);
  }

  /** Reloads the account object. */
  async refresh(): Promise<AccountResource> {
    this.resource = (await this.postAsGet<AccountResource>(this.url)).body;
    return this.resource;
  }

  /** Updates contacts (RFC 8555 §7.3.2). */
  async update(changes: { contact?: string[] }): Promise<AccountResource> {
    this.resource = (await this.postPayload<AccountResource>(this.url, changes)).body;
    return this.resource;
  }

  /** Deactivates the account (RFC 8555 §7.3.6); it can never be used again. */
  async deactivate(): Promise<AccountResource> {
    this.resource = (await this.postPayload<AccountResource>(this.url, { status: 'deactivated' })).body;
    return this.resource;
  }

  /** Rolls the account over to `newKey` (RFC 8555 §7.3.5); this.key becomes newKey. */
  async changeKey(newKey: PrivateKey): Promise<void> {
    const dir = await this.client.directory();
    // The inner JWS: signed by the new key, embedding it, with no nonce.
    const inner: FlattenedJws = signJws(newKey, { url: dir.keyChange }, { account: this.url, oldKey: exportJwk(this.key) });
    await this.postPayload(dir.keyChange, inner);
    this.key = newKey;
  }

  /** newOrder (RFC 8555 §7.4). */
  async newOrder(options: NewOrderOptions | (string | Identifier)[]): Promise<Order> {
    const o: NewOrderOptions = Array.isArray(options) ? { identifiers: options } : options;
    const dir = await this.client.directory();
    const payload: Record<string, unknown> = { identifiers: o.identifiers.map(identifierOf) };
    const date = (d: string | Date) => (d instanceof Date ? d.toISOString() : d);
    if (o.notBefore) payload.notBefore = date(o.notBefore);
    if (o.notAfter) payload.notAfter = date(o.notAfter);
    if (o.replaces) {
      payload.replaces = typeof o.replaces === 'string' && !o.replaces.includes('-----BEGIN') ? o.replaces : certIdOf(o.replaces);
    }
    if (o.profile) payload.profile = o.profile;
    const res = await this.postPayload<OrderResource>(dir.newOrder, payload);
    if (!res.location) throw new Error('newOrder response has no Location header');
    return new Order(this, res.location, res.body);
  }

  /** An existing order by URL. */
  async order(url: string): Promise<Order> {
    return new Order(this, url, (await this.postAsGet<OrderResource>(url)).body);
  }

  /** An authorization by URL. */
  async authorization(url: string): Promise<Authorization> {
    return new Authorization(this, url, (await this.postAsGet<AuthorizationResource>(url)).body);
  }

  /** Revokes a certificate issued to this account (RFC 8555 §7.6, `kid` form). */
  async revokeCertificate(cert: string | Uint8Array, reason?: RevocationReason): Promise<void> {
    const dir = await this.client.directory();
    await this.postPayload(dir.revokeCert, revocationPayload(cert, reason));
  }

  /**
   * Runs a whole issuance: newOrder, challenge responses through `solve`, finalize
   * and download. `solve` publishes what the challenge needs (an http-01 file or a
   * dns-01 TXT record) and resolves when it is in place; `cleanup` runs afterwards.
   */
  async issue(options: NewOrderOptions & {
    challengeType?: 'http-01' | 'dns-01' | string;
    solve: (challenge: Challenge, authz: Authorization) => Promise<void>;
    cleanup?: (challenge: Challenge, authz: Authorization) => Promise<void>;
    /** A CSR (DER or PEM); otherwise one is made for a new `certificateKey`. */
    csr?: Uint8Array | string;
    certificateKey?: PrivateKey | KeyKind;
    poll?: PollOptions;
  }): Promise<IssuedCertificate> {
    const order = await this.newOrder(options);
    const solved: [Challenge, Authorization][] = [];
    try {
      for (const authz of await order.authorizations()) {
        if (authz.status === 'valid') continue;
        const type = options.challengeType ?? (authz.wildcard ? 'dns-01' : 'http-01');
        const ch = authz.challenge(type);
        if (!ch) throw new Error(`no ${type} challenge offered for ${authz.identifier.value}`);
        await options.solve(ch, authz);
        solved.push([ch, authz]);
        await ch.respond();
      }
      for (const [, authz] of solved) await authz.waitValid(options.poll);
    } finally {
      for (const [ch, authz] of solved) await options.cleanup?.(ch, authz);
    }
    await order.waitReady(options.poll);
    const finalized = await order.finalize({ csr: options.csr, key: options.certificateKey, poll: options.poll });
    const chain = await order.certificate();
    return { ...chain, order, certificateKey: finalized.certificateKey };
  }
}

/** A certificate chain as downloaded (RFC 8555 §7.4.2). */
export interface CertificateChain {
  /** `application/pem-certificate-chain`: the leaf, then its issuers. */
  pem: string;
  /** The certificate URL. */
  url: string;
  /** URLs of alternate chains (Link rel="alternate"). */
  alternates: string[];
}

/** What Account.issue() returns. */
export interface IssuedCertificate extends CertificateChain {
  order: Order;
  /** The key made for the certificate (absent when a CSR was supplied). */
  certificateKey?: PrivateKey;
}

/** An order (RFC 8555 §7.1.3) and the actions on it. */
export class Order {
  constructor(
    readonly account: Account,
    readonly url: string,
    public resource: OrderResource,
  ) {}

  get status(): OrderStatus {
    return this.resource.status;
  }

  get identifiers(): Identifier[] {
    return this.resource.identifiers;
  }

  /** Reloads the order. */
  async refresh(): Promise<OrderResource> {
    this.resource = (await this.account.postAsGet<OrderResource>(this.url)).body;
    return this.resource;
  }

  /** The order's authorizations, fetched in order. */
  async authorizations(): Promise<Authorization[]> {
    const out: Authorization[] = [];
    for (const url of this.resource.authorizations) out.push(await this.account.authorization(url));
    return out;
  }

  private async waitFor(statuses: OrderStatus[], what: string, options?: PollOptions): Promise<OrderResource> {
    const res = await this.account.client.poll<OrderResource>(
      this.url,
      this.account.key,
      this.account.url,
      (o) => statuses.includes(o.status),
      (o) => (o.status === 'invalid' ? o.error ?? { type: 'invalid', detail: 'order is invalid' } : false),
      what,
      options,
    );
    this.resource = res.body;
    return this.resource;
  }

  /** Polls until the order is `ready` (all authorizations valid). */
  waitReady(options?: PollOptions): Promise<OrderResource> {
    if (this.status === 'ready' || this.status === 'valid') return Promise.resolve(this.resource);
    return this.waitFor(['ready', 'valid'], 'order', options);
  }

  /** Polls until the order is `valid` (certificate issued). */
  waitValid(options?: PollOptions): Promise<OrderResource> {
    if (this.status === 'valid') return Promise.resolve(this.resource);
    return this.waitFor(['valid'], 'order', options);
  }

  /**
   * Finalizes the order (RFC 8555 §7.4) with a supplied CSR (DER or PEM), or with one
   * made here for a new key (`key`: a PrivateKey or the kind to generate, P-256 by
   * default) covering the order's identifiers; then polls until the order is valid.
   */
  async finalize(options: { csr?: Uint8Array | string; key?: PrivateKey | KeyKind; poll?: PollOptions } = {}): Promise<{
    order: OrderResource;
    certificateKey?: PrivateKey;
  }> {
    let csrB64: string;
    let certificateKey: PrivateKey | undefined;
    if (options.csr !== undefined) {
      csrB64 = base64url(typeof options.csr === 'string' ? pemBody(options.csr) : options.csr);
    } else {
      certificateKey = options.key instanceof PrivateKey ? options.key : generateKey(options.key ?? 'P-256');
      csrB64 = createCsr(certificateKey, this.identifiers.map((i) => i.value)).base64url;
    }
    const res = await this.account.postPayload<OrderResource>(this.resource.finalize, { csr: csrB64 });
    this.resource = res.body;
    await this.waitValid(options.poll);
    return { order: this.resource, certificateKey };
  }

  /** Downloads the certificate chain; `url` picks one of the alternates. */
  async certificate(url?: string): Promise<CertificateChain> {
    const target = url ?? this.resource.certificate;
    if (!target) throw new Error(`order is ${this.status}: no certificate URL yet`);
    const res = await this.account.postAsGet<string>(target, 'application/pem-certificate-chain');
    return { pem: res.body, url: target, alternates: parseLinks(res.headers.get('Link'), 'alternate', target) };
  }

  /** The default chain followed by every alternate chain. */
  async certificateChains(): Promise<CertificateChain[]> {
    const first = await this.certificate();
    const rest: CertificateChain[] = [];
    for (const alt of first.alternates) rest.push(await this.certificate(alt));
    return [first, ...rest];
  }
}

function pemBody(pem: string): Uint8Array {
  const m = /-----BEGIN [^-]+-----([\s\S]*?)-----END [^-]+-----/.exec(pem);
  if (!m) throw new Error('no PEM block found');
  const bin = atob(m[1].replace(/\s+/g, ''));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** An authorization (RFC 8555 §7.1.4) for one identifier. */
export class Authorization {
  readonly challenges: Challenge[];

  constructor(
    readonly account: Account,
    readonly url: string,
    public resource: AuthorizationResource,
  ) {
    this.challenges = resource.challenges.map((c) => new Challenge(this, c));
  }

  get status(): AuthorizationStatus {
    return this.resource.status;
  }

  get identifier(): Identifier {
    return this.resource.identifier;
  }

  /** True for a wildcard authorization (its identifier has `*.` removed). */
  get wildcard(): boolean {
    return this.resource.wildcard === true;
  }

  /** The challenge of a type (`http-01`, `dns-01`...), if offered. */
  challenge(type: string): Challenge | undefined {
    return this.challenges.find((c) => c.type === type);
  }

  /** Reloads the authorization. */
  async refresh(): Promise<AuthorizationResource> {
    this.resource = (await this.account.postAsGet<AuthorizationResource>(this.url)).body;
    this.resource.challenges.forEach((c) => this.challenge(c.type)?.update(c));
    return this.resource;
  }

  /** Polls until the authorization is valid; an invalid one throws with the challenge's error. */
  async waitValid(options?: PollOptions): Promise<AuthorizationResource> {
    if (this.status === 'valid') return this.resource;
    const res = await this.account.client.poll<AuthorizationResource>(
      this.url,
      this.account.key,
      this.account.url,
      (a) => a.status === 'valid',
      (a) =>
        a.status === 'pending'
          ? false
          : a.challenges.find((c) => c.error)?.error ?? { type: a.status, detail: `authorization is ${a.status}` },
      `authorization for ${this.identifier.value}`,
      options,
    );
    this.resource = res.body;
    this.resource.challenges.forEach((c) => this.challenge(c.type)?.update(c));
    return this.resource;
  }

  /** Deactivates the authorization (RFC 8555 §7.5.2). */
  async deactivate(): Promise<AuthorizationResource> {
    this.resource = (await this.account.postPayload<AuthorizationResource>(this.url, { status: 'deactivated' })).body;
    return this.resource;
  }
}

/** A challenge (RFC 8555 §8) with what the client must publish to answer it. */
export class Challenge {
  constructor(
    readonly authorization: Authorization,
    public resource: ChallengeResource,
  ) {}

  /** @internal */
  update(resource: ChallengeResource): void {
    this.resource = resource;
  }

  get type(): string {
    return this.resource.type;
  }
  get url(): string {
    return this.resource.url;
  }
  get token(): string {
    return this.resource.token;
  }
  get status(): ChallengeStatus {
    return this.resource.status;
  }

  /** The key authorization for the current account key. */
  get keyAuthorization(): string {
    return keyAuthorization(this.token, this.authorization.account.key);
  }

  /** http-01: serve `body` as text at http://<identifier>`path`. */
  get http01(): { path: string; body: string; url: string } {
    const id = this.authorization.identifier.value;
    const host = id.includes(':') ? `[${id}]` : id;
    const path = http01Path(this.token);
    return { path, body: this.keyAuthorization, url: `http://${host}${path}` };
  }

  /** dns-01: publish a TXT record `name` with `value`. */
  get dns01(): { name: string; value: string } {
    return { name: dns01RecordName(this.authorization.identifier.value), value: dns01TxtValue(this.keyAuthorization) };
  }

  /** Tells the server the challenge is ready to be validated (POST `{}`, RFC 8555 §7.5.1). */
  async respond(): Promise<ChallengeResource> {
    this.resource = (await this.authorization.account.postPayload<ChallengeResource>(this.url, {})).body;
    return this.resource;
  }

  /** Polls the challenge until it is valid; invalid throws with the challenge's error. */
  async waitValid(options?: PollOptions): Promise<ChallengeResource> {
    const a = this.authorization.account;
    const res = await a.client.poll<ChallengeResource>(
      this.url,
      a.key,
      a.url,
      (c) => c.status === 'valid',
      (c) => (c.status === 'invalid' ? c.error ?? { type: 'invalid', detail: 'challenge is invalid' } : false),
      `${this.type} challenge for ${this.authorization.identifier.value}`,
      options,
    );
    this.resource = res.body;
    return this.resource;
  }
}
