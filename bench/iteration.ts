// Time of one NLB iteration split into forward passes / ensemble ("Kalman") algebra / bookkeeping.
//
// Part 1 — grid k ∈ {8, 32, 128} × m ∈ {10³, 10⁴, 10⁵} × n ∈ {10⁴, 10⁶} with a cheap linear forward
// model in plain JS (F_i = Σ_{j ≡ i mod m} θ_j: O(n + m) per member), members materialized by the
// black-box path (perturb64 in chunks of maxMembers rows).
// Part 2 — the MNIST MLP (784-64-10 tanh, batch 512, k = 32) through the in-wasm network evaluator
// (mlpForwardPerturbed: each member's f32 parameters generated into a two-row scratch and run
// through the network before the next member's; widen), with the docs/method.md §2.5 starting point
// (τ = 1, μ₀ = 1, T = 200, λ = 1e-4, σ = 0.01) and with λ = 0, each also with antithetic pairs
// (k/2 draws: the generator's share halves). Side by side, alternating iteration by iteration, the
// unfused path it replaced (perturb32 of all members into a members × n f32 matrix P, then one
// mlpForward): time per iteration and working-set bytes (evaluator + optimizer workspace) of both,
// and a check that both runs reach the same θ bit for bit.
//
// Every kernel call is timed through a proxy of the module's exports, so the split is measured,
// not inferred: forward = the model (JS forward, or mlpForward + narrow + widen; mlpForwardPerturbed,
// which also generates the members, counts as forward), generation = perturb32/perturb64, algebra = the other kernels (lsSystem/ceSystem, cholesky, cholSolve,
// combineRows, nlbUpdate, losses, drawGram for λ), bookkeeping = the rest (JS).
// "Kalman part" = everything but the forward model. Medians over repetitions.
//
// Run: node --import tsx bench/iteration.ts [--quick | --smoke]   → bench/results/iteration.json (smoke: bench/lib/smoke.ts)
import os from 'node:os';
import { loadModule, Workspace, createNlb, LeastSquares, CrossEntropy, type EnkfModule, type Evaluator, type Buf } from '../bindings/internal.js';
import { MlpEvaluator } from '../bindings/nn/evaluator.js';
import type { PerturbedRequest } from '../bindings/optimizers/types.js';
import { initialParameters } from '../bindings/nn/mlp.js';
import { FIT_NLB_DEFAULTS } from '../bindings/optimizers/nlb-options.js';
import { membersPerCall, withNetworkBlocks } from '../bindings/nn/lowrank-evaluator.js';
import { SMOKE, writeResult } from './lib/smoke.js';

const quick = process.argv.includes('--quick');

interface Timed {
  module: EnkfModule;
  times: Map<string, number>;
}

// A module whose exports time every call into the accumulating map.
function timedModule(mod: EnkfModule): Timed {
  const times = new Map<string, number>();
  const exports: Record<string, unknown> = {};
  const raw = mod.exports as unknown as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    const f = raw[key];
    if (typeof f !== 'function') {
      exports[key] = f;
      continue;
    }
    exports[key] = (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        return (f as (...a: unknown[]) => unknown)(...args);
      } finally {
        times.set(key, (times.get(key) ?? 0) + performance.now() - t0);
      }
    };
  }
  return { module: { exports: exports as unknown as EnkfModule['exports'], memory: mod.memory, simd: mod.simd, compiled: mod.compiled }, times };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
};

const FORWARD_KERNELS = ['mlpForward', 'mlpForwardPerturbed', 'lowRankForward', 'narrow', 'widen', 'denseEnsemble', 'sgemm'];
const GENERATION_KERNELS = ['perturb32', 'perturb64'];
const ALLOC_KERNELS = ['alloc', 'free', 'memoryBytes', 'simdEnabled', 'sgemmWorkBytes', 'mlpWorkBytes', 'lowRankForwardWorkBytes'];

interface Split {
  totalMs: number;
  forwardMs: number;
  generationMs: number;
  algebraMs: number;
  bookkeepingMs: number;
  kalmanMs: number;
  kalmanFraction: number;
  kernels: Record<string, number>;
  tries: number;
}

