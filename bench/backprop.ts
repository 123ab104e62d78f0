// Forward-only training (NLB, docs/method.md §2) against back propagation, measured in one run:
//   1. accuracy against wall time and passes on the MNIST split of the main job (784-64-10 tanh,
//      same θ₀, same batch stream): NLB via fit() with its defaults, and back propagation with
//      @tensorflow/tfjs-core on its WebAssembly backend (Adam lr 1e-3 at batch 512 and 64, plain
//      SGD at batch 512);
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
import { fit, FIT_NLB_DEFAULTS } from '../bindings/nn/fit.js';
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
// Caps: NLB gets the main job's 2 000 iterations (or its time cap), each back-propagation run a
// fixed wall-clock budget; --quick shortens all of them.
// Smoke (bench/lib/smoke.ts): a few iterations and a fraction of a second each, depths 1 and 2.
const NLB_ITERATIONS = SMOKE ? 4 : quick ? 300 : 2000;
const NLB_SECONDS = SMOKE ? 2 : quick ? 25 : 150;
const BP_SECONDS = SMOKE ? 0.3 : quick ? 6 : 30;
const WARM_UP_SECONDS = SMOKE ? 0.1 : 0.5;
const NLB_EVAL_EVERY = SMOKE ? 2 : 25;
// Back propagation is evaluated every 2 048 training rows (4 batches of 512, 32 of 64).
const BP_EVAL_ROWS = 2048;
const THRESHOLDS = [0.85, 0.9];
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

interface CurvePoint { elapsedS: number; passes: number; forwardEquivalents: number; testAccuracy: number }
interface Run {
  name: string;
  description: string;
  batchSize: number;
  steps: number;
  epochs: number;
  passes: number;
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
  // Passes: one forward + one backward per batch; forward-equivalents: backward ≈ 2 forwards in
  // FLOPs, scaled to 512-row batches like NLB's passes.
  const passesAt = (steps: number) => 2 * steps;
  const fwdEqAt = (steps: number) => round((3 * steps * B) / BATCH, 1);
  curve.push({ elapsedS: 0, passes: 0, forwardEquivalents: 0, testAccuracy: tfAccuracy(vars) });
  let trainMs = 0;
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
      curve.push({ elapsedS: round(trainMs / 1000), passes: passesAt(t), forwardEquivalents: fwdEqAt(t), testAccuracy: tfAccuracy(vars) });
    }
  }
  const finalTestAccuracy = tfAccuracy(vars);
  if (curve[curve.length - 1].passes !== passesAt(t)) {
    curve.push({ elapsedS: round(trainMs / 1000), passes: passesAt(t), forwardEquivalents: fwdEqAt(t), testAccuracy: finalTestAccuracy });
  }
  opt.dispose();
  vars.forEach((v) => v.dispose());
  return {
    name, description, batchSize: B, steps: t, epochs: round((t * B) / train.count, 2), passes: passesAt(t),
    forwardEquivalents: fwdEqAt(t), trainSeconds: round(trainMs / 1000), finalTestAccuracy, curve,
  };
}

