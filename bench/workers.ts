// fit({ workers }) on the `npm start` problem: 784-64-10 tanh MLP, NLB with fit's defaults (k = 32,
// batch 512) on the 8 000 MNIST training digits. Each setting trains the same model from the same
// start; the runs are interleaved in rounds (resume continues each one), so background load hits
// every setting alike. Reported: median ms per iteration (total and forward), the speed-up against
// workers 0, the start-up of the threads, and whether θ and the losses are bit-identical to workers 0.
//
// With --npm-start, also the whole `npm start` job (2 000 iterations, examples/mnist.ts) with
// --workers 0 and then 1, one after the other: wall time, median ms/iteration and test accuracy as
// the example prints them, and the load average at the end of each (without the flag, the last
// such record is kept).
//
// Run: node --import tsx bench/workers.ts [--quick | --smoke] [--npm-start]   → bench/results/workers.json
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

interface Run {
  model: MLP;
  logs: FitIteration[];
  // Wall time of each fit() call minus the time inside its iterations: thread start-up and tear-down.
  overheadMs: number[];
}
const runs = new Map<number, Run>(SETTINGS.map((w) => [w, {
  model: mlp([MNIST_FEATURES, 64, 10], { activation: 'tanh', init: 'lecun', seed: 1, module }), logs: [], overheadMs: [],
}]));
for (let round = 0; round < ROUNDS; round++) {
  for (const w of SETTINGS) {
    const run = runs.get(w)!;
    const t0 = performance.now();
    const h = await fit(run.model, x, train.labels, { ...SMALL, iterations: (round + 1) * PER_ROUND, seed: 1, workers: w, resume: round > 0 });
    const wall = performance.now() - t0;
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
    medianOverheadMsPerFit: median(run.overheadMs), bitIdenticalToWorkers0: identical,
  };
});
const t0 = results[0].medianTotalMs;
const f0 = results[0].medianForwardMs;
for (const r of results) {
  Object.assign(r, { speedupTotal: t0 / r.medianTotalMs, speedupForward: f0 / r.medianForwardMs });
  console.log(`workers ${r.workers}: ${r.medianTotalMs.toFixed(1)} ms/iteration (forward ${r.medianForwardMs.toFixed(1)} ms), ` +
    `×${(t0 / r.medianTotalMs).toFixed(2)} total, ×${(f0 / r.medianForwardMs).toFixed(2)} forward, start-up/tear-down ` +
    `${r.medianOverheadMsPerFit.toFixed(0)} ms per fit(), bit-identical to workers 0: ${r.bitIdenticalToWorkers0}`);
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
  notes: `${ROUNDS} interleaved rounds of ${PER_ROUND} iterations per setting (resume continues each run); the first ${WARM} iterations ` +
    'are left out of the medians. Shared machine: compare within one run. workers = threads besides the main thread.',
  runSeconds: (performance.now() - started) / 1000,
  results,
  npmStart: whole,
};
const written = quick && !SMOKE ? undefined : writeResult('workers', out);
console.log(`done in ${out.runSeconds.toFixed(0)} s${written ? ` → ${written}` : ' (quick: not written)'}`);
