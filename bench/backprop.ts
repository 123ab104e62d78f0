// Forward-only training (NLB, docs/method.md §2) against back propagation, measured in one run:
//   1. accuracy against wall time, passes and multiply-adds on the MNIST split of the main job
//      (784-64-10 tanh, same θ₀, same batch stream): NLB via fit() with its defaults (rank-1
//      members), NLB with the old defaults (Gaussian members, k = 32), EKI via fit(), and back
//      propagation with @tensorflow/tfjs-core on its WebAssembly backend (Adam lr 1e-3 at batch 512
//      and 64, plain SGD at batch 512);
//   2. the memory of one training step against depth (docs/method.md §4's claim): bytes tfjs holds at
//      the peak of a gradient step, measured by tf.profile, against the bytes NLB's working set
//      holds in WebAssembly memory (MlpEvaluator + optimizer workspace, built as fit() builds them).
// Both trainers run single-threaded (tfjs-backend-wasm has no threads in Node; neither has our
// module). Writes bench/results/backprop.json. Run: node --import tsx bench/backprop.ts [--quick | --smoke]
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle has no gradient functions (the @tensorflow/tfjs package registers them):
// register those of the ops this network and its loss use, from tfjs-core's own files.
import { batchMatMulGradConfig } from '@tensorflow/tfjs-core/dist/gradients/BatchMatMul_grad.js';
import { addGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Add_grad.js';
import { tanhGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Tanh_grad.js';
import { sumGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Sum_grad.js';
import { divGradConfig } from '@tensorflow/tfjs-core/dist/gradients/RealDiv_grad.js';
import { multiplyGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Multiply_grad.js';
import { castGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Cast_grad.js';
import { reshapeGradConfig } from '@tensorflow/tfjs-core/dist/gradients/Reshape_grad.js';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadModule } from '../bindings/wasm.js';
import { Workspace } from '../bindings/workspace.js';
import { mnistSplit, MNIST_FEATURES, MNIST_CLASSES } from '../bindings/data/mnist.js';
import { mlp, parameterLayout } from '../bindings/nn/mlp.js';
import { fit, FIT_NLB_DEFAULTS, type FitIteration } from '../bindings/nn/fit.js';
import { FIT_EKI_DEFAULTS } from '../bindings/optimizers/eki.js';
import { mlpBlocks } from '../bindings/optimizers/directions.js';
import type { NlbOptions } from '../bindings/optimizers/types.js';
import { MlpEvaluator } from '../bindings/nn/evaluator.js';
import { epochPermutation } from '../bindings/nn/random.js';
import { createNlb } from '../bindings/optimizers/nlb.js';
import { CrossEntropy } from '../bindings/optimizers/objectives.js';
import { SMOKE, writeResult } from './lib/smoke.js';

const quick = process.argv.includes('--quick');
const SEED = 1;
const HIDDEN = 64;
const BATCH = 512;
const K = FIT_NLB_DEFAULTS.ensembleSize as number;
// fit's NLB defaults before rank-1 members became the default (docs/defaults.md).
const OLD_NLB_DEFAULTS: NlbOptions = {
  ensembleSize: 32, sigma: 0.01, sigmaSchedule: 'constant', trustRegion: 1, stepSize: 1, stepDecay: 200, lambda: 3e-3, perturbation: 'gaussian',
};
// Caps: every forward-only run gets the same iteration-time budget, each back-propagation run a
// fixed wall-clock budget; --quick shortens all of them.
// Smoke (bench/lib/smoke.ts): a few iterations and a fraction of a second each, depths 1 and 2.
const NLB_ITERATIONS = SMOKE ? 4 : quick ? 3000 : 100_000;
const NLB_SECONDS = SMOKE ? 2 : quick ? 25 : 90;
const BP_SECONDS = SMOKE ? 0.3 : quick ? 6 : 30;
const WARM_UP_SECONDS = SMOKE ? 0.1 : 0.5;
const NLB_EVAL_EVERY = SMOKE ? 2 : 25;
// Back propagation is evaluated every 2 048 training rows (4 batches of 512, 32 of 64).
const BP_EVAL_ROWS = 2048;
const THRESHOLDS = [0.85, 0.9, 0.917];
const DEPTHS = SMOKE ? [1, 2] : quick ? [1, 4, 16] : [1, 2, 4, 8, 16];
const STEP_TIMINGS = SMOKE ? 1 : quick ? 3 : 5;

const require = createRequire(import.meta.url);
const median = (a: number[]) => a.slice().sort((p, q) => p - q)[a.length >> 1];
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

const module = await loadModule();
for (const g of [batchMatMulGradConfig, addGradConfig, tanhGradConfig, sumGradConfig, divGradConfig, multiplyGradConfig, castGradConfig, reshapeGradConfig]) {
  tf.registerGradient(g);
}
setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/');
await tf.setBackend('wasm');
await tf.ready();
const tfThreads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
const tfSimd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');

const { train, test } = await mnistSplit(0);
const layers1 = [MNIST_FEATURES, HIDDEN, MNIST_CLASSES];
// Multiply-adds of one network row's forward, and of a dense 512-row pass (the forward-equivalent).
const MADDS_PER_ROW = layers1.slice(1).reduce((s, d, l) => s + layers1[l] * d, 0);
const DENSE_PASS = BATCH * MADDS_PER_ROW;
const xTrain = { data: train.images, shape: [train.count, MNIST_FEATURES] as [number, number] };
const xTest = { data: test.images, shape: [test.count, MNIST_FEATURES] as [number, number] };

// ---- back propagation with tfjs ---------------------------------------------------------------
// The network of mlp.ts as tfjs variables: per layer W (d_l × d_{l+1}) and b, initialized from the
// same flat θ (N(0, 1/fan-in) weights, zero biases), so both trainers start from the same point.
function tfVariables(layers: readonly number[], theta: Float64Array): tf.Variable[] {
  const vars: tf.Variable[] = [];
  for (const s of parameterLayout(layers)) {
    // tidy frees the initial tensors; each variable keeps their data.
    vars.push(tf.tidy(() => tf.variable(tf.tensor2d(Float32Array.from(theta.subarray(s.weights, s.bias)), [s.fanIn, s.fanOut]))));
    vars.push(tf.tidy(() => tf.variable(tf.tensor1d(Float32Array.from(theta.subarray(s.bias, s.bias + s.fanOut))))));
  }
  return vars;
}

// Logits: tanh hidden layers, linear last layer (the network of mlp.ts).
function logits(vars: tf.Variable[], x: tf.Tensor2D): tf.Tensor2D {
  let h = x;
  const L = vars.length / 2;
  for (let l = 0; l < L; l++) {
    const z = tf.add(tf.matMul(h, vars[2 * l] as tf.Tensor2D), vars[2 * l + 1]) as tf.Tensor2D;
    h = l + 1 < L ? tf.tanh(z) : z;
  }
  return h;
}

// Mean softmax cross-entropy of a batch (docs/method.md §1), the loss NLB minimizes (without its λ term).
const lossOf = (vars: tf.Variable[], x: tf.Tensor2D, y: tf.Tensor2D) => () =>
  tf.losses.softmaxCrossEntropy(y, logits(vars, x)) as tf.Scalar;

const tfTrainX = tf.tensor2d(train.images, [train.count, MNIST_FEATURES]);
const tfTrainY = tf.oneHot(tf.tensor1d(Int32Array.from(train.labels), 'int32'), MNIST_CLASSES);
const tfTestX = tf.tensor2d(test.images, [test.count, MNIST_FEATURES]);

// Sanity: at θ₀ tfjs's network computes the same test cross-entropy as mlp.ts's (f32 rounding
// apart), so both trainers train the same function from the same point.
function checkSameNetwork(theta: Float64Array): void {
  const vars = tfVariables(layers1, theta);
  const t = tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(Int32Array.from(test.labels), 'int32'), MNIST_CLASSES), logits(vars, tfTestX)));
  const tfLoss = t.dataSync()[0];
  t.dispose();
  vars.forEach((v) => v.dispose());
  const ours = mlp(layers1, { activation: 'tanh', init: 'lecun', seed: SEED, module }).evaluate(xTest, test.labels).loss;
  if (!(Math.abs(tfLoss - ours) <= 1e-4 * Math.abs(ours))) {
    throw new Error(`bench: tfjs's network and mlp.ts's disagree at θ₀ (test cross-entropy ${tfLoss} vs ${ours}); the comparison would not be of the same network.`);
  }
}

function tfAccuracy(vars: tf.Variable[]): number {
  const pred = tf.tidy(() => tf.argMax(logits(vars, tfTestX), 1));
  const p = pred.dataSync();
  pred.dispose();
  let hit = 0;
  for (let i = 0; i < test.count; i++) if (p[i] === test.labels[i]) hit++;
  return hit / test.count;
}

// forwardEquivalents = multiplyAdds / (multiply-adds of one dense 512-row forward pass of the network).
interface CurvePoint { elapsedS: number; passes: number; multiplyAdds: number; forwardEquivalents: number; testAccuracy: number }
interface Run {
  name: string;
  description: string;
  batchSize: number;
  steps: number;
  epochs: number;
  passes: number;
  multiplyAdds: number;
  forwardEquivalents: number;
  trainSeconds: number;
  finalTestAccuracy: number;
  curve: CurvePoint[];
}

// The batch stream of fit(): iteration t trains on positions [tB, (t + 1)B) of the concatenated
// per-epoch permutations epochPermutation(N, seed, e), cached per epoch as fit() does.
const permCache = new Map<number, Int32Array>();
function rowAt(q: number): number {
  const N = train.count;
  const e = Math.floor(q / N);
  let p = permCache.get(e);
  if (!p) {
    p = epochPermutation(N, SEED, e);
    permCache.set(e, p);
  }
  return p[q - e * N];
}

function batchRows(t: number, B: number, out: Int32Array): void {
  for (let i = 0; i < B; i++) out[i] = rowAt(t * B + i);
}

function backprop(name: string, description: string, optimizer: () => tf.Optimizer, B: number, seconds: number, theta0: Float64Array): Run {
  const vars = tfVariables(layers1, theta0);
  const opt = optimizer();
  const index = new Int32Array(B);
  const curve: CurvePoint[] = [];
  const evalEvery = Math.max(1, Math.round(BP_EVAL_ROWS / B));
  // Passes: one forward + one backward per batch; multiply-adds: the forward's B·Σ d_{l−1}·d_l and a
  // backward of about twice that (the gradients of the activations and of the weights).
  const passesAt = (steps: number) => 2 * steps;
  const maddsAt = (steps: number) => 3 * steps * B * MADDS_PER_ROW;
  const point = (steps: number, testAccuracy: number): CurvePoint => ({
    elapsedS: round(trainMs / 1000), passes: passesAt(steps), multiplyAdds: maddsAt(steps),
    forwardEquivalents: round(maddsAt(steps) / DENSE_PASS, 1), testAccuracy,
  });
  let trainMs = 0;
  curve.push(point(0, tfAccuracy(vars)));
  let t = 0;
  while (trainMs < seconds * 1000) {
    const t0 = performance.now();
    batchRows(t, B, index);
    tf.tidy(() => {
      const idx = tf.tensor1d(index, 'int32');
      const x = tf.gather(tfTrainX, idx) as tf.Tensor2D;
      const y = tf.gather(tfTrainY, idx) as tf.Tensor2D;
      opt.minimize(lossOf(vars, x, y), false, vars);
    });
    // The step's work is done when tfjs returns (the wasm backend is synchronous).
    trainMs += performance.now() - t0;
    t++;
    if (t % evalEvery === 0) {
      curve.push(point(t, tfAccuracy(vars)));
    }
  }
  const finalTestAccuracy = tfAccuracy(vars);
  if (curve[curve.length - 1].passes !== passesAt(t)) {
    curve.push(point(t, finalTestAccuracy));
  }
  opt.dispose();
  vars.forEach((v) => v.dispose());
  return {
    name, description, batchSize: B, steps: t, epochs: round((t * B) / train.count, 2), passes: passesAt(t),
    multiplyAdds: maddsAt(t), forwardEquivalents: round(maddsAt(t) / DENSE_PASS, 1), trainSeconds: round(trainMs / 1000), finalTestAccuracy, curve,
  };
}

// ---- NLB and EKI via fit() --------------------------------------------------------------------
// Time = the sum of fit's own iteration times (validation excluded), as bench/rank.ts counts it.
// Multiply-adds of one iteration's forward calls: a dense pass (Gaussian or EKI member, θ alone, a
// candidate) is B·Σ d_{l−1}·d_l; a rank-r call of θ and k members shares X·[W_1 | U_1…]
// (B·d_0·(d_1 + k·r)), then per member row the rank-r term B·d_1·r and the later layers.
function forwardMultiplyAdds(options: NlbOptions | null, d: FitIteration): number {
  const p = options?.perturbation;
  if (!p || p === 'gaussian') return d.evaluations * DENSE_PASS;
  const [d0, d1, d2] = layers1;
  const r = p.rank, k = options!.ensembleSize as number;
  const perRow = BATCH * (d1 * r + d1 * d2) + d1 * d2 * r;
  return BATCH * d0 * (d1 + k * r) + (d.evaluations - d.tries) * perRow + d.tries * DENSE_PASS;
}

async function forwardOnly(name: string, description: string, optimizer: 'nlb' | 'eki', options: NlbOptions | null, iterations: number, seconds: number): Promise<Run> {
  const model = mlp(layers1, { activation: 'tanh', init: 'lecun', seed: SEED, module });
  const curve: CurvePoint[] = [{ elapsedS: 0, passes: 0, multiplyAdds: 0, forwardEquivalents: 0, testAccuracy: model.evaluate(xTest, test.labels).accuracy }];
  let trainMs = 0;
  let madds = 0;
  const point = (passes: number, testAccuracy: number): CurvePoint => ({
    elapsedS: round(trainMs / 1000), passes, multiplyAdds: madds, forwardEquivalents: round(madds / DENSE_PASS, 1), testAccuracy,
  });
  const h = await fit(model, xTrain, train.labels, {
    optimizer, ...(optimizer === 'nlb' && options ? { nlb: options } : {}), batchSize: BATCH, iterations, seed: SEED,
    validationData: [xTest, test.labels], validationEvery: NLB_EVAL_EVERY,
    callbacks: {
      onIterationEnd: (d) => {
        trainMs += d.totalMs;
        madds += forwardMultiplyAdds(optimizer === 'nlb' ? options : null, d);
        if (d.valAccuracy !== undefined) curve.push(point(d.forwardPasses, d.valAccuracy));
        return trainMs < seconds * 1000;
      },
    },
  });
  const finalTestAccuracy = model.evaluate(xTest, test.labels).accuracy;
  if (curve[curve.length - 1].passes !== h.forwardPasses) curve.push(point(h.forwardPasses, finalTestAccuracy));
  return {
    name, description, batchSize: BATCH, steps: h.iteration, epochs: round((h.iteration * BATCH) / train.count, 2), passes: h.forwardPasses,
    multiplyAdds: madds, forwardEquivalents: round(madds / DENSE_PASS, 1), trainSeconds: round(trainMs / 1000), finalTestAccuracy, curve,
  };
}

// First evaluation at or above `target`: its time and passes (null when never reached).
function reach(run: Run, target: number) {
  const p = run.curve.find((c) => c.testAccuracy >= target);
  return p ? { seconds: p.elapsedS, passes: p.passes, multiplyAdds: p.multiplyAdds, forwardEquivalents: p.forwardEquivalents } : null;
}

// ---- part 1 -----------------------------------------------------------------------------------
const theta0 = mlp(layers1, { activation: 'tanh', init: 'lecun', seed: SEED }).params;
checkSameNetwork(theta0);
// Warm-up: both trainers' code paths compiled and tiered up before any timed run.
backprop('warm-up', '', () => tf.train.adam(1e-3), BATCH, WARM_UP_SECONDS, theta0);
backprop('warm-up', '', () => tf.train.sgd(0.1), 64, WARM_UP_SECONDS, theta0);
await fit(mlp(layers1, { activation: 'tanh', init: 'lecun', seed: SEED + 1, module }), xTrain, train.labels, { batchSize: BATCH, iterations: SMOKE ? 2 : 10, seed: SEED });
await fit(mlp(layers1, { activation: 'tanh', init: 'lecun', seed: SEED + 1, module }), xTrain, train.labels, { batchSize: BATCH, iterations: SMOKE ? 2 : 10, seed: SEED, nlb: OLD_NLB_DEFAULTS });

const SGD_LR = 0.1;
const runs: Run[] = [];
const log = (r: Run) => console.log(`${r.name}: ${(100 * r.finalTestAccuracy).toFixed(2)} % after ${r.trainSeconds} s, ${r.steps} steps, ${r.passes} passes`);
const NEW_NLB = { ...FIT_NLB_DEFAULTS } as NlbOptions;
const perturbationName = (o: NlbOptions) => (o.perturbation === undefined || o.perturbation === 'gaussian' ? 'Gaussian' : `rank-${o.perturbation.rank}`);
runs.push(await forwardOnly('nlb', `NLB via fit() with its defaults (${perturbationName(NEW_NLB)} members, k = ${K}, batch ${BATCH}); a pass = one member over one batch`,
  'nlb', NEW_NLB, NLB_ITERATIONS, NLB_SECONDS));
log(runs[runs.length - 1]);
runs.push(await forwardOnly('nlb-gaussian-old-defaults', `NLB via fit() with the old defaults (Gaussian members, k = 32, batch ${BATCH})`,
  'nlb', OLD_NLB_DEFAULTS, NLB_ITERATIONS, NLB_SECONDS));
log(runs[runs.length - 1]);
runs.push(await forwardOnly('eki', `EKI via fit() with its defaults (k = ${FIT_EKI_DEFAULTS.ensembleSize}, batch ${BATCH})`, 'eki', null, NLB_ITERATIONS, NLB_SECONDS));
log(runs[runs.length - 1]);
runs.push(backprop('adam-512', 'back propagation, tfjs-backend-wasm, Adam lr 1e-3, batch 512', () => tf.train.adam(1e-3), 512, BP_SECONDS, theta0));
log(runs[runs.length - 1]);
runs.push(backprop('adam-64', 'back propagation, tfjs-backend-wasm, Adam lr 1e-3, batch 64', () => tf.train.adam(1e-3), 64, BP_SECONDS, theta0));
log(runs[runs.length - 1]);
runs.push(backprop('sgd-512', `back propagation, tfjs-backend-wasm, plain SGD lr ${SGD_LR}, batch 512`, () => tf.train.sgd(SGD_LR), 512, BP_SECONDS, theta0));
log(runs[runs.length - 1]);
const targets = THRESHOLDS;
const toReach = runs.map((r) => ({
  name: r.name,
  reached: targets.map((a) => ({ accuracy: round(a, 4), at: reach(r, a) })),
}));
// Issue goals at 91.7 %: NLB's (defaults) wall time against Adam's, and its forward-equivalents.
const at = (name: string) => toReach.find((r) => r.name === name)!.reached[THRESHOLDS.length - 1].at;
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? round(a / b, 2) : null);
const goals = {
  target: THRESHOLDS[THRESHOLDS.length - 1],
  nlbSecondsVsAdam512: ratio(at('nlb')?.seconds, at('adam-512')?.seconds),
  nlbSecondsVsAdam64: ratio(at('nlb')?.seconds, at('adam-64')?.seconds),
  nlbForwardEquivalentsVsAdam512: ratio(at('nlb')?.forwardEquivalents, at('adam-512')?.forwardEquivalents),
  nlbForwardEquivalentsVsAdam64: ratio(at('nlb')?.forwardEquivalents, at('adam-64')?.forwardEquivalents),
  oldNlbSecondsVsAdam512: ratio(at('nlb-gaussian-old-defaults')?.seconds, at('adam-512')?.seconds),
};
console.log(JSON.stringify(goals));
tfTrainX.dispose();
tfTrainY.dispose();
tfTestX.dispose();

