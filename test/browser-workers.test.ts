// fit({ workers }) with Web Workers in Debian's Chromium (playwright-core): workers 0, 1, 2 and
// 'auto' give the bits of Node's workers: 0 run, with the data copied into each worker (a plain
// page) or shared (a cross-origin isolated page); no Web Worker is left after a run or an abort
// (counted by wrapping the page's Worker class, independently of the library's own count); a
// worker script that fails to load, throws at start or crashes mid-call gives a WorkerError.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser/chromium.js';
import { serve } from './browser/serve.js';
import * as enkf from '../bindings/internal.js';
// @ts-ignore: a plain ES module shared with the page
import { fitWith } from './browser/fit-workers.js';


let browser: Browser;
let page: Page;
let origin: string;
let close: () => void;

// Counts the Web Workers the page made and terminated (the library's code does not see this wrapper's purpose).
// (tsx names the functions written inside page.evaluate through a __name helper the page lacks.)
const COUNT_WORKERS = `{
  globalThis.__name ??= (f) => f;
  const Native = globalThis.Worker;
  globalThis.workerCount = { made: 0, ended: 0 };
  globalThis.Worker = class extends Native {
    constructor(...args) { super(...args); globalThis.workerCount.made++; }
    terminate() { globalThis.workerCount.ended++; super.terminate(); }
  };
}`;

test.before(async () => {
  const s = await serve();
  origin = s.origin;
  close = () => s.server.close();
  browser = await launchChromium();
  page = await browser.newPage();
  await page.addInitScript(COUNT_WORKERS);
  await page.goto(`${origin}/test/browser/blank.html`);
});

test.after(async () => {
  await browser?.close();
  close?.();
});

const urls = () => ({ pkg: `${origin}/dist/internal.js`, workload: `${origin}/test/browser/fit-workers.js` });
type Run = { params: number[]; losses: number[]; stopReason: string };

test('fit with workers 0, 1, 2 and auto in Chromium: the bits of Node\'s workers: 0 run, no Web Worker left', async () => {
  const inPage = await page.evaluate(async ({ pkg, workload }) => {
    const [lib, { fitWith: run }] = await Promise.all([import(pkg), import(workload)]);
    const runs: Record<string, Run> = {};
    const counts: Record<string, { made: number; ended: number; live: number }> = {};
    for (const w of [0, 1, 2, 'auto']) {
      runs[w] = await run(lib, w);
      const c = (globalThis as unknown as { workerCount: { made: number; ended: number } }).workerCount;
      counts[w] = { ...c, live: lib.liveWorkerCount() };
    }
    return { runs, counts, cores: navigator.hardwareConcurrency, isolated: crossOriginIsolated };
  }, urls());
  const inNode: Run = await fitWith(enkf, 0);
  for (const w of ['0', '1', '2', 'auto']) {
    assert.equal(inPage.runs[w].params, inNode.params, `workers ${w}: θ`);
    assert.equal(inPage.runs[w].losses, inNode.losses, `workers ${w}: losses`);
  }
  // Not cross-origin isolated here: each worker got its own copy of the data.
  assert.is(inPage.isolated, false);
  assert.equal(inPage.counts[0], { made: 0, ended: 0, live: 0 });
  assert.equal(inPage.counts[1], { made: 1, ended: 1, live: 0 });
  assert.equal(inPage.counts[2], { made: 3, ended: 3, live: 0 });
  const auto = Math.max(0, inPage.cores - 1);
  assert.equal(inPage.counts.auto, { made: 3 + auto, ended: 3 + auto, live: 0 }, `'auto' = ${auto} workers`);
});

test('an abort mid-run stops fit with workers: 2 and terminates its Web Workers', async () => {
  const got = await page.evaluate(async ({ pkg, workload }) => {
    const [lib, { fitWith: run }] = await Promise.all([import(pkg), import(workload)]);
    const c = (globalThis as unknown as { workerCount: { made: number; ended: number } }).workerCount;
    const before = { ...c };
    const ac = new AbortController();
    const r = await run(lib, 2, { signal: ac.signal, callbacks: { onIterationEnd: (log: { iteration: number }) => { if (log.iteration === 2) ac.abort(); } } });
    return { stopReason: r.stopReason, iterations: r.losses.length, made: c.made - before.made, ended: c.ended - before.ended, live: lib.liveWorkerCount() };
  }, urls());
  assert.is(got.stopReason, 'aborted');
  assert.ok(got.iterations < 10, `stopped after ${got.iterations} iterations`);
  assert.equal({ made: got.made, ended: got.ended, live: got.live }, { made: 2, ended: 2, live: 0 });
});

