// Drives npm `acme-client` (pinned in package.json) through one scenario against an ACME
// directory; run by tests/e2e/test_acme_client.py, one process per scenario.
//
//   node acme_client.mjs SCENARIO CONFIG.json
//
// CONFIG: {"directory", "control_url" (tests/e2e/testsrv.py), "outdir", "names": [...],
//          "account_key": "rsa"|"p256"|"p384", "cert_key": "rsa"|"p256"|"p384",
//          "challenge": "http-01"|"dns-01", "eab": {"kid", "hmac_key"} | null}
// Trust for the server's TLS: NODE_EXTRA_CA_CERTS (set by the caller).
// Prints one JSON line as the last line of stdout: {"ok": true, ...} or
// {"ok": false, "error", "type", "code"}; exits 0 only when ok.
//
// Scenarios: issue, keychange, revoke, deactivate, connect.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const acme = require('acme-client');

const [scenario, configPath] = process.argv.slice(2);
const cfg = JSON.parse(readFileSync(configPath, 'utf8'));
mkdirSync(cfg.outdir, { recursive: true });
const logLines = [];
acme.setLogger((m) => {
  logLines.push(m);
  if (process.env.E2E_ACME_CLIENT_DEBUG) console.error(`[acme-client] ${m}`);
});
// Transport errors and 5xx/429 are retried: quickly (the server sends Retry-After: 1).
acme.axios.defaults.acmeSettings.retryDefaultDelay = 1;

// acme-client keeps only the problem's `detail` in the errors it throws: remember the last
// problem document the server sent, to report its `type`.
let lastProblem = null;
acme.axios.interceptors.response.use((res) => {
  if (res.status >= 400 && res.data && typeof res.data === 'object' && res.data.type) {
    lastProblem = res.data;
    console.error(`[problem] ${res.config.method?.toUpperCase()} ${res.config.url} -> ${res.status} ${JSON.stringify(res.data)}`);
  }
  return res;
});

// The server sends Retry-After: 1; poll quickly, give up after ~40 s.
const backoff = { backoffAttempts: 40, backoffMin: 300, backoffMax: 1000 };

async function newKey(kind) {
  switch (kind ?? 'p256') {
    case 'rsa': return acme.crypto.createPrivateRsaKey(2048);
    case 'p256': return acme.crypto.createPrivateEcdsaKey('P-256');
    case 'p384': return acme.crypto.createPrivateEcdsaKey('P-384');
    default: throw new Error(`unknown key kind ${kind}`);
  }
}

function makeClient(accountKey, extra = {}) {
  return new acme.Client({
    directoryUrl: cfg.directory,
    accountKey,
    ...(cfg.eab ? { externalAccountBinding: { kid: cfg.eab.kid, hmacKey: cfg.eab.hmac_key } } : {}),
    ...backoff,
    ...extra,
  });
}