// ---- part 2: memory against depth --------------------------------------------------------------
// Back propagation: the bytes tfjs's engine holds at the peak of one training step (tf.profile's
// peakBytes: variables, the batch, the forward activations the tape keeps, the gradients), and
// Adam's moment estimates (bytes the first Adam step adds and keeps).
interface BpMemory { peakBytes: number; stepBytes: number; adamStateBytes: number; baseBytes: number }
async function bpMemory(layers: number[]): Promise<BpMemory> {
  const before = tf.memory().numBytes;
  const theta = mlp(layers, { activation: 'tanh', init: 'lecun', seed: SEED }).params;
  const vars = tfVariables(layers, theta);
  const index = new Int32Array(BATCH);
  batchRows(0, BATCH, index);
  const rowsX = new Float32Array(BATCH * MNIST_FEATURES);
  const rowsY = new Float32Array(BATCH * MNIST_CLASSES);
  index.forEach((r, i) => {
    rowsX.set(train.images.subarray(r * MNIST_FEATURES, (r + 1) * MNIST_FEATURES), i * MNIST_FEATURES);
    rowsY[i * MNIST_CLASSES + train.labels[r]] = 1;
  });
  const x = tf.tensor2d(rowsX, [BATCH, MNIST_FEATURES]);
  const y = tf.tensor2d(rowsY, [BATCH, MNIST_CLASSES]);
  const f = lossOf(vars, x, y);
  const base = tf.memory().numBytes - before;
  const prof = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(f, vars);
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
  });
  const adam = tf.train.adam(1e-3);
  const beforeAdam = tf.memory().numBytes;
  tf.tidy(() => {
    adam.minimize(f, false, vars);
  });
  const adamStateBytes = tf.memory().numBytes - beforeAdam;
  adam.dispose();
  x.dispose();
  y.dispose();
  vars.forEach((v) => v.dispose());
  if (tf.memory().numBytes !== before) throw new Error(`bench: tfjs leaked ${tf.memory().numBytes - before} bytes at depth ${layers.length - 2}`);
  return { peakBytes: prof.peakBytes - before, stepBytes: prof.peakBytes - before - base, adamStateBytes, baseBytes: base };
}

