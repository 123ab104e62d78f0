// Time to accuracy on MNIST: NLB with Gaussian members against rank-r members (perturbation
// { kind: 'low-rank', rank }, bindings/optimizers/directions.ts), 784-h-10 tanh, the 8 000 / 2 000
// split, fit()'s defaults except what a variant sets (k, rank, batch, width, σ, τ, step decay, λ). The variants
// train at the same time, interleaved (concurrent fit() runs that yield after every iteration), so
// a shared machine's load falls on all of them alike; each variant's time is the sum of its own
// iterations' wall time (validation excluded) and stops at the same budget. Forward cost is also
// counted in multiply-adds actually executed (a rank-r member is far cheaper than a dense pass).
// Writes bench/results/<name>.json (default rank.json). Run: node --import tsx bench/rank.ts [--budget 60]
// [--variants 'k=128,rank=1;...'] [--name rank] [--smoke]
import os from 'node:os';
import { loadModule } from '../bindings/wasm.js';
import { mnistSplit, MNIST_FEATURES } from '../bindings/data/mnist.js';
import { mlp } from '../bindings/nn/mlp.js';
import { fit, FIT_NLB_DEFAULTS, type FitIteration } from '../bindings/nn/fit.js';
import { SMOKE, writeResult } from './lib/smoke.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const argText = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
// Smoke: every variant for about half a second of a small batch.
const budgetSeconds = arg('budget', SMOKE ? 0.5 : 60);
const seed = arg('seed', 1);
const evalEvery = arg('eval-every', SMOKE ? 2 : 10);
// The result file: bench/results/<name>.json (the tuning runs of docs/defaults.md use other names).
const resultName = argText('name', 'rank');
const TARGETS = [0.85, 0.9, 0.917];

// A variant: ensemble size, rank (0 = Gaussian members), batch, hidden width and NLB schedules;
// anything not given is fit()'s default. On the command line: --variants 'k=128,rank=1,batch=512;k=32,rank=0'
// (keys k, rank, batch, hidden, sigma, tau, decay, lambda, workers).
interface Variant {
  name: string; k: number; rank: number; batch: number; hidden: number;
  sigma?: number; tau?: number; decay?: number; lambda?: number; workers: number;
}
const KEYS = ['k', 'rank', 'batch', 'hidden', 'sigma', 'tau', 'decay', 'lambda', 'workers'] as const;
function parseVariant(spec: string): Variant {
  const v: Record<string, number> = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, value] = part.split('=');
    if (!(KEYS as readonly string[]).includes(key) || !Number.isFinite(Number(value))) {
      throw new Error(`--variants: "${part}" is not key=number with a key of ${KEYS.join(', ')}.`);
    }
    v[key] = Number(value);
  }
  const out: Variant = { name: '', k: v.k ?? 32, rank: v.rank ?? 1, batch: v.batch ?? 512, hidden: v.hidden ?? 64, workers: v.workers ?? 0 };
  for (const key of ['sigma', 'tau', 'decay', 'lambda'] as const) if (v[key] !== undefined) out[key] = v[key];
  out.name = spec.replace(/\s/g, '') || 'default';
  return out;
}
// Default: the measured defaults (rank-1, docs/defaults.md) against the old ones (Gaussian k = 32) and
// the runners-up of the tuning runs.
const DEFAULT_VARIANTS = SMOKE
  ? 'k=4,rank=0,batch=64;k=8,rank=1,batch=64'
  : 'k=32,rank=0,tau=1;k=128,rank=1,tau=1;k=128,rank=1,tau=0.5;k=64,rank=1,tau=0.5;k=32,rank=1,tau=0.5';
const variants = argText('variants', DEFAULT_VARIANTS).split(';').map(parseVariant);

// Multiply-adds of the forward calls of one iteration (one call per request):
//   a dense pass (Gaussian member, θ alone, a candidate): B·Σ d_{l−1}·d_l;
//   a rank-r call of `rows` rows (θ and k members, S = k streams): the shared X·[W_1 | U_1…] GEMM
//   B·d_0·(d_1 + S·r), per row the rank-r term B·d_1·r and the later layers B·d_{l−1}·d_l plus
//   forming W'_l (d_{l−1}·d_l·r).
function multiplyAdds(v: Variant, d: FitIteration): number {
  const layers = [MNIST_FEATURES, v.hidden, 10];
  const densePass = v.batch * layers.slice(1).reduce((s, dd, l) => s + layers[l] * dd, 0);
  if (v.rank === 0) return d.evaluations * densePass;
  const r = v.rank;
  const later = layers.slice(2).reduce((s, dd, l) => s + layers[l + 1] * dd, 0);
  const perturbedRows = d.evaluations - d.tries;
  const shared = v.batch * layers[0] * (layers[1] + v.k * r);
  const perRow = v.batch * (layers[1] * r + later) + later * r;
  return shared + perturbedRows * perRow + d.tries * densePass;
}

const module = await loadModule();
const { train, test } = await mnistSplit(0);
const x = { data: train.images, shape: [train.count, MNIST_FEATURES] as [number, number] };
const xt = { data: test.images, shape: [test.count, MNIST_FEATURES] as [number, number] };
const budgetMs = budgetSeconds * 1000;