// Splits one iteration given the diagnostics and the kernel times it accumulated.
function split(totalMs: number, jsForwardMs: number, times: Map<string, number>, tries: number): Split {
  let forward = jsForwardMs;
  let generation = 0;
  let algebra = 0;
  const kernels: Record<string, number> = {};
  for (const [name, ms] of times) {
    if (ALLOC_KERNELS.includes(name)) continue;
    kernels[name] = ms;
    if (FORWARD_KERNELS.includes(name)) forward += ms;
    else if (GENERATION_KERNELS.includes(name)) generation += ms;
    else algebra += ms;
  }
  const bookkeeping = Math.max(0, totalMs - forward - generation - algebra);
  return {
    totalMs, forwardMs: forward, generationMs: generation, algebraMs: algebra, bookkeepingMs: bookkeeping,
    kalmanMs: totalMs - forward, kalmanFraction: (totalMs - forward) / totalMs, kernels, tries,
  };
}

function medianSplit(runs: Split[]): Split {
  const pick = (f: (s: Split) => number) => median(runs.map(f));
  const kernels: Record<string, number> = {};
  for (const name of new Set(runs.flatMap((r) => Object.keys(r.kernels)))) kernels[name] = median(runs.map((r) => r.kernels[name] ?? 0));
  return {
    totalMs: pick((s) => s.totalMs), forwardMs: pick((s) => s.forwardMs), generationMs: pick((s) => s.generationMs),
    algebraMs: pick((s) => s.algebraMs), bookkeepingMs: pick((s) => s.bookkeepingMs), kalmanMs: pick((s) => s.kalmanMs),
    kalmanFraction: pick((s) => s.kalmanFraction), kernels, tries: pick((s) => s.tries),
  };
}

// F_i(θ) = Σ_{j ≡ i (mod m)} θ_j (every parameter feeds one output; outputs beyond n repeat θ_{i mod n}).
function cheapLinear(n: number, m: number): Evaluator & { jsMs: number } {
  const ev = {
    n, m, jsMs: 0,
    evaluate(rows: Buf<'f64'>, count: number, out: Buf<'f64'>) {
      const t0 = performance.now();
      const r = rows.view();
      const o = out.view();
      for (let c = 0; c < count; c++) {
        const base = c * n;
        const ob = c * m;
        for (let i = 0; i < m; i++) o[ob + i] = m > n ? r[base + (i % n)] : 0;
        if (m <= n) for (let j = 0; j < n; j++) o[ob + (j % m)] += r[base + j];
      }
      ev.jsMs += performance.now() - t0;
    },
  };
  return ev;
}

async function grid(mod: EnkfModule) {
  const results = [];
  const ks = SMOKE ? [8] : [8, 32, 128];
  const ms = SMOKE ? [1e3] : quick ? [1e3, 1e4] : [1e3, 1e4, 1e5];
  const ns = quick || SMOKE ? [1e4] : [1e4, 1e6];
  for (const n of ns) {
    for (const m of ms) {
      for (const k of ks) {
        const timed = timedModule(mod);
        const ws = new Workspace(timed.module);
        const y = Float64Array.from({ length: m }, (_, i) => Math.sin(i));
        const obj = new LeastSquares(ws, y);
        const ev = cheapLinear(n, m);
        const nlb = createNlb(ws, new Float64Array(n), { ensembleSize: k, seed: 1, maxRetries: 2 });
        const reps = SMOKE ? 1 : n >= 1e6 ? (k >= 128 ? 2 : 3) : 7;
        const runs: Split[] = [];
        for (let r = 0; r < reps + 1; r++) {
          timed.times.clear();
          ev.jsMs = 0;
          const d = nlb.step(ev, obj, { newBatch: false });
          if (r > 0) runs.push(split(d.totalMs, ev.jsMs, timed.times, d.tries));
        }
        const s = medianSplit(runs);
        results.push({ n, m, k, reps, maxMembers: nlb.maxMembers, ...s });
        console.log(`n=${n.toExponential(0)} m=${m.toExponential(0)} k=${k}: total ${s.totalMs.toFixed(1)} ms, forward ` +
          `${s.forwardMs.toFixed(1)}, generation ${s.generationMs.toFixed(1)}, algebra ${s.algebraMs.toFixed(1)}, ` +
          `bookkeeping ${s.bookkeepingMs.toFixed(1)} (Kalman part ${(100 * s.kalmanFraction).toFixed(1)} %)`);
        ws.dispose();
      }
    }
  }
  return results;
}

