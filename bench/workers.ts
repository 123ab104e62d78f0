// fit({ workers }) on the `npm start` problem: 784-64-10 tanh MLP, NLB with fit's defaults (k = 32,
// batch 512) on the 8 000 MNIST training digits. Each setting trains the same model from the same
// start; the runs are interleaved in rounds (resume continues each one), so background load hits
// every setting alike. Reported: median ms per iteration (total and forward), the speed-up against
// workers 0, the start-up of the threads, and whether θ and the losses are bit-identical to workers 0.
//
// Then the same schedule in Debian's Chromium (playwright-core) with Web Workers, on the same digits
// served from loopback: medians, speed-ups and whether θ equals Node's workers: 0 bit for bit
// (skipped with a note when Chromium is missing).
//
// With --npm-start, also the whole `npm start` job (2 000 iterations, examples/mnist.ts) with
// --workers 0 and then 1, one after the other: wall time, median ms/iteration and test accuracy as
// the example prints them, and the load average at the end of each (without the flag, the last
// such record is kept).
//
// Run: node --import tsx bench/workers.ts [--quick | --smoke] [--npm-start]   → bench/results/workers.json
// (--quick: 2 rounds of 20 iterations; the file records which)
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { CHROMIUM, launchChromium } from '../test/browser/chromium.js';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import { loadModule } from '../bindings/wasm.js';
import { mnistSplit, MNIST_FEATURES } from '../bindings/data/mnist.js';
import { mlp, type MLP } from '../bindings/nn/mlp.js';
import { fit, type FitIteration } from '../bindings/nn/fit.js';
import { SMOKE, resultPath, writeResult } from './lib/smoke.js';

const quick = process.argv.includes('--quick');
// Smoke: two rounds (so resume is exercised) of two small iterations, workers 0 and 1.
const ROUNDS = quick || SMOKE ? 2 : 4;
const PER_ROUND = SMOKE ? 2 : quick ? 20 : 50;
const SETTINGS = SMOKE ? [0, 1] : [0, 1, 2];
const SMALL = SMOKE ? { batchSize: 64, nlb: { ensembleSize: 4 } } : {};
// The first iterations warm up the JIT and the threads: left out of the medians.
const WARM = SMOKE ? 0 : 5;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
};

const module = await loadModule();
const { train } = await mnistSplit(0);
const x = { data: train.images, shape: [train.count, MNIST_FEATURES] as [number, number] };
const started = performance.now();
const loadAtStart = os.loadavg();

interface Run {
  model: MLP;
  logs: FitIteration[];
  // Wall time of each fit() call minus the time inside its iterations: thread start-up and tear-down.
  overheadMs: number[];
  // Process CPU time (every thread) and wall time of the fit() calls: cpu/wall ≈ 1 + workers when each thread has a core.
  cpuMs: number;
  wallMs: number;
}
const runs = new Map<number, Run>(SETTINGS.map((w) => [w, {
  model: mlp([MNIST_FEATURES, 64, 10], { activation: 'tanh', init: 'lecun', seed: 1, module }), logs: [], overheadMs: [], cpuMs: 0, wallMs: 0,
}]));
for (let round = 0; round < ROUNDS; round++) {
  for (const w of SETTINGS) {
    const run = runs.get(w)!;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const h = await fit(run.model, x, train.labels, { ...SMALL, iterations: (round + 1) * PER_ROUND, seed: 1, workers: w, resume: round > 0 });
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    run.cpuMs += (cpu.user + cpu.system) / 1000;
    run.wallMs += wall;
    run.logs.push(...h.iterations);
    run.overheadMs.push(wall - h.iterations.reduce((s, d) => s + d.totalMs, 0));
  }
  console.log(`round ${round + 1}/${ROUNDS} done`);
}

