// NLB iteration time against ensemble size k, batch size and depth, for rank-1 and Gaussian members,
// on the path fit takes with workers 0 (fit's NLB defaults, FIT_NLB_DEFAULTS, with the network's blocks
// and members per call filled in as fit does; MlpEvaluator; cross-entropy on MNIST-shaped data).
// One axis varies at a time around the base point k = 128, batch 512, one hidden layer of 64 (tanh):
//   k ∈ {32, 64, 128, 256}, batch ∈ {128, 256, 512, 1024}, hidden layers of 64 ∈ {1, 2, 4}.
// Per point: the median of a few iterations' wall time (after one warm-up). Linearity in k and batch:
// least-squares line t = a + b·x with its R², and the time ratio per doubling of x (2 if linear with
// no fixed cost, lower when a fixed part dominates, higher when superlinear), and a quadratic fit whose
// x² share at the largest x shows how much of the growth comes from the k × k algebra.
//
// Run: node --import tsx bench/scaling.ts [--smoke]   → bench/results/scaling.json (smoke: bench/lib/smoke.ts)
import os from 'node:os';
import { loadModule, Workspace, createNlb, CrossEntropy, type EnkfModule } from '../bindings/internal.js';
import { MlpEvaluator } from '../bindings/nn/evaluator.js';
import { initialParameters } from '../bindings/nn/mlp.js';
import { FIT_NLB_DEFAULTS } from '../bindings/optimizers/nlb-options.js';
import { membersPerCall, withNetworkBlocks } from '../bindings/nn/lowrank-evaluator.js';
import { SMOKE, writeResult } from './lib/smoke.js';

type Kind = 'gaussian' | 'rank-1';
interface Point { kind: Kind; k: number; batch: number; hidden: number; layers: number[]; reps: number; medianMs: number; minMs: number }

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
};

// MNIST-shaped data (pixels in [0, 1), 10 classes): values do not change the cost.
const N = 4096;
let state = 4242;
const rand = () => ((state = (state * 1103515245 + 12345) >>> 0) / 4294967296);
const X = Float32Array.from({ length: N * 784 }, rand);
const labelsAll = Int32Array.from({ length: N }, () => Math.floor(rand() * 10));

function measure(mod: EnkfModule, kind: Kind, k: number, batch: number, hidden: number, reps: number): Point {
  const layers = [784, ...Array(hidden).fill(64), 10];
  const perturbation = kind === 'gaussian' ? 'gaussian' : { kind: 'low-rank', rank: 1 };
  const options = withNetworkBlocks({ ...FIT_NLB_DEFAULTS, ensembleSize: k, perturbation, seed: 1 }, layers);
  const ws = new Workspace(mod);
  const ev = new MlpEvaluator(mod, { layers, activation: 'tanh', batchSize: batch, maxMembers: membersPerCall(options) });
  const obj = new CrossEntropy(ws, 10, labelsAll.subarray(0, batch));
  const nlb = createNlb(ws, initialParameters(layers, 'lecun', 1), options);
  const times: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    const index = Int32Array.from({ length: batch }, (_, i) => ((r * batch + i) * 7919) % N);
    const t0 = performance.now();
    ev.setBatch(X, index);
    obj.setLabels(Array.from(index, (i) => labelsAll[i]));
    nlb.step(ev, obj, { newBatch: true });
    if (r > 0) times.push(performance.now() - t0);
  }
  ev.dispose();
  ws.dispose();
  const p = { kind, k, batch, hidden, layers, reps, medianMs: median(times), minMs: Math.min(...times) };
  console.log(`${kind.padEnd(8)} k=${String(k).padStart(3)} batch=${String(batch).padStart(4)} hidden=${hidden}: ` +
    `median ${p.medianMs.toFixed(1)} ms (min ${p.minMs.toFixed(1)})`);
  return p;
}

// Least-squares line through (x, t), its R², and t(2x)/t(x) for consecutive doublings.
function linearity(points: Point[], x: (p: Point) => number) {
  const xs = points.map(x);
  const ts = points.map((p) => p.medianMs);
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const mt = ts.reduce((a, b) => a + b, 0) / n;
  let sxx = 0, sxt = 0, stt = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxt += (xs[i] - mx) * (ts[i] - mt);
    stt += (ts[i] - mt) ** 2;
  }
  const slope = sxx > 0 ? sxt / sxx : 0;
  const intercept = mt - slope * mx;
  const r2 = sxx > 0 && stt > 0 ? (sxt * sxt) / (sxx * stt) : 1;
  const ratios = ts.slice(1).map((t, i) => +(t / ts[i]).toFixed(3));
  const quad = quadratic(xs, ts);
  return {
    x: xs, ms: ts.map((t) => +t.toFixed(2)), slopeMsPerUnit: slope, interceptMs: intercept, r2: +r2.toFixed(4), ratioPerDoubling: ratios,
    quadratic: quad,
  };
}