// ---- NLB via fit() ----------------------------------------------------------------------------
// Validation runs inside fit's clock; its time (measured here, median of 5) is taken out so both
// trainers' clocks count training only.
function nlbEvalMs(): number {
  const m = mlp(layers1, { activation: 'tanh', init: 'lecun', seed: SEED, module });
  const ms: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    m.evaluate(xTest, test.labels);
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

async function nlb(iterations: number, seconds: number, evalMs: number): Promise<Run> {
  const model = mlp(layers1, { activation: 'tanh', init: 'lecun', seed: SEED, module });
  const curve: CurvePoint[] = [{ elapsedS: 0, passes: 0, forwardEquivalents: 0, testAccuracy: model.evaluate(xTest, test.labels).accuracy }];
  let evals = 0;
  let trainMs = 0;
  const h = await fit(model, xTrain, train.labels, {
    batchSize: BATCH, iterations, seed: SEED, validationData: [xTest, test.labels], validationEvery: NLB_EVAL_EVERY,
    callbacks: {
      onIterationEnd: (d) => {
        if (d.valAccuracy !== undefined) evals++;
        trainMs = d.elapsedMs - evals * evalMs;
        if (d.valAccuracy !== undefined) {
          curve.push({ elapsedS: round(trainMs / 1000), passes: d.forwardPasses, forwardEquivalents: d.forwardPasses, testAccuracy: d.valAccuracy });
        }
        return trainMs < seconds * 1000;
      },
    },
  });
  const finalTestAccuracy = model.evaluate(xTest, test.labels).accuracy;
  const last = curve[curve.length - 1];
  if (last.passes !== h.forwardPasses) {
    curve.push({ elapsedS: round(trainMs / 1000), passes: h.forwardPasses, forwardEquivalents: h.forwardPasses, testAccuracy: finalTestAccuracy });
  }
  return {
    name: 'nlb', description: `NLB via fit() with its defaults (k = ${K}, batch ${BATCH}); a pass = one member over one batch`,
    batchSize: BATCH, steps: h.iteration, epochs: round((h.iteration * BATCH) / train.count, 2), passes: h.forwardPasses,
    forwardEquivalents: h.forwardPasses, trainSeconds: round(trainMs / 1000), finalTestAccuracy, curve,
  };
}

// First evaluation at or above `target`: its time and passes (null when never reached).
function reach(run: Run, target: number) {
  const p = run.curve.find((c) => c.testAccuracy >= target);
  return p ? { seconds: p.elapsedS, passes: p.passes, forwardEquivalents: p.forwardEquivalents } : null;
}

// ---- part 1 -----------------------------------------------------------------------------------
const theta0 = mlp(layers1, { activation: 'tanh', init: 'lecun', seed: SEED }).params;
checkSameNetwork(theta0);
// Warm-up: both trainers' code paths compiled and tiered up before any timed run.
backprop('warm-up', '', () => tf.train.adam(1e-3), BATCH, WARM_UP_SECONDS, theta0);
backprop('warm-up', '', () => tf.train.sgd(0.1), 64, WARM_UP_SECONDS, theta0);
await fit(mlp(layers1, { activation: 'tanh', init: 'lecun', seed: SEED + 1, module }), xTrain, train.labels, { batchSize: BATCH, iterations: SMOKE ? 2 : 10, seed: SEED });
const evalMs = nlbEvalMs();

const SGD_LR = 0.1;
const runs: Run[] = [];
const log = (r: Run) => console.log(`${r.name}: ${(100 * r.finalTestAccuracy).toFixed(2)} % after ${r.trainSeconds} s, ${r.steps} steps, ${r.passes} passes`);
runs.push(await nlb(NLB_ITERATIONS, NLB_SECONDS, evalMs));
log(runs[0]);
runs.push(backprop('adam-512', 'back propagation, tfjs-backend-wasm, Adam lr 1e-3, batch 512', () => tf.train.adam(1e-3), 512, BP_SECONDS, theta0));
log(runs[1]);
runs.push(backprop('adam-64', 'back propagation, tfjs-backend-wasm, Adam lr 1e-3, batch 64', () => tf.train.adam(1e-3), 64, BP_SECONDS, theta0));
log(runs[2]);
runs.push(backprop('sgd-512', `back propagation, tfjs-backend-wasm, plain SGD lr ${SGD_LR}, batch 512`, () => tf.train.sgd(SGD_LR), 512, BP_SECONDS, theta0));
log(runs[3]);
const nlbFinal = runs[0].finalTestAccuracy;
const targets = [...THRESHOLDS, nlbFinal];
const toReach = runs.map((r) => ({
  name: r.name,
  reached: targets.map((a) => ({ accuracy: round(a, 4), at: reach(r, a) })),
}));
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
function nlbMemory(layers: number[], k: number, maxMembers: number): NlbMemory {
  const theta = mlp(layers, { activation: 'tanh', init: 'lecun', seed: SEED }).params;
  const ws = new Workspace(module);
  const opt = createNlb(ws, theta, { ...FIT_NLB_DEFAULTS, ensembleSize: k, seed: SEED });
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
  nlb: { k32: NlbMemory; k8: NlbMemory; k32OneMemberPerCall: NlbMemory; k8OneMemberPerCall: NlbMemory };
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
      k32: nlbMemory(layers, 32, 33), k8: nlbMemory(layers, 8, 9),
      k32OneMemberPerCall: nlbMemory(layers, 32, 1), k8OneMemberPerCall: nlbMemory(layers, 8, 1),
    },
  };
  const nb = row.nlb;
  memory.push(row);
  const mb = (b: number) => (b / 2 ** 20).toFixed(2);
  console.log(`depth ${L}: params ${mb(4 * n)} MiB; backprop peak ${mb(bp.peakBytes)} MiB (+ Adam ${mb(bp.adamStateBytes)}); ` +
    `NLB k=32 ${mb(nb.k32.bytes)} MiB (${nb.k32.iterationMs} ms/it), k=8 ${mb(nb.k8.bytes)} MiB (${nb.k8.iterationMs} ms/it), ` +
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
    nlbK32: slope((r) => r.nlb.k32.bytes),
    nlbK8: slope((r) => r.nlb.k8.bytes),
    nlbK32OneMemberPerCall: slope((r) => r.nlb.k32OneMemberPerCall.bytes),
    nlbK8OneMemberPerCall: slope((r) => r.nlb.k8OneMemberPerCall.bytes),
  },
  crossoverDepth: {
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
    forwardEquivalents: 'FLOP-comparable count in 512-row forward passes: a backward ≈ 2 forwards in FLOPs, so a back-propagation step on B rows = 3·B/512; NLB = its passes.',
    time: 'training wall time only, single-threaded both; test evaluations excluded (NLB: fit\'s validation time, measured separately, subtracted).',
    memory: 'back propagation: tf.profile peakBytes of one tf.variableGrads step (variables, batch, kept activations, gradients), plus Adam\'s moments when stated; NLB: Workspace.bytesInUse of the optimizer + objective + MlpEvaluator.bytes after one iteration. Both count the batch; NLB keeps θ in f64 and one f32 copy per member evaluated in a call.',
  },
  settings: {
    layers: layers1, activation: 'tanh', init: 'N(0, 1/fan-in) weights, zero biases, the same θ₀ for every trainer', seed: SEED,
    split: `mnistSplit(0): ${train.count} train / ${test.count} test`, batchOrder: 'fit()\'s seeded per-epoch permutations for every trainer',
    nlb: { ...FIT_NLB_DEFAULTS, batchSize: BATCH, iterationCap: NLB_ITERATIONS, secondsCap: NLB_SECONDS, evaluateEvery: NLB_EVAL_EVERY, evaluationMs: round(evalMs, 1) },
    backprop: { secondsCap: BP_SECONDS, evaluateEveryRows: BP_EVAL_ROWS, sgdLearningRate: SGD_LR, adamLearningRate: 1e-3 },
    quick,
  },
  accuracy: { runs, toReach },
  memory: { batchSize: BATCH, hiddenWidth: HIDDEN, depths: memory, summary: memorySummary },
};
console.log(`wrote ${writeResult('backprop', out)}`);