// The unfused network evaluator the fused kernel replaced, for the side-by-side comparison: every
// member's f32 parameters written by perturb32 into P (maxMembers × pStride), then one mlpForward.
class UnfusedMlpEvaluator implements Evaluator {
  readonly n: number;
  readonly m: number;
  readonly maxMembers: number;
  private readonly ws: Workspace;
  private readonly pStride: number;
  private readonly dims: Buf<'i32'>;
  private readonly X: Buf<'f32'>;
  private readonly P: Buf<'f32'>;
  private readonly logits: Buf<'f32'>;
  private readonly bufA: Buf<'f32'>;
  private readonly bufB: Buf<'f32'>;
  private readonly work: Buf<'f32'>;
  private readonly net: Buf<'i32'>;

  constructor(mod: EnkfModule, private readonly layers: number[], private readonly batch: number, maxMembers: number) {
    const L = layers.length - 1;
    let n = 0;
    for (let l = 0; l < L; l++) n += layers[l] * layers[l + 1] + layers[l + 1];
    this.n = n;
    this.m = batch * layers[L];
    this.maxMembers = maxMembers;
    this.pStride = (n + 3) & ~3;
    const widest = Math.max(1, ...layers.slice(1, L));
    const ws = (this.ws = new Workspace(mod));
    this.dims = ws.from('i32', layers);
    this.X = ws.f32(batch * layers[0]);
    this.P = ws.f32(maxMembers * this.pStride);
    this.logits = ws.f32(maxMembers * this.m);
    this.bufA = ws.f32(batch * widest);
    this.bufB = ws.f32(batch * widest);
    this.work = ws.f32(Math.max(1, Math.ceil(ws.raw.mlpWorkBytes(batch, L, this.dims.ptr) / 4)));
    this.net = ws.i32(ws.raw.mlpNetworkBytes() / 4);
    ws.raw.mlpNetwork(this.net.ptr, L, 2, 0, batch, this.dims.ptr, this.X.ptr, this.P.ptr, this.pStride, this.logits.ptr,
      this.bufA.ptr, this.bufB.ptr, this.work.ptr);
  }

  get bytes(): number {
    return this.ws.bytesInUse;
  }

  setBatch(data: Float32Array, index: ArrayLike<number>): void {
    const d0 = this.layers[0];
    const x = this.X.view();
    for (let i = 0; i < index.length; i++) x.set(data.subarray(index[i] * d0, (index[i] + 1) * d0), i * d0);
  }

  private forward(count: number, out: Buf<'f64'>): void {
    const raw = this.ws.raw;
    raw.mlpForward(this.net.ptr, count);
    raw.widen(count * this.m, this.logits.ptr, out.ptr);
  }

  evaluate(rows: Buf<'f64'>, count: number, out: Buf<'f64'>): void {
    for (let r = 0; r < count; r++) this.ws.raw.narrow(this.n, rows.byteOffset(r * this.n), this.P.byteOffset(r * this.pStride));
    this.forward(count, out);
  }

  evaluatePerturbed({ theta, sigma, seed, draw, member0, count, antithetic, center }: PerturbedRequest, out: Buf<'f64'>): void {
    const first = center ? 1 : 0;
    if (center) this.ws.raw.narrow(this.n, theta.ptr, this.P.ptr);
    this.ws.raw.perturb32(count, this.n, sigma, seed, draw, member0, antithetic ? 1 : 0, this.pStride, theta.ptr,
      this.P.byteOffset(first * this.pStride));
    this.forward(count + first, out);
  }

  dispose(): void {
    this.ws.dispose();
  }
}