test('a worker script that fails to load, throws at start or crashes mid-call gives a WorkerError; no worker is left', async () => {
  const got = await page.evaluate(async ({ pkg, workload }) => {
    const [lib, { workload: data }] = await Promise.all([import(pkg), import(workload)]);
    const module = await lib.loadModule();
    const { x } = data();
    const options = { layers: [16, 24, 3], activation: 'tanh', batchSize: 8, maxMembers: 6 };
    const blob = (code: string) => new URL(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })));
    const outcome = (e: unknown) => ({ name: (e as Error).name, isWorkerError: e instanceof lib.WorkerError, message: (e as Error).message });
    const start: Record<string, unknown> = {};
    for (const [what, entry] of [
      ['missing script', new URL('/no-such-worker.js', location.href)],
      ['throws at start', blob('throw new Error("the worker script broke");')],
    ] as const) {
      start[what] = await lib.ParallelMlpEvaluator.create(module, options, x.data, 2, { entry }).then(() => 'started', outcome);
    }
    // Ready, then an uncaught error on the first call (the call must reject, not hang).
    const crashing = blob('let ready = false; onmessage = () => { if (!ready) { ready = true; postMessage({ id: -1 }); return; } throw new Error("crash in a call"); };');
    const ev = await lib.ParallelMlpEvaluator.create(module, options, x.data, 1, { entry: crashing });
    ev.setBatch(x.data, [0, 1, 2, 3, 4, 5, 6, 7]);
    const ws = new lib.Workspace(module);
    const theta = ws.f64(ev.n), out = ws.f64(6 * ev.m);
    const request = { theta, sigma: 0.1, seed: 1, draw: 0, member0: 0, count: 6, antithetic: false, center: false };
    const midCall = await ev.evaluatePerturbed(request, out).then(() => 'resolved', outcome);
    const later = await ev.evaluatePerturbed(request, out).then(() => 'resolved', outcome);
    await ev.close();
    ws.dispose();
    return { start, midCall, later, live: lib.liveWorkerCount() };
  }, urls());
  for (const [what, cause] of [['missing script', /the worker script failed to load or threw/], ['throws at start', /the worker script broke/]] as const) {
    const e = got.start[what] as { name: string; isWorkerError: boolean; message: string };
    assert.is(e.isWorkerError, true, what);
    assert.is(e.name, 'WorkerError', what);
    assert.match(e.message, /^workers: 2 could not start: worker \d failed \(/, what);
    assert.match(e.message, cause, what);
    assert.match(e.message, /Pass workers: 0 to evaluate on the main thread only\.$/, what);
  }
  for (const e of [got.midCall, got.later] as { isWorkerError: boolean; message: string }[]) {
    assert.is(e.isWorkerError, true);
    assert.match(e.message, /^Worker 0 failed while evaluating members: .*crash in a call/);
  }
  assert.is(got.live, 0);
});

// A cross-origin isolated origin (COOP + COEP headers): SharedArrayBuffer exists, the data are shared.
async function isolatedServer(): Promise<{ server: Server; origin: string }> {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const headers = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
    if (!/^\/(dist|build|test\/browser)\/[\w.-]+\.(js|wasm|html)$/.test(path) || !existsSync(root + path)) return void res.writeHead(404, headers).end();
    const type = path.endsWith('.wasm') ? 'application/wasm' : path.endsWith('.html') ? 'text/html' : 'text/javascript';
    res.writeHead(200, { ...headers, 'content-type': type }).end(readFileSync(root + path));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

test('a cross-origin isolated page shares the data (SharedArrayBuffer): workers 2 give the same bits', async () => {
  const { server, origin: isolated } = await isolatedServer();
  try {
    const p = await browser.newPage();
    await p.addInitScript(COUNT_WORKERS);
    await p.goto(`${isolated}/test/browser/blank.html`);
    const got = await p.evaluate(async ({ pkg, workload }) => {
      const [lib, { fitWith: run }] = await Promise.all([import(pkg), import(workload)]);
      const r = await run(lib, 2);
      return { ...r, isolated: crossOriginIsolated, made: (globalThis as unknown as { workerCount: { made: number } }).workerCount.made, live: lib.liveWorkerCount() };
    }, { pkg: `${isolated}/dist/internal.js`, workload: `${isolated}/test/browser/fit-workers.js` });
    const inNode: Run = await fitWith(enkf, 0);
    assert.is(got.isolated, true);
    assert.is(got.made, 2);
    assert.is(got.live, 0);
    assert.equal(got.params, inNode.params);
    assert.equal(got.losses, inNode.losses);
    await p.close();
  } finally {
    server.close();
  }
});

test.run();
