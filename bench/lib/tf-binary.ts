// Back-propagation references for networks whose gradient is zero almost everywhere, in tfjs-core:
// the 784-100-10 MLP with a sign hidden layer (sign(v) = v ≥ 0 ? 1 : −1, our ACT 4), optionally with
// ternary weights Q(w) ∈ {−R, 0, R} in both layers (our quantize { levels: 3 }).
//   - 'plain': tfjs's own gradient. The derivative of sign (and of the rounding in Q) is 0, so
//     the first layer's W and b (and, ternary, every W) get an exactly zero gradient; only what
//     lies after the last zero-gradient op learns.
//   - 'ste': the straight-through estimator: sign passes dy where |v| ≤ 1 (hardTanh's derivative),
//     Q passes dy where |w| ≤ R (the clamp's derivative).
// θ has our layout (W1 784×100, b1, W2 100×10, b2), so one θ₀ starts every trainer.
import * as tf from '@tensorflow/tfjs-core';
import type { MnistSplit } from '../../bindings/data/mnist.js';
import { gaussianTheta, trainAdam, variablesFromTheta, type TfNetwork, type TfRun, type TfTrainOptions } from './tf-train.js';

export type BinaryGradient = 'plain' | 'ste';
export type BinaryWeights = 'real' | 'ternary';

/** 784-hidden-10 blocks with sequential()'s init for a sign layer and the logits (Glorot). */
export function binaryBlocks(hidden: number): { w: number[]; b: number; std: number }[] {
  return [
    { w: [784, hidden], b: hidden, std: Math.sqrt(2 / (784 + hidden)) },
    { w: [hidden, 10], b: 10, std: Math.sqrt(2 / (hidden + 10)) },
  ];
}

// sign with our convention (0 ↦ +1); tfjs differentiates it to 0 (GreaterEqual's gradient).
const signPlain = (v: tf.Tensor) => tf.sub(tf.mul(tf.cast(tf.greaterEqual(v, 0), 'float32'), 2), 1);
const signSte = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [v, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([v]);
  return {
    value: signPlain(v),
    gradFunc: (dy: tf.Tensor, [sv]: tf.Tensor[]) => tf.mul(dy, tf.cast(tf.lessEqual(tf.abs(sv), 1), 'float32')),
  };
}) as (v: tf.Tensor) => tf.Tensor;

// Q(w) = −R + Δ·⌊(clamp(w, −R, R) + R)/Δ + ½⌋, Δ = 2R/(levels − 1): our quantizer (halves away from 0).
const quantize = (w: tf.Tensor, R: number, levels: number) => {
  const d = (2 * R) / (levels - 1);
  return tf.add(tf.mul(tf.floor(tf.add(tf.div(tf.add(tf.clipByValue(w, -R, R), R), d), 0.5)), d), -R);
};
function quantizeSte(R: number, levels: number) {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [w, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([w]);
    return {
      value: quantize(w, R, levels),
      gradFunc: (dy: tf.Tensor, [sw]: tf.Tensor[]) => tf.mul(dy, tf.cast(tf.lessEqual(tf.abs(sw), R), 'float32')),
    };
  }) as (w: tf.Tensor) => tf.Tensor;
}

export interface TfBinaryOptions {
  hidden: number;
  weights: BinaryWeights;
  gradient: BinaryGradient;
  /** Ternary ranges R per layer (default 2 × the layer's init std, as quantize's default). */
  ranges?: [number, number];
}

/** The sign network over θ (our layout). */
export function tfBinary(theta: Float64Array, o: TfBinaryOptions): TfNetwork {
  const blocks = binaryBlocks(o.hidden);
  const vars = variablesFromTheta(theta, blocks);
  const R = o.ranges ?? [2 * blocks[0].std, 2 * blocks[1].std];
  const ste = o.gradient === 'ste';
  const qs = R.map((r) => (ste ? quantizeSte(r, 3) : (w: tf.Tensor) => quantize(w, r, 3)));
  const weight = (l: number) => (o.weights === 'ternary' ? qs[l](vars[2 * l]) : vars[2 * l]) as tf.Tensor2D;
  const logits = (x: tf.Tensor2D) => {
    const z = tf.add(tf.matMul(x, weight(0)), vars[1]);
    const h = (ste ? signSte(z) : signPlain(z)) as tf.Tensor2D;
    return tf.add(tf.matMul(h, weight(1)), vars[3]) as tf.Tensor2D;
  };
  return { vars, logits };
}

export interface TfBinaryRun extends TfRun {
  weights: BinaryWeights;
  gradient: BinaryGradient;
  /** ‖∂loss/∂·‖₂ per variable (W1, b1, W2, b2) at θ₀ on the first batch: 0 where nothing can learn. */
  gradientNormsAtStart: number[];
}

/** Adam on the sign network from θ₀ (default: seeded Gaussian in our layout) for `seconds`. */
export function trainTfBinary(split: MnistSplit, o: TfTrainOptions & TfBinaryOptions & { theta0?: Float64Array }): TfBinaryRun {
  const net = tfBinary(o.theta0 ?? gaussianTheta(o.seed, binaryBlocks(o.hidden)), o);
  const B = Math.min(o.batchSize, split.train.count);
  const gradientNormsAtStart = tf.tidy(() => {
    const x = tf.tensor2d(split.train.images.subarray(0, B * 784), [B, 784]);
    const y = tf.oneHot(tf.tensor1d(Int32Array.from(split.train.labels.subarray(0, B)), 'int32'), 10);
    const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, net.logits(x)) as tf.Scalar, net.vars);
    return net.vars.map((v) => tf.norm(grads[v.name]).dataSync()[0]);
  });
  const run = trainAdam(net, split, o);
  net.vars.forEach((v) => v.dispose());
  return { weights: o.weights, gradient: o.gradient, gradientNormsAtStart, ...run };
}
