// The explorer in a real browser: Debian's Chromium driven by playwright-core (no browser
// download). Every page renders, the search box finds a transaction, a block and an address,
// a new block appears on the home page without a reload (the live feed), and no page logs a
// console error. Run by tests/tests/explorer_browser.rs against a stack, with:
//   WEFT_URL        the sequencer (http://127.0.0.1:port)
//   WEFT_TX         a transfer's hash, WEFT_BLOCK its block, WEFT_ADDRESS its sender,
//   WEFT_BATCH      its batch
//   WEFT_CHAIN_ID, WEFT_DEV_KEY   to send a transaction over JSON-RPC (viem) for the live test
//   WEFT_CHROMIUM   the browser (default /usr/bin/chromium)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { createWalletClient, http, defineChain, parseEther } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

const env = (name) => {
  const value = process.env[name]?.trim();
  if (!value) throw new Error(`environment variable ${name} is not set (see the header of this file)`);
  return value;
};
const URL_ = env('WEFT_URL');
const TIMEOUT = 30_000;

let browser;
let page;
const errors = [];

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.WEFT_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless=new'],
  });
  page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
});

after(async () => {
  await browser?.close();
});

async function open(path) {
  const response = await page.goto(`${URL_}${path}`);
  assert.equal(response.status(), 200, `${path} answers 200`);
  return (await page.textContent('h1')).trim();
}

test('every page renders', { timeout: TIMEOUT }, async () => {
  assert.match(await open('/explorer'), /^Weft/);
  assert.ok(await page.locator('#blocks tr').count() > 0, 'the home page lists blocks');
  assert.equal(await open(`/explorer/block/${env('WEFT_BLOCK')}`), `Block ${env('WEFT_BLOCK')}`);
  assert.equal(await open(`/explorer/tx/${env('WEFT_TX')}`), `Transaction ${env('WEFT_TX')}`);
  assert.ok(await page.locator('ol.timeline li').count() >= 1, 'a status timeline');
  assert.equal((await open(`/explorer/address/${env('WEFT_ADDRESS')}`)).toLowerCase(),
    `address ${env('WEFT_ADDRESS')}`.toLowerCase());
  assert.ok(await page.locator(`a[href="/explorer/tx/${env('WEFT_TX')}"]`).count() > 0, 'the address lists its transfer');
  assert.equal(await open(`/explorer/batch/${env('WEFT_BATCH')}`), `Batch ${env('WEFT_BATCH')}`);
});

test('the search box finds a transaction, a block and an address', { timeout: TIMEOUT }, async () => {
  for (const [query, path] of [
    [env('WEFT_TX'), `/explorer/tx/${env('WEFT_TX')}`],
    [env('WEFT_BLOCK'), `/explorer/block/${env('WEFT_BLOCK')}`],
    [env('WEFT_ADDRESS'), `/explorer/address/`],
  ]) {
    await open('/explorer');
    await page.fill('input[name=q]', query);
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith(path)), page.press('input[name=q]', 'Enter')]);
    assert.ok(new URL(page.url()).pathname.toLowerCase().startsWith(path.toLowerCase()), `${query} → ${page.url()}`);
  }
});

test('a new block appears on the home page without a reload', { timeout: TIMEOUT }, async () => {
  await open('/explorer');
  await page.waitForFunction(() => document.getElementById('live').textContent.startsWith('Live'));
  // A marker a reload would erase.
  await page.evaluate(() => { window.__notReloaded = true; });
  const top = Number(await page.textContent('#blocks tr:first-child td:first-child'));
  const chain = defineChain({
    id: Number(env('WEFT_CHAIN_ID')),
    name: 'weft',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [`${URL_}/rpc`] } },
  });
  const wallet = createWalletClient({ account: privateKeyToAccount(env('WEFT_DEV_KEY')), chain, transport: http() });
  await wallet.sendTransaction({ to: '0x000000000000000000000000000000000000dEaD', value: parseEther('0.001') });
  await page.waitForFunction(
    (previous) => Number(document.querySelector('#blocks tr:first-child td:first-child').textContent) > previous,
    top,
  );
  assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was not reloaded');
});

test('no page logged a console error', () => {
  assert.deepEqual(errors, []);
});