// NLB: the working set fit() allocates (optimizer workspace with the cross-entropy objective, and
// the MlpEvaluator), read after one iteration, when every lazily sized buffer exists.
// maxMembers = k + 1 is fit's choice (one forward call for all members); maxMembers = 1 evaluates
// the members one per call, the smallest activation buffers the evaluator allows.
// The Gaussian rows use the old defaults; the rank-r row fit's defaults with the network's blocks.
function nlbMemory(layers: number[], k: number, maxMembers: number, rankR = false): NlbMemory {
  const theta = mlp(layers, { activation: 'tanh', init: 'lecun', seed: SEED }).params;
  const ws = new Workspace(module);
  const lowRank = typeof FIT_NLB_DEFAULTS.perturbation === 'object';
  const options = rankR ? { ...FIT_NLB_DEFAULTS, ...(lowRank && { blocks: mlpBlocks(layers) }) } : OLD_NLB_DEFAULTS;
  const opt = createNlb(ws, theta, { ...options, ensembleSize: k, seed: SEED });
  const evaluator = new MlpEvaluator(module, { layers, activation: 'tanh', batchSize: BATCH, maxMembers });
  const index = new Int32Array(BATCH);
  batchRows(0, BATCH, index);
  const objective = new CrossEntropy(ws, MNIST_CLASSES, Array.from(index, (r) => train.labels[r]));
  evaluator.setBatch(train.images, index);
  try {
    opt.step(evaluator, objective, { newBatch: true });
    const bytes = ws.bytesInUse + evaluator.bytes;
    // What the configuration costs in time: median of a few more iterations on the same batch.
    const ms: number[] = [];
    for (let i = 0; i < STEP_TIMINGS; i++) ms.push(opt.step(evaluator, objective, { newBatch: true }).totalMs);
    return { bytes, iterationMs: round(median(ms), 1) };
  } finally {
    opt.dispose();
    objective.dispose();
    evaluator.dispose();
    ws.dispose();
  }
}

