// The npm tarball as a user gets it: `npm pack`, then `npm install --offline` of the
// tarball into an empty folder, then the package imported there from Node (this Node,
// Node 18 from the cache and Debian's /usr/bin/node when it is another version), from Deno, from a plain
// <script type="module"> page in headless Chromium, bundled for the browser by esbuild
// (in Chromium too), and bundled for Workers by
// wrangler's esbuild (the `workerd` export condition, .wasm as a module) and run in
// workerd. Prints the tarball and wasm sizes.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { DENO, ESBUILD, JS_DIR, NODE18, startWranglerDev } from './support/servers.mjs';

const run = promisify(execFile);
let tmp, app, tarball;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'edge-acme-js-pack-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: JS_DIR });
  const [info] = JSON.parse(stdout);
  tarball = path.join(tmp, info.filename);
  const files = info.files.map((f) => f.path).sort();
  console.log(`# tarball ${info.filename}: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${files.length} files`);
  assert.ok(files.includes('wasm/edge_acme_bg.wasm') && files.includes('dist/index.js') && files.includes('dist/workers.js'), files.join(' '));
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.endsWith('.rs')), files.join(' '));
  app = path.join(tmp, 'app');
  await run('mkdir', ['-p', app]);
  await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: app });
});

after(async () => { if (tmp) await rm(tmp, { recursive: true, force: true }); });

test('the wasm in the package is within the 250 KB gzip budget', async () => {
  const wasm = await readFile(path.join(app, 'node_modules/edge-acme/wasm/edge_acme_bg.wasm'));
  const gz = gzipSync(wasm, { level: 9 }).length;
  console.log(`# wasm ${wasm.length} bytes raw, ${gz} bytes gzip -9`);
  assert.ok(gz <= 250 * 1024, `wasm is ${gz} bytes gzipped`);
});

const SMOKE = `
import * as acme from 'edge-acme';
const out = {};
for (const kind of ['P-256', 'P-384', 'Ed25519']) {
  const key = acme.generateKey(kind);
  const jws = acme.signJws(key, { url: 'https://ca.example/new-acct', nonce: 'n' }, { termsOfServiceAgreed: true });
  const csr = acme.createCsr(key, ['a.example.com']);
  out[kind] = { alg: key.alg, tp: acme.thumbprint(key).length, jws: Object.keys(jws).sort().join(), csr: csr.pem.startsWith('-----BEGIN CERTIFICATE REQUEST-----') };
}
out.client = typeof new acme.AcmeClient('https://ca.example/directory').directory;
console.log(JSON.stringify(out));
`;
const EXPECTED = {
  'P-256': { alg: 'ES256', tp: 43, jws: 'payload,protected,signature', csr: true },
  'P-384': { alg: 'ES384', tp: 43, jws: 'payload,protected,signature', csr: true },
  Ed25519: { alg: 'EdDSA', tp: 43, jws: 'payload,protected,signature', csr: true },
  client: 'function',
};

test('installed offline, it imports and works in Node 18 (the oldest supported), 20 and 22 (ESM)', async () => {
  await writeFile(path.join(app, 'smoke.mjs'), SMOKE);
  assert.ok(existsSync(NODE18), `${NODE18} is missing: scripts/bootstrap.sh js installs it`);
  const nodes = [process.execPath, NODE18];
  if (existsSync('/usr/bin/node')) {
    const other = (await run('/usr/bin/node', ['--version'])).stdout.trim();
    if (other !== process.version) nodes.push('/usr/bin/node');
  }
  for (const node of nodes) {
    const { stdout } = await run(node, ['smoke.mjs'], { cwd: app });
    assert.deepEqual(JSON.parse(stdout), EXPECTED, node);
    console.log(`# ${(await run(node, ['--version'])).stdout.trim()}: ok`);
  }
});

test('installed offline, it imports and works in Deno (the `deno` condition, bare specifier from node_modules)', async () => {
  // Deno reads the wasm next to the module with fetch(file:), hence --allow-read (and only that).
  await writeFile(path.join(app, 'smoke-deno.mjs'), SMOKE.replace("from 'edge-acme';", "from 'edge-acme';\nawait acme.init();"));
  const { stdout } = await run(DENO, ['run', '--no-prompt', '--allow-read', 'smoke-deno.mjs'], { cwd: app, env: { ...process.env, NO_COLOR: '1' } });
  assert.deepEqual(JSON.parse(stdout), EXPECTED, stdout);
  console.log(`# ${(await run(DENO, ['--version'])).stdout.split('\n')[0]}`);
});

