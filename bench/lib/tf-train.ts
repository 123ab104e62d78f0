// The tfjs side of the back-propagation references (bench/lib/tf-cnn.ts, bench/lib/tf-binary.ts):
// every gradient of tfjs-core registered, a backend chosen (and which gradient kernels it lacks),
// θ in our layout as tfjs variables, and one Adam training loop with a wall-time budget. tfjs-core's Node bundle registers no gradient functions (the @tensorflow/tfjs package
// does), so they are registered here from tfjs-core's own files.
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { DigitSet, MnistSplit } from '../../bindings/data/mnist.js';
import { epochPermutation } from '../../bindings/nn/random.js';

export type TfBackend = 'wasm' | 'cpu';

/** The kernels a CNN's or a sign network's training step runs (forward and backward). */
export const TRAINING_KERNELS = [
  'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'MaxPool', 'MaxPoolGrad', 'Relu', 'Step',
  'BatchMatMul', 'Select', 'GreaterEqual', 'Round', 'ClipByValue', 'Sign',
] as const;

export interface TfEnvironment {
  backend: TfBackend;
  tfjs: string;
  /** TRAINING_KERNELS the backend does not register. */
  missingKernels: string[];
  wasmSimd?: boolean;
  wasmThreads?: boolean;
}

const require = createRequire(import.meta.url);
let gradientsRegistered = false;

async function registerAllGradients(): Promise<void> {
  if (gradientsRegistered) return;
  gradientsRegistered = true;
  const dir = join(dirname(require.resolve('@tensorflow/tfjs-core/package.json')), 'dist/gradients');
  // Prod_grad.js imports tfjs-core's whole op index (a directory import Node refuses); no model here has a product.
  for (const file of readdirSync(dir).filter((f) => f.endsWith('_grad.js') && f !== 'Prod_grad.js').sort()) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as Record<string, unknown>;
    for (const [name, config] of Object.entries(mod)) {
      if (name.endsWith('GradConfig')) tf.registerGradient(config as tf.GradConfig);
    }
  }
}