const base = runs.get(0)!;
const results = SETTINGS.map((w) => {
  const run = runs.get(w)!;
  const timed = run.logs.slice(WARM);
  const totalMs = median(timed.map((d) => d.totalMs));
  const forwardMs = median(timed.map((d) => d.forwardMs));
  const identical = run.model.params.every((v, i) => Object.is(v, base.model.params[i])) &&
    run.logs.every((d, i) => Object.is(d.loss, base.logs[i].loss) && Object.is(d.lossBefore, base.logs[i].lossBefore));
  return {
    workers: w, threads: w + 1, iterations: run.logs.length, medianTotalMs: totalMs, medianForwardMs: forwardMs,
    medianOverheadMsPerFit: median(run.overheadMs), cpuPerWall: run.cpuMs / run.wallMs, bitIdenticalToWorkers0: identical,
  };
});
const t0 = results[0].medianTotalMs;
const f0 = results[0].medianForwardMs;
for (const r of results) {
  Object.assign(r, { speedupTotal: t0 / r.medianTotalMs, speedupForward: f0 / r.medianForwardMs });
  console.log(`workers ${r.workers}: ${r.medianTotalMs.toFixed(1)} ms/iteration (forward ${r.medianForwardMs.toFixed(1)} ms), ` +
    `×${(t0 / r.medianTotalMs).toFixed(2)} total, ×${(f0 / r.medianForwardMs).toFixed(2)} forward, start-up/tear-down ` +
    `${r.medianOverheadMsPerFit.toFixed(0)} ms per fit(), cpu/wall ${r.cpuPerWall.toFixed(2)}, bit-identical to workers 0: ${r.bitIdenticalToWorkers0}`);
}
// The same rounds in Chromium: the package and the digits served from loopback, fit run in the page.
async function inChromium() {
  if (!existsSync(CHROMIUM)) return { skipped: `no Chromium at ${CHROMIUM}` };
  const root = fileURLToPath(new URL('../', import.meta.url));
  const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const routes: Record<string, () => Buffer> = {
    '/': () => Buffer.from('<!doctype html><title>workers bench</title>'),
    '/images.bin': () => bytes(train.images), '/labels.bin': () => bytes(Int32Array.from(train.labels)),
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = routes[path];
    const file = /^\/(dist|build)\/[\w.-]+\.(js|wasm)$/.test(path) ? join(root, path) : undefined;
    if (!route && !(file && existsSync(file))) return void res.writeHead(404).end();
    const type = path.endsWith('.js') ? 'text/javascript' : path.endsWith('.wasm') ? 'application/wasm' : path === '/' ? 'text/html' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type }).end(route ? route() : readFileSync(file!));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    // tsx names the functions written inside page.evaluate through a __name helper the page lacks.
    await page.addInitScript('globalThis.__name ??= (f) => f;');
    await page.goto(`http://127.0.0.1:${port}/`);
    const got = await page.evaluate(async ({ settings, rounds, perRound, small, features }) => {
      const enkf = await import('/dist/index.js');
      const module = await enkf.loadModule();
      const images = new Float32Array(await (await fetch('/images.bin')).arrayBuffer());
      const labels = new Int32Array(await (await fetch('/labels.bin')).arrayBuffer());
      const x = { data: images, shape: [labels.length, features] };
      const runs = settings.map(() => ({ model: enkf.mlp([features, 64, 10], { activation: 'tanh', init: 'lecun', seed: 1, module }), logs: [] as { totalMs: number; forwardMs: number }[] }));
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < settings.length; i++) {
          const h = await enkf.fit(runs[i].model, x, labels, { ...small, iterations: (round + 1) * perRound, seed: 1, workers: settings[i], resume: round > 0 });
          runs[i].logs.push(...h.iterations.map((d: { totalMs: number; forwardMs: number }) => ({ totalMs: d.totalMs, forwardMs: d.forwardMs })));
        }
      }
      return { cores: navigator.hardwareConcurrency, runs: runs.map((r) => ({ params: Array.from(r.model.params as Float64Array), logs: r.logs })) };
    }, { settings: SETTINGS, rounds: ROUNDS, perRound: PER_ROUND, small: SMALL, features: MNIST_FEATURES });
    const version = browser.version();
    const medians = got.runs.map((r) => ({ total: median(r.logs.slice(WARM).map((d) => d.totalMs)), forward: median(r.logs.slice(WARM).map((d) => d.forwardMs)) }));
    return {
      browser: `Chromium ${version}`, hardwareConcurrency: got.cores, crossOriginIsolated: false,
      results: SETTINGS.map((w, i) => ({
        workers: w, medianTotalMs: medians[i].total, medianForwardMs: medians[i].forward,
        speedupTotal: medians[0].total / medians[i].total, speedupForward: medians[0].forward / medians[i].forward,
        bitIdenticalToNodeWorkers0: got.runs[i].params.every((v, j) => Object.is(v, base.model.params[j])),
      })),
    };
  } finally {
    await browser.close();
    server.close();
  }
}
const loadBeforeChromium = os.loadavg();
const browserRuns = await inChromium();
for (const r of 'results' in browserRuns ? browserRuns.results : []) {
  console.log(`Chromium workers ${r.workers}: ${r.medianTotalMs.toFixed(1)} ms/iteration (forward ${r.medianForwardMs.toFixed(1)} ms), ` +
    `×${r.speedupTotal.toFixed(2)} total, ×${r.speedupForward.toFixed(2)} forward, bit-identical to Node workers 0: ${r.bitIdenticalToNodeWorkers0}`);
}