interface Point { iteration: number; seconds: number; multiplyAdds: number; forwardPasses: number; testAccuracy: number; testLoss: number }
async function runVariant(v: Variant) {
  const model = mlp([MNIST_FEATURES, v.hidden, 10], { activation: 'tanh', init: 'lecun', seed, module });
  const nlb = {
    ensembleSize: v.k, perturbation: v.rank === 0 ? 'gaussian' as const : { kind: 'low-rank' as const, rank: v.rank },
    ...(v.sigma !== undefined && { sigma: v.sigma }), ...(v.tau !== undefined && { trustRegion: v.tau }),
    ...(v.decay !== undefined && { stepDecay: v.decay }), ...(v.lambda !== undefined && { lambda: v.lambda }),
  };
  let ms = 0;
  let madds = 0;
  const curve: Point[] = [];
  const iterationMs: number[] = [];
  const h = await fit(model, x, train.labels, {
    optimizer: 'nlb', nlb, batchSize: v.batch, workers: v.workers, seed, iterations: 1_000_000, yieldEvery: 1e-9,
    validationData: [xt, test.labels], validationEvery: evalEvery,
    callbacks: {
      onIterationEnd: (d) => {
        ms += d.totalMs;
        madds += multiplyAdds(v, d);
        iterationMs.push(d.totalMs);
        if (d.valAccuracy !== undefined) {
          curve.push({
            iteration: d.iteration + 1, seconds: ms / 1000, multiplyAdds: madds, forwardPasses: d.forwardPasses,
            testAccuracy: d.valAccuracy, testLoss: d.valLoss!,
          });
        }
        return ms < budgetMs;
      },
    },
  });
  const final = model.evaluate(xt, test.labels);
  const reach = TARGETS.map((target) => {
    const p = curve.find((c) => c.testAccuracy >= target);
    return { target, iteration: p?.iteration ?? null, seconds: p?.seconds ?? null, multiplyAdds: p?.multiplyAdds ?? null };
  });
  const sorted = iterationMs.slice().sort((a, b) => a - b);
  const at600 = curve.find((c) => c.iteration === 600);
  const result = {
    name: v.name, ensembleSize: v.k, perturbation: nlb.perturbation, batchSize: v.batch, hidden: v.hidden, workers: v.workers, nlb,
    iterations: h.iteration, seconds: ms / 1000, multiplyAdds: madds, finalTestAccuracy: final.accuracy, finalTestLoss: final.loss,
    bestTestAccuracy: Math.max(...curve.map((c) => c.testAccuracy)), testAccuracyAt600: at600?.testAccuracy ?? null,
    medianIterationMs: sorted[sorted.length >> 1], multiplyAddsPerIteration: madds / Math.max(1, h.iteration), reach, curve,
  };
  console.log(`${v.name}: ${(100 * final.accuracy).toFixed(2)} % after ${h.iteration} iterations, ${(ms / 1000).toFixed(1)} s ` +
    `(median ${result.medianIterationMs.toFixed(1)} ms/iteration); to ${TARGETS.map((t) => `${t * 100} %`).join(' / ')}: ` +
    reach.map((r) => (r.seconds === null ? '—' : `${r.seconds.toFixed(1)} s`)).join(' / '));
  return result;
}

const t0 = performance.now();
const results = await Promise.all(variants.map(runVariant));
const base = results[0];
// Ratios against the first variant.
const ratios = results.slice(1).map((r) => ({
  name: r.name,
  iterationTimeVsFirst: r.medianIterationMs / base.medianIterationMs,
  multiplyAddsPerIterationVsFirst: r.multiplyAddsPerIteration / base.multiplyAddsPerIteration,
  secondsToTargetVsFirst: r.reach.map((x, i) => ({
    target: x.target,
    ratio: x.seconds !== null && base.reach[i].seconds !== null ? x.seconds / base.reach[i].seconds! : null,
  })),
}));

const out = {
  benchmark: 'MNIST 784-h-10 tanh, 8000 train / 2000 test: NLB time and multiply-adds to test accuracy, Gaussian vs rank-r members, ensemble size, batch, width and schedules',
  command: `node --import tsx bench/rank.ts --budget ${budgetSeconds} --seed ${seed} --eval-every ${evalEvery} --name ${resultName} --variants '${variants.map((v) => v.name).join(';')}'${SMOKE ? ' --smoke' : ''}`,
  smoke: SMOKE,
  date: new Date().toISOString(),
  host: { node: process.versions.node, cpu: os.cpus()[0]?.model, cores: os.cpus().length, simd: module.simd, loadavg: os.loadavg() },
  note: 'Variants run interleaved in one process (one iteration of each in turn), so machine load affects all alike; seconds = the sum ' +
    'of a variant\'s own iteration wall times (validation every eval-every iterations excluded, so reaching a target is resolved to ' +
    'eval-every iterations). Single thread unless a variant sets workers. Compare ratios within this file, not absolute seconds across runs.',
  settings: {
    budgetSeconds, seed, activation: 'tanh', init: 'lecun', evalEvery, targets: TARGETS,
    nlb: { ...FIT_NLB_DEFAULTS, ensembleSize: 'per variant', perturbation: 'per variant' }, variants,
  },
  wallSeconds: (performance.now() - t0) / 1000,
  results,
  ratios,
};
console.log(`wrote ${writeResult(resultName, out)}`);
