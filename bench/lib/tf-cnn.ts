// Back-propagation reference for the CNN, written with tfjs-core ops:
//   28×28×1 → conv 8@5×5 valid relu → maxPool 2 → conv 16@5×5 valid relu → maxPool 2 → flatten
//   (4·4·16 = 256, channels-last) → dense 10 (logits), softmax cross-entropy, Adam.
// θ has the layout of our sequential() models: per parametric layer W then b, conv filters
// [kh, kw, cin, cout] row-major (tfjs's filter tensor), dense W [in, out] row-major, so one θ₀
// starts both trainers. Trained on the MNIST split in fit()'s batch order under a wall-time budget.
//
// tfjs-backend-wasm registers no Conv2DBackpropFilter kernel (bench/lib/tf-setup.ts lists it), so on
// wasm the convolutions carry their own gradient, both computed by wasm's forward conv2d (XNNPACK):
// the filter's with the batch as channel axis (filterGrad), the input's as a full correlation with
// the flipped filter (inputGrad). On the cpu backend tfjs's own conv2d gradient runs.
import * as tf from '@tensorflow/tfjs-core';
import type { MnistSplit } from '../../bindings/data/mnist.js';
import { gaussianTheta, trainAdam, useTf, variablesFromTheta, type TfBackend, type TfNetwork, type TfRun, type TfTrainOptions } from './tf-train.js';

const SIDE = 28;
const CLASSES = 10;

/** The parametric layers in θ order: W shape (tfjs tensor shape), bias length, and init std
 *  (He for the relu convs, Glorot for the logits, as sequential() initializes). */
export const CNN_BLOCKS: readonly { w: number[]; b: number; std: number }[] = [
  { w: [5, 5, 1, 8], b: 8, std: Math.sqrt(2 / 25) },
  { w: [5, 5, 8, 16], b: 16, std: Math.sqrt(2 / 200) },
  { w: [256, CLASSES], b: CLASSES, std: Math.sqrt(2 / (256 + CLASSES)) },
];
export const CNN_PARAMETERS = CNN_BLOCKS.reduce((s, l) => s + l.w.reduce((p, d) => p * d, 1) + l.b, 0);
/** Multiply-adds of one image's forward: 24·24·8·25 + 8·8·16·200 + 256·10. */
export const CNN_MADDS_PER_IMAGE = 24 * 24 * 8 * 25 + 8 * 8 * 16 * 200 + 256 * CLASSES;

/** A seeded θ₀ in our layout when no sequential() model supplies one. */
export const tfCnnInit = (seed: number): Float64Array => gaussianTheta(seed, CNN_BLOCKS);

// Filter gradient of a stride-1 'valid' conv: dW[ky,kx,ci,co] = Σ_{b,y,x} x[b, y+ky, x+kx, ci]·dy[b, y, x, co]
// is itself a 'valid' convolution with the batch as the channel axis: input xᵀ [cin, H, W, B],
// filter dyᵀ [oh, ow, B, cout] → [cin, kh, kw, cout], transposed to [kh, kw, cin, cout].
function filterGrad(x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor4D {
  const g = tf.conv2d(tf.transpose(x, [3, 1, 2, 0]), tf.transpose(dy, [1, 2, 0, 3]), 1, 'valid');
  return tf.transpose(g, [1, 2, 0, 3]);
}

// Input gradient of a stride-1 'valid' conv: the 'full' correlation of dy with the filter flipped in
// space and transposed in channels (XNNPACK's forward conv; faster here than Conv2DBackpropInput).
function inputGrad(dy: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw] = w.shape;
  const padded = tf.pad(dy, [[0, 0], [kh - 1, kh - 1], [kw - 1, kw - 1], [0, 0]]);
  return tf.conv2d(padded, tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]), 1, 'valid');
}

// conv2d (stride 1, valid) whose gradients need no Conv2DBackpropFilter kernel; `first`: the input
// is the data, whose gradient nobody reads (tfjs's own conv gradient skips it the same way).
function convWasm(first: boolean) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([x, w]);
    return {
      value: tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
        return [first ? tf.zerosLike(sx) : inputGrad(dy as tf.Tensor4D, sw), filterGrad(sx, dy as tf.Tensor4D)];
      },
    };
  }) as (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;
}
const convWasmFirst = convWasm(true);
const convWasmInner = convWasm(false);