/** Selects `backend` (wasm: tfjs-backend-wasm's SIMD build, single-threaded in Node) with all gradients. */
export async function useTf(backend: TfBackend): Promise<TfEnvironment> {
  await registerAllGradients();
  if (backend === 'wasm') setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/');
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs could not initialize its ${backend} backend.`);
  await tf.ready();
  const env: TfEnvironment = {
    backend, tfjs: tf.version_core,
    missingKernels: TRAINING_KERNELS.filter((k) => tf.getKernel(k, backend) === undefined),
  };
  if (backend === 'wasm') {
    env.wasmSimd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
    env.wasmThreads = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) as boolean;
  }
  return env;
}

// ---- training loop shared by the references -----------------------------------------------------

/** A tfjs network: its variables and its logits (rows × classes) for flattened images (rows × 784). */
export interface TfNetwork {
  vars: tf.Variable[];
  logits: (x: tf.Tensor2D) => tf.Tensor2D;
}

export interface TfTrainOptions {
  /** Batch order: fit()'s epochPermutation(N, seed, epoch). */
  seed: number;
  batchSize: number;
  learningRate: number;
  /** Training-time budget (test evaluations are outside the clock). */
  seconds: number;
  /** Training times (s) at which the test accuracy is recorded (the first step at or past each). */
  checkpoints?: number[];
  /** A curve point every this many training rows. */
  evalEveryRows: number;
}

export interface TfPoint { elapsedS: number; steps: number; epochs: number; testAccuracy: number; testLoss: number }
export interface TfRun {
  batchSize: number;
  learningRate: number;
  steps: number;
  epochs: number;
  trainSeconds: number;
  msPerStep: number;
  finalTestAccuracy: number;
  /** Test accuracy at the first step at or past each checkpoint (missing when the budget ended first). */
  atCheckpoints: { seconds: number; elapsedS: number; testAccuracy: number }[];
  curve: TfPoint[];
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** Test accuracy and mean softmax cross-entropy of `net` on `set`, 500 rows per call. */
export function tfEvaluate(net: TfNetwork, set: DigitSet): { accuracy: number; loss: number } {
  const F = set.images.length / set.count;
  let hit = 0, loss = 0;
  for (let s = 0; s < set.count; s += 500) {
    const n = Math.min(500, set.count - s);
    const [pred, l] = tf.tidy(() => {
      const z = net.logits(tf.tensor2d(set.images.subarray(s * F, (s + n) * F), [n, F]));
      const y = tf.oneHot(tf.tensor1d(Int32Array.from(set.labels.subarray(s, s + n)), 'int32'), z.shape[1]);
      return [tf.argMax(z, 1), tf.sum(tf.losses.softmaxCrossEntropy(y, z, undefined, undefined, tf.Reduction.NONE))];
    });
    const p = pred.dataSync();
    loss += l.dataSync()[0];
    pred.dispose();
    l.dispose();
    for (let i = 0; i < n; i++) if (p[i] === set.labels[s + i]) hit++;
  }
  return { accuracy: hit / set.count, loss: loss / set.count };
}

/** Adam on `net` (mean softmax cross-entropy) in fit()'s batch order until `seconds` of training time. */
export function trainAdam(net: TfNetwork, split: MnistSplit, o: TfTrainOptions): TfRun {
  const { train, test } = split;
  const F = train.images.length / train.count;
  const classes = Math.max(...train.labels) + 1;
  const opt = tf.train.adam(o.learningRate);
  const trainX = tf.tensor2d(train.images, [train.count, F]);
  const trainY = tf.oneHot(tf.tensor1d(Int32Array.from(train.labels), 'int32'), classes);
  const B = o.batchSize;
  const index = new Int32Array(B);
  const perms = new Map<number, Int32Array>();
  const rowAt = (q: number) => {
    const e = Math.floor(q / train.count);
    if (!perms.has(e)) perms.set(e, epochPermutation(train.count, o.seed, e));
    return perms.get(e)![q - e * train.count];
  };
  const evalEvery = Math.max(1, Math.round(o.evalEveryRows / B));
  const pending = [...(o.checkpoints ?? [])].sort((a, b) => a - b);
  const atCheckpoints: TfRun['atCheckpoints'] = [];
  const curve: TfPoint[] = [];
  let trainMs = 0, t = 0;
  const point = () => {
    const e = tfEvaluate(net, test);
    const p = { elapsedS: round(trainMs / 1000), steps: t, epochs: round((t * B) / train.count, 2), testAccuracy: e.accuracy, testLoss: round(e.loss, 4) };
    curve.push(p);
    return p;
  };
  point();
  while (trainMs < o.seconds * 1000) {
    const t0 = performance.now();
    for (let i = 0; i < B; i++) index[i] = rowAt(t * B + i);
    tf.tidy(() => {
      const idx = tf.tensor1d(index, 'int32');
      const x = tf.gather(trainX, idx) as tf.Tensor2D;
      const y = tf.gather(trainY, idx) as tf.Tensor2D;
      opt.minimize(() => tf.losses.softmaxCrossEntropy(y, net.logits(x)) as tf.Scalar, false, net.vars);
    });
    // Both backends finish the step's work before minimize returns (synchronous kernels).
    trainMs += performance.now() - t0;
    t++;
    let evaluated = false;
    while (pending.length && trainMs >= pending[0] * 1000) {
      const p = evaluated ? curve[curve.length - 1] : point();
      evaluated = true;
      atCheckpoints.push({ seconds: pending.shift()!, elapsedS: p.elapsedS, testAccuracy: p.testAccuracy });
    }
    if (!evaluated && t % evalEvery === 0) point();
  }
  if (curve[curve.length - 1].steps !== t) point();
  opt.dispose();
  trainX.dispose();
  trainY.dispose();
  return {
    batchSize: B, learningRate: o.learningRate, steps: t, epochs: round((t * B) / train.count, 2), trainSeconds: round(trainMs / 1000),
    msPerStep: round(trainMs / Math.max(1, t), 2), finalTestAccuracy: curve[curve.length - 1].testAccuracy, atCheckpoints, curve,
  };
}

/** tfjs variables holding θ (our layout: per block W then b) narrowed to f32, W with shape `w`. */
export function variablesFromTheta(theta: Float64Array, blocks: readonly { w: readonly number[]; b: number }[]): tf.Variable[] {
  const total = blocks.reduce((s, l) => s + l.w.reduce((p, d) => p * d, 1) + l.b, 0);
  if (theta.length !== total) throw new RangeError(`θ must have ${total} entries for these blocks; got ${theta.length}.`);
  const vars: tf.Variable[] = [];
  let o = 0;
  for (const l of blocks) {
    const n = l.w.reduce((p, d) => p * d, 1);
    vars.push(tf.variable(tf.tensor(Float32Array.from(theta.subarray(o, o + n)), [...l.w])));
    vars.push(tf.variable(tf.tensor1d(Float32Array.from(theta.subarray(o + n, o + n + l.b)))));
    o += n + l.b;
  }
  return vars;
}

/** A seeded θ in our layout (W ~ N(0, std_l²), b = 0) when no model supplies one: Box–Muller on an LCG. */
export function gaussianTheta(seed: number, blocks: readonly { w: readonly number[]; b: number; std: number }[]): Float64Array {
  const theta = new Float64Array(blocks.reduce((s, l) => s + l.w.reduce((p, d) => p * d, 1) + l.b, 0));
  let s = (Math.imul(seed, 2654435761) + 1) >>> 0;
  const uniform = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  let o = 0;
  for (const l of blocks) {
    const n = l.w.reduce((p, d) => p * d, 1);
    for (let i = 0; i < n; i++) theta[o++] = l.std * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    o += l.b;
  }
  return theta;
}