// One `npm start` run: the figures of its summary lines.
function npmStart(workers: number) {
  const dir = mkdtempSync(join(os.tmpdir(), 'enkf-workers-'));
  try {
    const example = fileURLToPath(new URL('../examples/mnist.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', example, '--workers', String(workers), '--out', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm start --workers ${workers} failed: ${r.stderr}`);
    const num = (re: RegExp) => Number((r.stdout.match(re) ?? [])[1] ?? NaN);
    const result = {
      workers, testAccuracy: num(/Final test accuracy ([\d.]+)%/), testLoss: num(/test loss ([\d.]+);/),
      wallSeconds: num(/Wall time ([\d.]+) s/), trainingSeconds: num(/training ([\d.]+) s,/), medianMsPerIteration: num(/median ([\d.]+) ms\/iteration/),
      // Runnable threads over the last minute at the end (this job alone: about 1 + workers); more = other load.
      loadAverage1m: os.loadavg()[0],
    };
    console.log(`npm start --workers ${workers}: ${JSON.stringify(result)}`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const resultsFile = resultPath('workers');
const previous = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : {};
const whole = process.argv.includes('--npm-start')
  ? { date: new Date().toISOString(), command: 'npm start -- --workers <n> (2 000 iterations)', runs: [npmStart(0), npmStart(1)] }
  : previous.npmStart;

const out = {
  benchmark: 'fit({ workers }): NLB on MNIST 784-64-10 tanh, k = 32, batch 512, 8 000 training digits (medians, ms per iteration)',
  environment: {
    node: process.version, simd: module.simd, cpu: os.cpus()[0]?.model, cores: os.cpus().length, date: new Date().toISOString(),
  },
  smoke: SMOKE,
  quick,
  notes: `${ROUNDS} interleaved rounds of ${PER_ROUND} iterations per setting (resume continues each run); the first ${WARM} iterations ` +
    'are left out of the medians. Shared machine: compare within one run. workers = threads besides the main thread.',
  runSeconds: (performance.now() - started) / 1000,
  // 1-, 5- and 15-minute load averages: this job alone keeps about 1 + workers threads runnable.
  loadAverage: { atStart: loadAtStart, beforeChromium: loadBeforeChromium, atEnd: os.loadavg() },
  results,
  chromium: browserRuns,
  npmStart: whole,
};
const written = writeResult('workers', out);
console.log(`done in ${out.runSeconds.toFixed(0)} s → ${written}`);
