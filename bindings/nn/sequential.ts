// sequential([...layers], { inputShape, seed }): classifiers built from dense, conv2d, pooling and
// flatten layers (bindings/nn/layers.ts) as functions of one flat parameter vector θ, with the
// surface of mlp() models (params, predict, evaluate, fit, save/load). The last layer is dense with
// the identity activation: its outputs are the logits of a softmax cross-entropy classifier.
// θ is kept in f64 (the optimizers update it in f64); forward passes narrow it to f32 and run in
// WebAssembly (assembly/seq.ts).
import type { EnkfModule } from '../wasm.js';
import { checkInt, describe } from '../errors.js';
import { rejectUnknownOptions } from '../optimizers/options.js';
import { argmaxRows, checkInit, checkModule, crossEntropy, softmaxRows, type Evaluation, type InitScheme } from './mlp.js';
import {
  checkArchitecture, initialLayerParameters, layerBlocks, placeLayers, type InputShape, type Layer, type Placement,
  type SeqArchitecture,
} from './layers.js';
import { toLabels, toMatrix, type LabelInput, type Matrix, type MatrixInput } from './matrix.js';
import { SeqEvaluator } from './seq-evaluator.js';

export interface SequentialOptions {
  /** [height, width, channels] of an input image (a row of X is its h·w·c values, channels-last),
   *  or a number of features n (= [1, 1, n]). */
  inputShape: InputShape;
  /** Seed of the initialization (default 0). */
  seed?: number;
  /** One initialization for every layer (default per layer: 'he' for relu, 'glorot' otherwise). */
  init?: InitScheme;
  /** A loaded module for predict/evaluate (fit() attaches one if none is set). */
  module?: EnkfModule;
}

/** Rows per forward call in predict/evaluate (bounds the activations' memory). */
const PREDICT_CHUNK = 256;

/** A sequential classifier whose parameters are one flat vector θ (layout: bindings/nn/layers.ts). */
export class Sequential {
  readonly layers: readonly Layer[];
  readonly inputShape: readonly [number, number, number];
  /** The initialization given to sequential() (undefined: per layer). */
  readonly init: InitScheme | undefined;
  readonly seed: number;
  /** θ (f64), in the documented layout. Replace it with `setParameters` to keep the length checked. */
  readonly params: Float64Array;
  /** The module predict/evaluate run on. */
  module: EnkfModule | undefined;
  /** Optimizer state and counters of the last fit(), saved with the model so training can resume. */
  trainingState: unknown;
  /** Every layer on its input shape, with its parameter offsets. */
  readonly placement: Placement;

  constructor(layers: readonly Layer[], options: SequentialOptions & { params?: ArrayLike<number> }) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new TypeError(`sequential(layers, options) needs options with the input shape, e.g. { inputShape: [28, 28, 1], seed: 1 }; got ${describe(options)}.`);
    }
    rejectUnknownOptions('sequential', options, ['inputShape', 'seed', 'init', 'module', 'params']);
    if (options.inputShape === undefined) {
      throw new TypeError('sequential needs options.inputShape: [height, width, channels] of an input image (e.g. [28, 28, 1]) or a number of features.');
    }
    const arch = checkArchitecture({
      type: 'sequential', inputShape: options.inputShape, layers,
      ...(options.init !== undefined && { init: checkInit(options.init) }),
    });
    this.layers = arch.layers;
    this.inputShape = arch.inputShape;
    this.init = arch.init;
    this.seed = checkInt('seed', options.seed ?? 0, 0, 0xffffffff);
    this.module = checkModule(options.module);
    this.placement = placeLayers(this.layers, this.inputShape, this.init);
    this.params = options.params ? this.checkedParams(options.params) : initialLayerParameters(this.placement, this.seed);
  }

  /** The JSON architecture (saved in model files; worker threads build their evaluator from it). */
  architecture(): SeqArchitecture {
    return { type: 'sequential', inputShape: this.inputShape, layers: this.layers, ...(this.init && { init: this.init }) };
  }

  get inputSize(): number {
    return this.placement.inputSize;
  }

  get classes(): number {
    return this.placement.classes;
  }

  get parameterCount(): number {
    return this.params.length;
  }

  /** The weight shapes of the parametric layers, each followed by its bias shape (conv2d
   *  [kh, kw, c_in, c_out], [c_out]; dense [fanIn, units], [units]): the low-rank blocks. */
  get blocks(): number[][] {
    return layerBlocks(this.placement);
  }

  private checkedParams(p: ArrayLike<number>): Float64Array {
    const n = this.placement.n;
    if (p.length !== n) throw new RangeError(`Parameter vector has ${p.length} values; this sequential model needs ${n}.`);
    const out = Float64Array.from(p);
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(out[i])) throw new RangeError(`Parameter ${i} is ${out[i]}; parameters must be finite.`);
    }
    return out;
  }

  /** Copies `p` into θ (length and finiteness checked). */
  setParameters(p: ArrayLike<number>): void {
    this.params.set(this.checkedParams(p));
  }

  /** The logits (rows × classes, row-major) of `x` (rows of h·w·c values), computed in WebAssembly. */
  logits(x: MatrixInput): Float32Array {
    const m = this.rows(x);
    return this.forwardRows(m.data, m.rows);
  }

  /** Class probabilities softmax(logits), rows × classes, row-major. */
  predict(x: MatrixInput): Float32Array {
    return softmaxRows(this.logits(x), this.classes);
  }

  /** The arg-max class of each row. */
  predictClasses(x: MatrixInput): Int32Array {
    return argmaxRows(this.logits(x), this.classes);
  }

  /** Mean cross-entropy and accuracy on (x, labels). */
  evaluate(x: MatrixInput, labels: LabelInput): Evaluation {
    const m = this.rows(x);
    const y = toLabels('labels', labels, m.rows, this.classes);
    return crossEntropy(this.forwardRows(m.data, m.rows), y, this.classes);
  }

  // X as rows of inputSize values; a shape error also names the input shape the columns come from.
  private rows(x: MatrixInput): Matrix {
    try {
      return toMatrix('X', x, this.inputSize);
    } catch (e) {
      if (e instanceof RangeError) e.message += ` This model's inputShape is [${this.inputShape.join(', ')}]: each row holds its h·w·c = ${this.inputSize} values, channels-last.`;
      throw e;
    }
  }

  private forwardRows(data: Float32Array, rows: number): Float32Array {
    const mod = checkModule(this.module, 'model.module');
    if (!mod) {
      throw new Error('This model has no WebAssembly module: pass { module: await loadModule() } to sequential(), or set model.module, before predict/evaluate (fit() attaches one).');
    }
    const ev = new SeqEvaluator(mod, { architecture: this.architecture(), batchSize: Math.min(rows, PREDICT_CHUNK), maxMembers: 1 });
    try {
      return ev.logitsOf(this.params, data, rows);
    } finally {
      ev.dispose();
    }
  }
}

/** sequential([conv2d({ filters: 8, kernelSize: 5, activation: 'relu' }), maxPool2d(), flatten(),
 *  dense({ units: 10 })], { inputShape: [28, 28, 1], seed: 1 }): a seeded, initialized classifier. */
export function sequential(layers: readonly Layer[], options: SequentialOptions): Sequential {
  return new Sequential(layers, options);
}

/** True for a model made by sequential() (or loaded from a sequential file). */
export function isSequential(model: unknown): model is Sequential {
  return model instanceof Sequential ||
    (model !== null && typeof model === 'object' && typeof (model as Sequential).architecture === 'function' && 'placement' in model);
}