interface NlbMemory { bytes: number; iterationMs: number }
interface MemoryRow {
  depth: number;
  parameters: number;
  parameterBytesF32: number;
  backprop: BpMemory & { adamStepBytes: number };
  nlb: { defaults: NlbMemory; k32: NlbMemory; k8: NlbMemory; k32OneMemberPerCall: NlbMemory; k8OneMemberPerCall: NlbMemory };
}
const memory: MemoryRow[] = [];
for (const L of DEPTHS) {
  const layers = [MNIST_FEATURES, ...Array<number>(L).fill(HIDDEN), MNIST_CLASSES];
  const n = parameterLayout(layers).reduce((s, l) => s + l.fanIn * l.fanOut + l.fanOut, 0);
  const bp = await bpMemory(layers);
  const row: MemoryRow = {
    depth: L, parameters: n, parameterBytesF32: 4 * n,
    backprop: { ...bp, adamStepBytes: bp.peakBytes + bp.adamStateBytes },
    nlb: {
      defaults: nlbMemory(layers, K, Math.min(512, K + 1), true),
      k32: nlbMemory(layers, 32, 33), k8: nlbMemory(layers, 8, 9),
      k32OneMemberPerCall: nlbMemory(layers, 32, 1), k8OneMemberPerCall: nlbMemory(layers, 8, 1),
    },
  };
  const nb = row.nlb;
  memory.push(row);
  const mb = (b: number) => (b / 2 ** 20).toFixed(2);
  console.log(`depth ${L}: params ${mb(4 * n)} MiB; backprop peak ${mb(bp.peakBytes)} MiB (+ Adam ${mb(bp.adamStateBytes)}); ` +
    `NLB defaults (${perturbationName(NEW_NLB)}, k=${K}) ${mb(nb.defaults.bytes)} MiB (${nb.defaults.iterationMs} ms/it), Gaussian k=32 ${mb(nb.k32.bytes)} MiB (${nb.k32.iterationMs} ms/it), k=8 ${mb(nb.k8.bytes)} MiB (${nb.k8.iterationMs} ms/it), ` +
    `one member per call: k=32 ${mb(nb.k32OneMemberPerCall.bytes)} MiB (${nb.k32OneMemberPerCall.iterationMs} ms/it), k=8 ${mb(nb.k8OneMemberPerCall.bytes)} MiB (${nb.k8OneMemberPerCall.iterationMs} ms/it)`);
}