async function mnist(mod: EnkfModule) {
  const layers = [784, 64, 10];
  const batch = 512;
  const k = 32;
  const results = [];
  // MNIST-shaped data: pixels in [0, 1), 10 classes (values do not change the cost)
  const N = 4096;
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const X = Float32Array.from({ length: N * 784 }, rand);
  const labelsAll = Int32Array.from({ length: N }, () => Math.floor(rand() * 10));
  const theta0 = initialParameters(layers, 'lecun', 1);
  const configs = [[1e-4, false], [0, false], [1e-4, true], [0, true]] as const;
  for (const [lambda, antithetic] of SMOKE ? configs.slice(0, 1) : configs) {
    // Two identical NLB runs, one per evaluator, stepped alternately on the same batches.
    const sides = [true, false].map((fused) => {
      const timed = timedModule(mod);
      const ws = new Workspace(timed.module);
      const ev = fused
        ? new MlpEvaluator(timed.module, { layers, activation: 'tanh', batchSize: batch, maxMembers: k + 1 })
        : new UnfusedMlpEvaluator(timed.module, layers, batch, k + 1);
      const obj = new CrossEntropy(ws, 10, labelsAll.subarray(0, batch));
      const nlb = createNlb(ws, theta0, {
        ensembleSize: k, sigma: 0.01, trustRegion: 1, stepSize: 1, stepDecay: 200, lambda, antithetic, seed: 1, sigmaSchedule: 'constant',
      });
      return { fused, timed, ws, ev, obj, nlb, runs: [] as Split[] };
    });
    const reps = SMOKE ? 1 : quick ? 4 : 12;
    const warm = SMOKE ? 1 : 3;
    for (let r = 0; r < reps + warm; r++) {
      const index = Int32Array.from({ length: batch }, (_, i) => ((r * batch + i) * 7919) % N);
      // alternate which side goes first, so drift on the shared machine hits both alike
      for (const side of r % 2 ? [...sides].reverse() : sides) {
        side.ev.setBatch(X, index);
        side.obj.setLabels(Array.from(index, (i) => labelsAll[i]));
        side.timed.times.clear();
        const d = side.nlb.step(side.ev, side.obj, { newBatch: true });
        if (r >= warm) side.runs.push(split(d.totalMs, 0, side.timed.times, d.tries));
      }
    }
    const [a, b] = sides.map((side) => side.nlb.theta());
    const identical = a.every((v, j) => Object.is(v, b[j]));
    const [fused, unfused] = sides.map((side) => ({
      ...medianSplit(side.runs),
      evaluatorBytes: side.ev.bytes,
      optimizerBytes: side.ws.bytesInUse,
      workingSetBytes: side.ev.bytes + side.ws.bytesInUse,
    }));
    results.push({ layers, batch, k, lambda, antithetic, n: sides[0].nlb.n, reps, ...fused, unfused, sameTheta: identical });
    const mib = (x: number) => (x / 2 ** 20).toFixed(2);
    for (const [name, sp] of [['fused', fused], ['unfused', unfused]] as const) {
      console.log(`MNIST MLP 784-64-10, batch ${batch}, k = ${k}, λ = ${lambda}${antithetic ? ', antithetic' : ''}, ${name}: total ${sp.totalMs.toFixed(1)} ms, forward ` +
        `${sp.forwardMs.toFixed(1)}, generation ${sp.generationMs.toFixed(1)}, algebra ${sp.algebraMs.toFixed(1)}, ` +
        `bookkeeping ${sp.bookkeepingMs.toFixed(1)} (Kalman part ${(100 * sp.kalmanFraction).toFixed(1)} %, tries ${sp.tries}); ` +
        `working set ${mib(sp.workingSetBytes)} MiB (evaluator ${mib(sp.evaluatorBytes)} + optimizer ${mib(sp.optimizerBytes)})\n  kernels: ` +
        Object.entries(sp.kernels).map(([kn, ms]) => `${kn} ${ms.toFixed(2)}`).join(", "));
    }
    console.log(`  fused/unfused time ${(fused.totalMs / unfused.totalMs).toFixed(3)}, same θ after ${reps + warm} iterations: ${identical}`);
    if (!identical) throw new Error('fused and unfused NLB runs diverged: the fused kernel is not bit-identical');
    for (const side of sides) {
      side.ev.dispose();
      side.ws.dispose();
    }
  }
  return results;
}