/** The CNN over θ (our layout): logits (rows × 10) of flattened images (rows × 784). */
export function tfCnn(theta: Float64Array, backend: TfBackend): TfNetwork {
  const vars = variablesFromTheta(theta, CNN_BLOCKS);
  const conv = (h: tf.Tensor4D, w: tf.Variable, first: boolean) => backend === 'cpu'
    ? tf.conv2d(h, w as tf.Tensor4D, 1, 'valid') : (first ? convWasmFirst : convWasmInner)(h, w as tf.Tensor4D);
  const logits = (x: tf.Tensor2D) => {
    let h = tf.reshape(x, [x.shape[0], SIDE, SIDE, 1]) as tf.Tensor4D;
    h = tf.maxPool(tf.relu(tf.add(conv(h, vars[0], true), vars[1])) as tf.Tensor4D, 2, 2, 'valid');
    h = tf.maxPool(tf.relu(tf.add(conv(h, vars[2], false), vars[3])) as tf.Tensor4D, 2, 2, 'valid');
    return tf.add(tf.matMul(tf.reshape(h, [x.shape[0], 256]), vars[4] as tf.Tensor2D), vars[5]) as tf.Tensor2D;
  };
  return { vars, logits };
}

export interface TfCnnRun extends TfRun { backend: TfBackend; gradients: string }

/** Adam on the CNN from θ₀ (default tfCnnInit(seed)) in fit()'s batch order for `seconds`. */
export function trainTfCnn(split: MnistSplit, o: TfTrainOptions & { backend: TfBackend; theta0?: Float64Array }): TfCnnRun {
  const net = tfCnn(o.theta0 ?? tfCnnInit(o.seed), o.backend);
  const run = trainAdam(net, split, o);
  net.vars.forEach((v) => v.dispose());
  return {
    backend: o.backend,
    gradients: o.backend === 'wasm'
      ? 'conv gradients by wasm conv2d (filter: batch as channel axis; input: full correlation), as tfjs-backend-wasm has no Conv2DBackpropFilter kernel'
      : 'tfjs conv2d gradient (Conv2DBackpropInput/Filter kernels of tfjs-backend-cpu)',
    ...run,
  };
}

/** The reference runs of bench/cnn.ts: a short warm-up, then Adam for each (batch, learning rate). */
export function tfCnnReference(
  split: MnistSplit,
  o: Omit<TfTrainOptions, 'batchSize' | 'learningRate'> & { backend: TfBackend; theta0?: Float64Array; warmUpSeconds: number; configs: { batchSize: number; learningRate: number }[] },
): TfCnnRun[] {
  trainTfCnn(split, { ...o, batchSize: 64, learningRate: 1e-3, seconds: o.warmUpSeconds, checkpoints: [] });
  return o.configs.map((c) => trainTfCnn(split, { ...o, ...c }));
}

/** Largest |wasm − cpu| gradient entry per variable at θ on the first `rows` training images, relative
 *  to the variable's largest cpu entry: our wasm conv gradients against tfjs's own (cpu backend).
 *  Leaves the wasm backend selected. */
export async function checkWasmGradients(split: MnistSplit, theta: Float64Array, rows = 16): Promise<number[]> {
  const grads: Float32Array[][] = [];
  for (const backend of ['cpu', 'wasm'] as const) {
    await useTf(backend);
    const net = tfCnn(theta, backend);
    grads.push(tf.tidy(() => {
      const x = tf.tensor2d(split.train.images.subarray(0, rows * SIDE * SIDE), [rows, SIDE * SIDE]);
      const y = tf.oneHot(tf.tensor1d(Int32Array.from(split.train.labels.subarray(0, rows)), 'int32'), CLASSES);
      const { grads: g } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, net.logits(x)) as tf.Scalar, net.vars);
      return net.vars.map((v) => g[v.name].dataSync() as Float32Array);
    }));
    net.vars.forEach((v) => v.dispose());
  }
  return grads[0].map((cpu, i) => {
    let d = 0, s = 0;
    cpu.forEach((v, j) => {
      d = Math.max(d, Math.abs(v - grads[1][i][j]));
      s = Math.max(s, Math.abs(v));
    });
    return d / s;
  });
}