// Bytes added per hidden layer and bytes at depth 0: least-squares line over the measured depths.
function line(bytes: (r: MemoryRow) => number): { slope: number; intercept: number } {
  const xs = memory.map((r) => r.depth), ys = memory.map(bytes);
  const mx = xs.reduce((s, v) => s + v, 0) / xs.length, my = ys.reduce((s, v) => s + v, 0) / ys.length;
  let sxy = 0, sxx = 0;
  xs.forEach((x, i) => { sxy += (x - mx) * (ys[i] - my); sxx += (x - mx) ** 2; });
  return { slope: sxy / sxx, intercept: my - (sxy / sxx) * mx };
}
const slope = (bytes: (r: MemoryRow) => number) => Math.round(line(bytes).slope);
// Crossover: the depth from which back propagation's measured peak exceeds NLB's working set —
// interpolated between measured depths when it lies among them, else extrapolated along both
// fitted lines (null when NLB grows at least as fast as back propagation).
function crossover(nlbBytes: (r: MemoryRow) => number) {
  for (let i = 0; i < memory.length; i++) {
    const d = memory[i].backprop.peakBytes - nlbBytes(memory[i]);
    if (d >= 0) {
      if (i === 0) return { depth: memory[0].depth, how: 'back propagation already larger at the smallest depth measured' };
      const d0 = memory[i - 1].backprop.peakBytes - nlbBytes(memory[i - 1]);
      const depth = memory[i - 1].depth + ((memory[i].depth - memory[i - 1].depth) * -d0) / (d - d0);
      return { depth: round(depth, 1), how: 'interpolated between measured depths' };
    }
  }
  const bp = line((r) => r.backprop.peakBytes), nl = line(nlbBytes);
  if (bp.slope <= nl.slope) return null;
  return { depth: round((nl.intercept - bp.intercept) / (bp.slope - nl.slope), 1), how: 'extrapolated beyond the measured depths along the fitted lines' };
}
const memorySummary = {
  bytesPerHiddenLayer: {
    parametersF32: slope((r) => r.parameterBytesF32),
    backpropPeak: slope((r) => r.backprop.peakBytes),
    backpropAdam: slope((r) => r.backprop.adamStepBytes),
    nlbDefaults: slope((r) => r.nlb.defaults.bytes),
    nlbK32: slope((r) => r.nlb.k32.bytes),
    nlbK8: slope((r) => r.nlb.k8.bytes),
    nlbK32OneMemberPerCall: slope((r) => r.nlb.k32OneMemberPerCall.bytes),
    nlbK8OneMemberPerCall: slope((r) => r.nlb.k8OneMemberPerCall.bytes),
  },
  crossoverDepth: {
    defaults: crossover((r) => r.nlb.defaults.bytes),
    k32: crossover((r) => r.nlb.k32.bytes),
    k8: crossover((r) => r.nlb.k8.bytes),
    k32OneMemberPerCall: crossover((r) => r.nlb.k32OneMemberPerCall.bytes),
    k8OneMemberPerCall: crossover((r) => r.nlb.k8OneMemberPerCall.bytes),
  },
};
console.log(JSON.stringify(memorySummary));