/**
 * Serves `page` at / and files under `root` elsewhere, opens it in headless Chromium and
 * resolves to the document title the page sets (its JSON result, or "ERROR ...").
 */
async function titleInChromium(page, root) {
  const { chromium } = await import('playwright-core');
  const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
  const srv = http.createServer(async (req, res) => {
    if (req.url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    try {
      const body = await readFile(path.join(root, path.normalize(req.url)));
      res.writeHead(200, { 'content-type': types[path.extname(req.url)] ?? 'application/octet-stream' }).end(body);
    } catch { res.writeHead(404).end(); }
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  try {
    const tab = await browser.newPage();
    await tab.goto(`http://127.0.0.1:${srv.address().port}/`);
    await tab.waitForFunction(() => document.title.length > 0, null, { timeout: 30_000 });
    return await tab.title();
  } finally {
    await browser.close();
    srv.close();
  }
}

/** SMOKE as the body of a browser module that reports through document.title. */
const browserSmoke = (init) => `try {
  await acme.init(${init});
  ${SMOKE.replace("import * as acme from 'edge-acme';", '').replace('console.log(JSON.stringify(out));', 'document.title = JSON.stringify(out);')}
} catch (e) { document.title = 'ERROR ' + e; }`;

const parsedTitle = (title) => JSON.parse(title.startsWith('ERROR') ? 'null' : title);

test('it loads from a plain <script type="module"> page in headless Chromium', { skip: !existsSync('/usr/bin/chromium') && 'no /usr/bin/chromium' }, async () => {
  const page = `<!doctype html><script type="module">
    import * as acme from './dist/index.js';
    ${browserSmoke('')}
  </script>`;
  const title = await titleInChromium(page, path.join(app, 'node_modules/edge-acme'));
  assert.deepEqual(parsedTitle(title), EXPECTED, title);
});

test('bundled for the browser by esbuild (wasm URL passed to init), it runs in headless Chromium', { skip: !existsSync('/usr/bin/chromium') && 'no /usr/bin/chromium' }, async () => {
  // esbuild does not rewrite new URL(..., import.meta.url): the app copies the .wasm
  // next to its bundle and hands init() its URL, as the README describes.
  const site = path.join(app, 'site');
  await run('mkdir', ['-p', site]);
  await writeFile(path.join(app, 'browser-app.mjs'), `import * as acme from 'edge-acme';
${browserSmoke("new URL('./edge_acme_bg.wasm', import.meta.url)")}
`);
  await run(ESBUILD, ['browser-app.mjs', '--bundle', '--format=esm', '--platform=browser', `--outfile=${path.join(site, 'app.js')}`], { cwd: app });
  await copyFile(path.join(app, 'node_modules/edge-acme/wasm/edge_acme_bg.wasm'), path.join(site, 'edge_acme_bg.wasm'));
  const bundle = await readFile(path.join(site, 'app.js'), 'utf8');
  assert.ok(!/node:|require\(/.test(bundle), 'the browser bundle pulls in no Node modules');
  const title = await titleInChromium('<!doctype html><script type="module" src="/app.js"></script>', site);
  assert.deepEqual(parsedTitle(title), EXPECTED, title);
});

test('bundled for Workers (workerd condition) it runs in workerd under wrangler dev', async () => {
  await writeFile(path.join(app, 'worker.mjs'), `
import * as acme from 'edge-acme';
export default {
  async fetch() {
    ${SMOKE.replace("import * as acme from 'edge-acme';", '').replace('console.log(JSON.stringify(out));', 'return Response.json(out);')}
  },
};`);
  await writeFile(path.join(app, 'wrangler.toml'), 'name = "edge-acme-js-pack-test"\nmain = "worker.mjs"\ncompatibility_date = "2026-05-01"\n');
  const wrangler = await startWranglerDev(app);
  try {
    const body = await (await fetch(wrangler.url)).text();
    assert.ok(body.startsWith('{'), `${body.slice(0, 2000)}\n${wrangler.log().slice(-2000)}`);
    assert.deepEqual(JSON.parse(body), EXPECTED, body);
  } finally {
    await wrangler.stop();
  }
});