async function control(op, body) {
  const res = await fetch(`${cfg.control_url}/${op}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`control ${op}: ${res.status} ${await res.text()}`);
  return res.json();
}

const challengeFns = {
  async challengeCreateFn(authz, challenge, keyAuthorization) {
    if (challenge.type === 'http-01') {
      await control('http01', { token: challenge.token, content: keyAuthorization });
    } else if (challenge.type === 'dns-01') {
      await control('add-txt', { host: `_acme-challenge.${authz.identifier.value}.`, value: keyAuthorization });
    } else {
      throw new Error(`unexpected challenge ${challenge.type}`);
    }
  },
  async challengeRemoveFn(authz, challenge, keyAuthorization) {
    if (challenge.type === 'http-01') {
      await control('http01-clear', { token: challenge.token });
    } else if (challenge.type === 'dns-01') {
      await control('clear-txt', { host: `_acme-challenge.${authz.identifier.value}.`, value: keyAuthorization });
    }
  },
};

async function issue(client, names, tag = 'cert') {
  const [certKey, csr] = await acme.crypto.createCsr(
    { altNames: names },
    await newKey(cfg.cert_key ?? 'p256'),
  );
  const cert = await client.auto({
    csr,
    termsOfServiceAgreed: true,
    email: cfg.email,
    skipChallengeVerification: true, // names resolve only in the test DNS server
    challengePriority: [cfg.challenge ?? 'http-01'],
    ...challengeFns,
  });
  const certPath = path.join(cfg.outdir, `${tag}.pem`);
  writeFileSync(certPath, cert);
  writeFileSync(path.join(cfg.outdir, `${tag}.key`), certKey);
  return { cert, certPath };
}

/** A transport error (e.g. a TLS verification failure) as acme-client logged it: after its
 *  retries it throws a TypeError of its own (validateStatus(undefined)), losing the cause. */
function transportCode(err) {
  if (err?.code) return err.code;
  if (err?.cause?.code) return err.cause.code;
  for (let i = logLines.length - 1; i >= 0; i--) {
    const m = /^Caught ([A-Z_]+), retry attempt/.exec(logLines[i]);
    if (m) return m[1];
  }
  return null;
}

function problemType(err) {
  const data = err?.response?.data;
  if (data?.type) return data.type;
  return lastProblem?.type ?? null;
}

async function expectProblem(fn, what) {
  lastProblem = null;
  try {
    await fn();
  } catch (err) {
    return { rejected: true, message: String(err.message ?? err), type: problemType(err) };
  }
  throw new Error(`${what}: expected the server to refuse, it accepted`);
}

const scenarios = {
  /** Account (optionally with EAB) + one certificate for cfg.names. */
  async issue() {
    const client = makeClient(await newKey(cfg.account_key));
    const { certPath } = await issue(client, cfg.names);
    const account = await client.updateAccount({}); // POST to the account URL
    return { account_url: client.getAccountUrl(), account_status: account.status, cert_path: certPath };
  },

  /** updateAccountKey (RFC 8555 §7.3.5), then onlyReturnExisting with each key. */
  async keychange() {
    const oldKey = await newKey(cfg.account_key ?? 'p256');
    const client = makeClient(oldKey);
    await client.createAccount({ termsOfServiceAgreed: true });
    const url = client.getAccountUrl();
    const newAccountKey = await newKey(cfg.new_account_key ?? 'p384');
    await client.updateAccountKey(newAccountKey);

    // Lookup by the new key: same account URL.
    const byNew = makeClient(newAccountKey);
    const found = await byNew.createAccount({ onlyReturnExisting: true });
    const newUrl = byNew.getAccountUrl();
    // The old key no longer names any account (accountDoesNotExist, §7.3.1).
    const byOld = makeClient(oldKey);
    const oldLookup = await expectProblem(
      () => byOld.createAccount({ onlyReturnExisting: true }), 'onlyReturnExisting with the old key');
    // And the new key works for ordinary requests (kid-signed newOrder).
    const order = await byNew.createOrder({ identifiers: cfg.names.map((value) => ({ type: 'dns', value })) });
    return { account_url: url, lookup_url: newUrl, lookup_status: found.status, old_key: oldLookup, order_status: order.status };
  },

  /** Issue, revoke by account key (reason keyCompromise), revoke again (alreadyRevoked). */
  async revoke() {
    const client = makeClient(await newKey(cfg.account_key));
    const { cert, certPath } = await issue(client, cfg.names);
    await client.revokeCertificate(cert, { reason: 4 });
    const again = await expectProblem(() => client.revokeCertificate(cert, { reason: 4 }), 'second revocation');
    return { cert_path: certPath, account_url: client.getAccountUrl(), second: again };
  },

  /** Deactivate the account (RFC 8555 §7.3.6); later requests must be refused. */
  async deactivate() {
    const client = makeClient(await newKey(cfg.account_key));
    await client.createAccount({ termsOfServiceAgreed: true });
    const url = client.getAccountUrl();
    const account = await client.updateAccount({ status: 'deactivated' });
    const after = await expectProblem(
      () => client.createOrder({ identifiers: cfg.names.map((value) => ({ type: 'dns', value })) }),
      'newOrder from a deactivated account');
    return { account_url: url, status: account.status, after };
  },

  /** Just fetch the directory and create an account (negative TLS control). */
  async connect() {
    acme.axios.defaults.acmeSettings.retryMaxAttempts = 1;
    const client = makeClient(await newKey('p256'));
    await client.createAccount({ termsOfServiceAgreed: true });
    return { account_url: client.getAccountUrl() };
  },
};

const run = scenarios[scenario];
if (!run) {
  console.log(JSON.stringify({ ok: false, error: `unknown scenario ${scenario}` }));
  process.exit(2);
}
try {
  const result = await run();
  console.log(JSON.stringify({ ok: true, ...result }));
} catch (err) {
  console.error(err?.stack ?? err);
  console.log(JSON.stringify({
    ok: false,
    error: String(err?.message ?? err),
    type: problemType(err),
    code: transportCode(err),
  }));
  process.exitCode = 1;
}
