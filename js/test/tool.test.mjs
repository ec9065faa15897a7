// The browser tool (js/tool/index.html) end to end: Playwright (playwright-core driving
// Debian's /usr/bin/chromium, headless) fills in the form against the local Worker,
// publishes the http-01 file the page shows, waits for the page to finish, and saves a
// screenshot of the finished state to target/test-logs/js-tool-issued.png.

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

test('the page gets a certificate from the local Worker, keys never leaving the browser', { skip: !existsSync('/usr/bin/chromium') && 'no /usr/bin/chromium' }, async () => {
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  // The Worker's TLS certificate comes from its development CA, which Chromium does not know.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 1400 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const host = `tool-${RUN}.example.com`;
  const q = new URLSearchParams({ directory: worker.directory, names: host, type: 'http-01' });
  await page.goto(`${site.url}/tool/index.html?${q}`);
  await page.check('#tos');
  await page.click('#start');
  const box = page.locator('.challenge[data-token]');
  await box.waitFor({ timeout: 60_000 });
  const token = await box.getAttribute('data-token');
  const body = await box.locator('pre[data-field=body]').textContent();
  assert.match(body, new RegExp(`^${token}\\.[\\w-]{43}$`));
  http01.tokens.set(token, body);
  await page.click('#ready');
  await page.waitForSelector('body[data-state]', { timeout: 120_000 });
  await page.screenshot({ path: SHOT, fullPage: true });
  const state = await page.getAttribute('body', 'data-state');
  const log = await page.locator('#log').textContent();
  assert.equal(state, 'issued', `${log}\n${errors.join('\n')}`);
  assert.match(await page.locator('#chain').textContent(), /^-----BEGIN CERTIFICATE-----/);
  assert.match(await page.locator('#summary').textContent(), new RegExp(host));
  // The private key download is a PKCS#8 PEM made in the page.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#dlKey')]);
  const keyPem = await readFile(await download.path(), 'utf8');
  assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----/);
  assert.deepEqual(errors, []);
  console.log(`# screenshot ${SHOT}`);
});