const out = {
  benchmark: 'NLB (forward passes only) against back propagation (tfjs-backend-wasm): MNIST accuracy vs time and passes; training memory vs depth',
  command: `node --import tsx bench/backprop.ts${quick ? ' --quick' : ''}${SMOKE ? ' --smoke' : ''}`,
  smoke: SMOKE,
  date: new Date().toISOString(),
  host: {
    node: process.versions.node, cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadAverageAtEnd: os.loadavg().map((v) => round(v, 2)),
    simd: module.simd, tfjs: tf.version_core, tfjsBackend: tf.getBackend(), tfjsWasmSimd: tfSimd, tfjsWasmThreads: tfThreads,
  },
  conventions: {
    pass: 'NLB: one member over one 512-row batch, as fit() counts forwardPasses (k + 1 per iteration plus acceptance tries). Back propagation: one forward + one backward per batch = 2 passes.',
    multiplyAdds: 'multiply-adds actually executed in the forward (and backward) computations: a dense pass on B rows = B·Σ d_{l−1}·d_l; a back-propagation step = 3 × its forward (a backward ≈ 2 forwards); a rank-r NLB iteration shares X·[W_1 | U_1…] and adds per member only the rank-r term and the later layers (bench/rank.ts counts the same way).',
    forwardEquivalents: 'multiplyAdds / the multiply-adds of one dense 512-row forward pass (so Gaussian NLB = its passes; rank-1 NLB far fewer than its passes).',
    time: 'training wall time only, single-threaded all; test evaluations excluded (NLB and EKI: the sum of fit\'s own iteration times).',
    memory: 'back propagation: tf.profile peakBytes of one tf.variableGrads step (variables, batch, kept activations, gradients), plus Adam\'s moments when stated; NLB: Workspace.bytesInUse of the optimizer + objective + MlpEvaluator.bytes after one iteration. Both count the batch; NLB keeps θ in f64 and one f32 copy per member evaluated in a call.',
  },
  settings: {
    layers: layers1, activation: 'tanh', init: 'N(0, 1/fan-in) weights, zero biases, the same θ₀ for every trainer', seed: SEED,
    split: `mnistSplit(0): ${train.count} train / ${test.count} test`, batchOrder: 'fit()\'s seeded per-epoch permutations for every trainer',
    nlb: { ...FIT_NLB_DEFAULTS, batchSize: BATCH, iterationCap: NLB_ITERATIONS, secondsCap: NLB_SECONDS, evaluateEvery: NLB_EVAL_EVERY },
    nlbOldDefaults: OLD_NLB_DEFAULTS, eki: FIT_EKI_DEFAULTS,
    backprop: { secondsCap: BP_SECONDS, evaluateEveryRows: BP_EVAL_ROWS, sgdLearningRate: SGD_LR, adamLearningRate: 1e-3 },
    quick,
  },
  accuracy: { runs, toReach, goals },
  memory: { batchSize: BATCH, hiddenWidth: HIDDEN, depths: memory, summary: memorySummary },
};
console.log(`wrote ${writeResult('backprop', out)}`);
