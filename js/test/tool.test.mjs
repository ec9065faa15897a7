// The browser tool (js/tool/index.html) end to end: Playwright (playwright-core driving
// Debian's /usr/bin/chromium, headless) fills in the form against the local Worker,
// publishes the http-01 file or dns-01 records the page shows, waits for the page to
// finish, and saves a screenshot of the finished state to target/test-logs/
// (js-tool-issued.png from js/, js-tool-issued-worker.png from the Worker at `/`).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { JS_DIR, ROOT, startDoh, startHttp01, startWorker } from './support/servers.mjs';

const RUN = Math.random().toString(36).slice(2, 8);
const SHOT = path.join(ROOT, 'target', 'test-logs', 'js-tool-issued.png');
let worker, http01, doh, site, browser;

/** Serves js/ (the page and the built package) over plain HTTP. */
async function serveJs() {
  const types = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
  const srv = http.createServer(async (req, res) => {
    const file = path.join(JS_DIR, path.normalize(new URL(req.url, 'http://x').pathname));
    if (!file.startsWith(JS_DIR)) return res.writeHead(403).end();
    let body;
    try { body = await readFile(file); } catch { return res.writeHead(404).end(); }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' }).end(body);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) };
}

before(async () => {
  http01 = await startHttp01();
  doh = await startDoh();
  worker = await startWorker(`tool-${RUN}`, { EDGE_ACME_HTTP01_ADDR: http01.addr, EDGE_ACME_DOH_URL: doh.url });
  site = await serveJs();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await worker?.stop();
  await http01?.close();
  await doh?.close();
});

const CHROMIUM = '/usr/bin/chromium';

/** Opens `url` in a fresh headless context; returns the page and its collected errors. */
async function open(url) {
  const { chromium } = await import('playwright-core');
  browser ??= await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  // The Worker's TLS certificate comes from its development CA, which Chromium does not know.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 1400 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const response = await page.goto(url);
  return { page, errors, response };
}

/** Waits for the page to finish, saves the screenshot, checks the certificate and key download. */
async function finish(page, errors, names, shot) {
  await page.waitForSelector('body[data-state]', { timeout: 120_000 });
  await page.screenshot({ path: shot, fullPage: true });
  const state = await page.getAttribute('body', 'data-state');
  const log = await page.locator('#log').textContent();
  assert.equal(state, 'issued', `${log}\n${errors.join('\n')}`);
  assert.match(await page.locator('#chain').textContent(), /^-----BEGIN CERTIFICATE-----/);
  const summary = await page.locator('#summary').textContent();
  for (const name of names) assert.ok(summary.includes(name), `${name} in ${summary}`);
  // The private key download is a PKCS#8 PEM made in the page.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#dlKey')]);
  const keyPem = await readFile(await download.path(), 'utf8');
  assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----/);
  assert.deepEqual(errors, []);
  console.log(`# screenshot ${shot}`);
}

test('from js/ alone: the page gets a certificate from the local Worker by http-01, keys never leaving the browser', { skip: !existsSync(CHROMIUM) && `no ${CHROMIUM}` }, async () => {
  const host = `tool-${RUN}.example.com`;
  const q = new URLSearchParams({ directory: worker.directory, names: host, type: 'http-01' });
  const { page, errors } = await open(`${site.url}/tool/index.html?${q}`);
  await page.check('#tos');
  await page.click('#start');
  const box = page.locator('.challenge[data-token]');
  await box.waitFor({ timeout: 60_000 });
  const token = await box.getAttribute('data-token');
  const body = await box.locator('pre[data-field=body]').textContent();
  assert.match(body, new RegExp(`^${token}\\.[\\w-]{43}$`));
  http01.tokens.set(token, body);
  await page.click('#ready');
  await finish(page, errors, [host], SHOT);
});

test('served by the Worker at /: same-origin directory by default, a wildcard by dns-01, under the site\'s CSP', { skip: !existsSync(CHROMIUM) && `no ${CHROMIUM}` }, async () => {
  const zone = `tool-wild-${RUN}.example.org`;
  const { page, errors, response } = await open(new URL('/', worker.facts.base_url).toString());
  assert.equal(response.status(), 200);
  const headers = response.headers();
  assert.match(headers['content-security-policy'] ?? '', /default-src 'self'/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.equal(await page.inputValue('#directory'), worker.directory);
  await page.fill('#names', `${zone}, *.${zone}`);
  await page.selectOption('#type', 'dns-01');
  await page.selectOption('#kind', 'Ed25519');
  await page.check('#tos');
  await page.click('#start');
  await page.locator('#challenges:not([hidden])').waitFor({ timeout: 60_000 });
  const boxes = page.locator('.challenge[data-type=dns-01]');
  assert.equal(await boxes.count(), 2, 'one TXT record per authorization');
  for (let i = 0; i < 2; i++) {
    const name = await boxes.nth(i).locator('pre[data-field=name]').textContent();
    const value = await boxes.nth(i).locator('pre[data-field=value]').textContent();
    assert.equal(name, `_acme-challenge.${zone}`);
    assert.match(value, /^[\w-]{43}$/);
    doh.txt.set(name, [...(doh.txt.get(name) ?? []), value]);
  }
  await page.click('#ready');
  await finish(page, errors, [zone, `*.${zone}`], SHOT.replace('.png', '-worker.png'));
  const log = await page.locator('#log').textContent();
  assert.ok(log.includes(`*.${zone} validated`) && log.includes(`${zone} validated`), log);
});
