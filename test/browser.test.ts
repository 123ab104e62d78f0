// The package in a real browser (Debian's Chromium driven by playwright-core): the module loads by
// fetch + compileStreaming, falls back to bytes when the server sends the wrong MIME type, loads
// from the inlined bundle without fetching, and computes the same bits as in Node.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser/chromium.js';
import { serve } from './browser/serve.js';
import { loadModule, Workspace } from '../bindings/index.js';
// @ts-ignore: a plain ES module shared with the page
import { trainEverywhere } from './browser/train-everywhere.js';


let browser: Browser;
let page: Page;
let origin: string;
let close: () => void;
const wasmRequests: string[] = [];

test.before(async () => {
  const s = await serve();
  origin = s.origin;
  close = () => s.server.close();
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('request', (r) => { if (r.url().endsWith('.wasm')) wasmRequests.push(r.url()); });
  await page.goto(`${origin}/test/browser/blank.html`);
});

test.after(async () => {
  await browser?.close();
  close?.();
});

// Runs in the page: loads the bundle at `entry`, draws normals and multiplies two small matrices.
async function probe(entry: string) {
  return page.evaluate(async (url) => {
    const enkf = await import(url);
    const mod = await enkf.loadModule();
    const ws = new enkf.Workspace(mod);
    const z = ws.f64(37);
    mod.exports.randn(37, 12345, 7, 3, 11, z.ptr);
    const a = ws.f32(5 * 7), b = ws.f32(7 * 3), c = ws.f32(5 * 3);
    a.set(Array.from({ length: 35 }, (_, i) => Math.sin(i)));
    b.set(Array.from({ length: 21 }, (_, i) => Math.cos(i)));
    const work = mod.exports.sgemmWorkBytes(5, 3, 7);
    const w = ws.f32(Math.max(1, Math.ceil(work / 4)));
    mod.exports.sgemm(0, 0, 5, 3, 7, 1, a.ptr, 7, b.ptr, 3, 0, c.ptr, 3, w.ptr);
    const out = { simd: mod.simd, normals: Array.from(z.view()), product: Array.from(c.view()) };
    ws.dispose();
    return out;
  }, `${origin}${entry}`);
}

async function nodeReference() {
  const mod = await loadModule();
  const ws = new Workspace(mod);
  const z = ws.f64(37);
  mod.exports.randn(37, 12345, 7, 3, 11, z.ptr);
  const a = ws.f32(5 * 7), b = ws.f32(7 * 3), c = ws.f32(5 * 3);
  a.set(Array.from({ length: 35 }, (_, i) => Math.sin(i)));
  b.set(Array.from({ length: 21 }, (_, i) => Math.cos(i)));
  const w = ws.f32(Math.max(1, Math.ceil(mod.exports.sgemmWorkBytes(5, 3, 7) / 4)));
  mod.exports.sgemm(0, 0, 5, 3, 7, 1, a.ptr, 7, b.ptr, 3, 0, c.ptr, 3, w.ptr);
  return { simd: mod.simd, normals: Array.from(z.view()), product: Array.from(c.view()) };
}

test('dist/index.js loads the SIMD module by fetch and matches Node bit for bit', async () => {
  wasmRequests.length = 0;
  const got = await probe('/dist/index.js');
  const ref = await nodeReference();
  assert.is(got.simd, true);
  assert.equal(got.normals, ref.normals);
  assert.equal(got.product, ref.product);
  assert.ok(wasmRequests.some((u) => u.endsWith('/build/enkf.wasm')), 'fetched build/enkf.wasm');
});

test('a server without the application/wasm MIME type still works (arrayBuffer fallback)', async () => {
  const got = await probe('/nomime/dist/index.js');
  const ref = await nodeReference();
  assert.equal(got.normals, ref.normals);
});

test('dist/inline.js needs no fetch of a .wasm file', async () => {
  wasmRequests.length = 0;
  const got = await probe('/dist/inline.js');
  const ref = await nodeReference();
  assert.equal(got.product, ref.product);
  assert.equal(wasmRequests, []);
});

test('the same seed gives the same iterates in the browser and in Node (minimize and fit)', async () => {
  const inPage = await page.evaluate(async ({ pkg, workload }) => {
    const [enkf, { trainEverywhere: run }] = await Promise.all([import(pkg), import(workload)]);
    return run(enkf);
  }, { pkg: `${origin}/dist/index.js`, workload: `${origin}/test/browser/train-everywhere.js` });
  const inNode = await trainEverywhere(await import('../bindings/index.js'));
  assert.ok(inNode.theta.some((v) => v !== 0), 'minimize moved θ');
  assert.equal(inPage.theta, inNode.theta);
  assert.equal(inPage.params, inNode.params);
});

test('the demo page trains the spirals to ≥ 97 % accuracy while staying responsive', async () => {
  const demo = await browser.newPage();
  const errors: string[] = [];
  demo.on('pageerror', (e) => errors.push(e.message));
  await demo.goto(`${origin}/examples/browser/index.html?autostart`);
  // The page must answer between iterations (fit yields every 16 ms).
  const responsive = await demo.evaluate(() => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 50)));
  assert.ok(responsive);
  await demo.waitForFunction(() => document.body.dataset.done === 'true', null, { timeout: 120_000 });
  const accuracy = Number(await demo.evaluate(() => document.body.dataset.accuracy));
  assert.equal(errors, []);
  assert.ok(accuracy >= 0.97, `accuracy ${accuracy}`);
  await demo.close();
});

test.run();