// Least-squares t = a + b·x + c·x² (normal equations, 3 × 3, Cramer): the share of c·x² in t at the
// largest x says how much of the growth is quadratic (k² terms: the k × k system and Gram).
function quadratic(xs: number[], ts: number[]) {
  if (xs.length < 3) return null;
  const S = (p: number) => xs.reduce((acc, x) => acc + x ** p, 0);
  const T = (p: number) => xs.reduce((acc, x, i) => acc + x ** p * ts[i], 0);
  const A = [[S(0), S(1), S(2)], [S(1), S(2), S(3)], [S(2), S(3), S(4)]];
  const rhs = [T(0), T(1), T(2)];
  const det = (M: number[][]) => M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) - M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
    M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0]);
  const D = det(A);
  const [a, b, c] = [0, 1, 2].map((j) => det(A.map((row, i) => row.map((v, jj) => (jj === j ? rhs[i] : v)))) / D);
  const xMax = Math.max(...xs);
  const tMax = a + b * xMax + c * xMax * xMax;
  return { a, b, c, quadraticShareAtMax: +((c * xMax * xMax) / tMax).toFixed(3) };
}

const mod = await loadModule();
const started = performance.now();
const load0 = os.loadavg();
const base = { k: 128, batch: 512, hidden: 1 };
const axes = SMOKE
  ? { k: [8, 16], batch: [32, 64], hidden: [1, 2] }
  : { k: [32, 64, 128, 256], batch: [128, 256, 512, 1024], hidden: [1, 2, 4] };
const smokeBase = { k: 16, batch: 64, hidden: 1 };
const b0 = SMOKE ? smokeBase : base;
const reps = SMOKE ? 1 : 7;
const results: Point[] = [];
const summary: Record<string, unknown> = {};
for (const kind of ['rank-1', 'gaussian'] as const) {
  const byK = axes.k.map((k) => measure(mod, kind, k, b0.batch, b0.hidden, reps));
  const byBatch = axes.batch.map((batch) => measure(mod, kind, b0.k, batch, b0.hidden, reps));
  const byDepth = axes.hidden.map((hidden) => measure(mod, kind, b0.k, b0.batch, hidden, reps));
  results.push(...byK, ...byBatch, ...byDepth);
  summary[kind] = { k: linearity(byK, (p) => p.k), batch: linearity(byBatch, (p) => p.batch), hidden: linearity(byDepth, (p) => p.hidden) };
}
for (const kind of ['rank-1', 'gaussian']) {
  const s = summary[kind] as Record<string, ReturnType<typeof linearity>>;
  for (const axis of ['k', 'batch', 'hidden']) {
    console.log(`${kind} vs ${axis}: R² ${s[axis].r2}, ratio per step ${s[axis].ratioPerDoubling.join(' ')}, intercept ${s[axis].interceptMs.toFixed(1)} ms, ` +
      `x² share at max ${s[axis].quadratic?.quadraticShareAtMax ?? '-'}`);
  }
}
const out = {
  benchmark: 'NLB iteration time (median ms, fit path, workers 0) against k, batch and depth; rank-1 and Gaussian members',
  environment: {
    node: process.version, simd: mod.simd, cpu: os.cpus()[0]?.model, cores: os.cpus().length, date: new Date().toISOString(),
    loadAverageBefore: load0, loadAverageAfter: os.loadavg(),
  },
  settings: { base: b0, axes, reps, warmup: 1, optimizer: { ...FIT_NLB_DEFAULTS }, activation: 'tanh', hiddenWidth: 64 },
  notes: 'One axis varies at a time around the base point. linearity[kind][axis]: least-squares line ms = interceptMs + ' +
    'slopeMsPerUnit·x, its R², and ms ratio between consecutive points (per doubling for k and batch; depth steps 1→2→4); ' +
    'quadratic: ms = a + b·x + c·x², quadraticShareAtMax = c·x²/ms at the largest x. ' +
    'Shared, loaded 2-core machine: absolute times drift; see the load averages.',
  runSeconds: (performance.now() - started) / 1000,
  smoke: SMOKE,
  results,
  linearity: summary,
};
const written = writeResult('scaling', out);
console.log(`done in ${out.runSeconds.toFixed(0)} s → ${written}`);