// Part 3 — the split as fit runs it (workers 0): fit's NLB defaults (FIT_NLB_DEFAULTS) with the
// network's blocks and members per call filled in as fit does, for rank-1 members (k = 32 and fit's
// k = 128) next to Gaussian ones (k = 32). Algebra now includes lowRankUpdate / lowRankGram.
async function perturbations(mod: EnkfModule) {
  const layers = [784, 64, 10];
  const batch = 512;
  const N = 4096;
  let s = 777;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const X = Float32Array.from({ length: N * 784 }, rand);
  const labelsAll = Int32Array.from({ length: N }, () => Math.floor(rand() * 10));
  const theta0 = initialParameters(layers, 'lecun', 1);
  const configs = [
    { perturbation: 'gaussian' as const, k: 32 },
    { perturbation: { kind: 'low-rank' as const, rank: 1 }, k: 32 },
    { perturbation: { kind: 'low-rank' as const, rank: 1 }, k: 128 },
  ];
  const results = [];
  for (const { perturbation, k } of configs) {
    const timed = timedModule(mod);
    const ws = new Workspace(timed.module);
    const options = withNetworkBlocks({ ...FIT_NLB_DEFAULTS, ensembleSize: k, perturbation, seed: 1 }, layers);
    const ev = new MlpEvaluator(timed.module, { layers, activation: 'tanh', batchSize: batch, maxMembers: membersPerCall(options) });
    const obj = new CrossEntropy(ws, 10, labelsAll.subarray(0, batch));
    const nlb = createNlb(ws, theta0, options);
    const reps = SMOKE ? 1 : quick ? 4 : 10;
    const warm = SMOKE ? 1 : 2;
    const runs: Split[] = [];
    for (let r = 0; r < reps + warm; r++) {
      const index = Int32Array.from({ length: batch }, (_, i) => ((r * batch + i) * 7919) % N);
      ev.setBatch(X, index);
      obj.setLabels(Array.from(index, (i) => labelsAll[i]));
      timed.times.clear();
      const d = nlb.step(ev, obj, { newBatch: true });
      if (r >= warm) runs.push(split(d.totalMs, 0, timed.times, d.tries));
    }
    const sp = medianSplit(runs);
    const kind = perturbation === 'gaussian' ? 'gaussian' : 'rank-1';
    const pct = (x: number) => +(100 * x / sp.totalMs).toFixed(1);
    results.push({
      perturbation: kind, k, layers, batch, reps, maxMembers: ev.maxMembers, ...sp,
      percent: { forward: pct(sp.forwardMs), generation: pct(sp.generationMs), algebra: pct(sp.algebraMs), bookkeeping: pct(sp.bookkeepingMs) },
    });
    console.log(`fit path, ${kind}, k = ${k}: total ${sp.totalMs.toFixed(1)} ms, forward ${sp.forwardMs.toFixed(1)} (${pct(sp.forwardMs)} %), ` +
      `algebra ${sp.algebraMs.toFixed(1)} (${pct(sp.algebraMs)} %), generation ${sp.generationMs.toFixed(1)}, bookkeeping ` +
      `${sp.bookkeepingMs.toFixed(1)} (${pct(sp.bookkeepingMs)} %)\n  kernels: ` +
      Object.entries(sp.kernels).map(([kn, ms]) => `${kn} ${ms.toFixed(2)}`).join(', '));
    ev.dispose();
    ws.dispose();
  }
  return results;
}

const mod = await loadModule();
const started = performance.now();
const mlp = await mnist(mod);
const byPerturbation = await perturbations(mod);
const linear = await grid(mod);
const out = {
  benchmark: 'NLB iteration split: forward / generation / algebra / bookkeeping (medians, ms)',
  environment: {
    node: process.version, simd: mod.simd, cpu: os.cpus()[0]?.model, cores: os.cpus().length, date: new Date().toISOString(),
  },
  notes: 'kalmanFraction = (total − forward)/total; forward = the model only (JS forward, or mlpForward + narrow + widen; ' +
    'mlpForwardPerturbed, which also generates the members, counts as forward). mnist[i] is the fused evaluator, ' +
    'mnist[i].unfused the perturb32 + mlpForward path, stepped alternately in the same run; bytes = module memory held. ' +
    'perturbations: fit\'s NLB defaults on the fit path (workers 0), Gaussian k = 32 vs rank-1 k = 32 and 128; lowRankForward ' +
    'counts as forward, lowRankUpdate / lowRankGram as algebra. Shared 2-core machine: absolute times drift; compare within one run.',
  runSeconds: (performance.now() - started) / 1000,
  smoke: SMOKE,
  mnist: mlp,
  perturbations: byPerturbation,
  linear,
};
const written = quick && !SMOKE ? undefined : writeResult('iteration', out);
console.log(`done in ${out.runSeconds.toFixed(0)} s${written ? ` → ${written}` : ' (quick: not written)'}`);
