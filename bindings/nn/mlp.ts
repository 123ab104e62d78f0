// Multilayer perceptrons as functions of one flat parameter vector θ (docs/method.md §4).
//
// Parameter layout (the contract shared with the forward kernels, the optimizers and the saved
// format): for each layer l = 0..L−1 with fan-in d_l and fan-out d_{l+1}, first the weights W_l
// (d_l × d_{l+1}, row-major: W_l[i·d_{l+1} + j] connects input i to output j), then the bias b_l
// (d_{l+1}). Hidden layers apply `activation`; the last layer is linear (logits), and class
// probabilities are softmax(logits) — the loss is softmax cross-entropy (docs/method.md §1).
// θ is kept in f64 (the optimizers update it in f64); forward passes narrow it to f32 (docs/method.md §5).
import type { EnkfModule } from '../wasm.js';
import { Workspace } from '../workspace.js';
import { checkInt, describe } from '../errors.js';
import { SeededRandom, hash32 } from './random.js';
import { toLabels, toMatrix, type LabelInput, type MatrixInput } from './matrix.js';

export type Activation = 'tanh' | 'relu' | 'sigmoid' | 'sign' | 'heaviside' | 'hardTanh';
/** Weight initialization (biases start at 0), normal with standard deviation:
 *  'he' √(2/fan-in), 'glorot' √(2/(fan-in + fan-out)), 'lecun' √(1/fan-in). */
export type InitScheme = 'he' | 'glorot' | 'lecun';

/** Activation codes of the kernels (assembly/checks.ts ACT_*): 0 identity, 1 relu, 2 tanh, 3 sigmoid,
 *  4 sign (v ≥ 0 ? 1 : −1), 5 heaviside (v > 0 ? 1 : 0), 6 hardTanh (clamp(v, −1, 1)). */
export const ACTIVATION_CODE: Readonly<Record<Activation | 'identity', number>> = {
  identity: 0, relu: 1, tanh: 2, sigmoid: 3, sign: 4, heaviside: 5, hardTanh: 6,
};

export interface MlpOptions {
  /** Hidden-layer activation (default 'tanh'). */
  activation?: Activation;
  /** Seed of the initialization (default 0). */
  seed?: number;
  /** Initialization (default 'he' for relu, 'glorot' otherwise). */
  init?: InitScheme;
  /** A loaded module for predict/evaluate (fit() attaches one if none is set). */
  module?: EnkfModule;
}

/** Where layer l's weights and bias start in θ. */
export interface LayerSlice {
  readonly fanIn: number;
  readonly fanOut: number;
  readonly weights: number;
  readonly bias: number;
}

/** The offsets of every layer's W and b in θ for the layer sizes `layers`. */
export function parameterLayout(layers: readonly number[]): LayerSlice[] {
  const out: LayerSlice[] = [];
  let at = 0;
  for (let l = 0; l + 1 < layers.length; l++) {
    const fanIn = layers[l];
    const fanOut = layers[l + 1];
    out.push({ fanIn, fanOut, weights: at, bias: at + fanIn * fanOut });
    at += fanIn * fanOut + fanOut;
  }
  return out;
}

/** Number of parameters of an MLP with these layer sizes. */
export function parameterCount(layers: readonly number[]): number {
  let n = 0;
  for (let l = 0; l + 1 < layers.length; l++) n += layers[l] * layers[l + 1] + layers[l + 1];
  return n;
}

export const ACTIVATIONS: readonly Activation[] = ['tanh', 'relu', 'sigmoid', 'sign', 'heaviside', 'hardTanh'];
const INITS: readonly InitScheme[] = ['he', 'glorot', 'lecun'];

/** Checks layer sizes: at least [inputs, outputs], positive integers, ≥ 2 outputs (classes). */
export function checkLayers(layers: unknown): number[] {
  if (!Array.isArray(layers)) {
    throw new TypeError(`layers must be an array of layer sizes [inputs, …hidden, classes], e.g. [784, 64, 10]; got ${describe(layers)}.`);
  }
  if (layers.length < 2) {
    throw new RangeError(`layers must be an array of at least two sizes [inputs, …hidden, classes], e.g. [784, 64, 10]; got ${describe(layers)}.`);
  }
  layers.forEach((d, l) => {
    if (typeof d !== 'number' || !Number.isInteger(d)) {
      throw new TypeError(`layers[${l}] must be an integer layer size, e.g. 64; got ${typeof d === 'number' ? d : `${describe(d)} (${d === null ? 'null' : typeof d})`}.`);
    }
    checkInt(`layers[${l}]`, d, 1, 1 << 20);
  });
  if (layers[layers.length - 1] < 2) {
    throw new RangeError(`The last layer has ${layers[layers.length - 1]} output; a classifier needs at least 2 (one per class).`);
  }
  return layers.slice() as number[];
}

export function checkActivation(activation: unknown): Activation {
  if (!ACTIVATIONS.includes(activation as Activation)) {
    throw new RangeError(`activation must be one of ${ACTIVATIONS.map((a) => `'${a}'`).join(', ')}; got ${describe(activation)}.`);
  }
  return activation as Activation;
}

export function checkInit(init: unknown): InitScheme {
  if (!INITS.includes(init as InitScheme)) {
    throw new RangeError(`init must be one of ${INITS.map((a) => `'${a}'`).join(', ')}; got ${describe(init)}.`);
  }
  return init as InitScheme;
}

const OPTION_KEYS = ['activation', 'seed', 'init', 'module', 'params'];

/** Levenshtein distance of two short strings (option-name suggestions). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** Throws a TypeError unless `options` is an object of known mlp options (a typo is not a default). */
function checkOptions(options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`mlp options must be an object such as { activation: 'relu', seed: 1 } (or left out); got ${describe(options)}.`);
  }
  for (const key of Object.keys(options)) {
    if (OPTION_KEYS.includes(key)) continue;
    const near = OPTION_KEYS.filter((k) => k !== 'params').sort((a, b) => editDistance(key, a) - editDistance(key, b))[0];
    const hint = editDistance(key.toLowerCase(), near) <= Math.max(2, key.length >> 2) ? `Did you mean '${near}'?` : 'Known options: activation, seed, init, module.';
    throw new TypeError(`Unknown mlp option '${key}'. ${hint}`);
  }
}

/** The module unless it is set and not one loadModule() returned. */
export function checkModule(module: unknown, name = 'module'): EnkfModule | undefined {
  if (module === undefined) return undefined;
  const m = module as Partial<EnkfModule> | null;
  if (!m || typeof m !== 'object' || !(m.memory instanceof WebAssembly.Memory) || typeof m.exports?.mlpForward !== 'function') {
    throw new TypeError(`${name} must be a module from \`await loadModule()\`; got ${describe(module)}${m && typeof m === 'object' ? ' without its WebAssembly memory and kernels' : ''}.`);
  }
  return m as EnkfModule;
}

/** Fills θ with the seeded initialization: layer l draws from its own stream (seed, l), so a
 *  layer's weights do not depend on the other layers' sizes. */
export function initialParameters(layers: readonly number[], init: InitScheme, seed: number): Float64Array {
  const theta = new Float64Array(parameterCount(layers));
  parameterLayout(layers).forEach((s, l) => {
    const std = init === 'he' ? Math.sqrt(2 / s.fanIn)
      : init === 'glorot' ? Math.sqrt(2 / (s.fanIn + s.fanOut))
        : Math.sqrt(1 / s.fanIn);
    const rng = new SeededRandom(hash32(seed, 0x1a17, l));
    for (let i = 0; i < s.fanIn * s.fanOut; i++) theta[s.weights + i] = std * rng.normal();
  });
  return theta;
}

/** Loss and accuracy of a classifier on labelled data. */
export interface Evaluation {
  /** Mean softmax cross-entropy. */
  loss: number;
  /** Fraction of rows whose arg-max class is the label. */
  accuracy: number;
}

/** Rows per forward call in predict/evaluate (bounds the workspace for large inputs). */
const PREDICT_CHUNK = 1024;

/** A multilayer perceptron classifier whose parameters are one flat vector θ (see the layout above). */
export class MLP {
  readonly layers: readonly number[];
  readonly activation: Activation;
  readonly init: InitScheme;
  readonly seed: number;
  /** θ (f64), in the documented layout. Replace it with `setParameters` to keep the length checked. */
  readonly params: Float64Array;
  /** The module predict/evaluate run on. */
  module: EnkfModule | undefined;
  /** Optimizer state and counters of the last fit(), saved with the model so training can resume. */
  trainingState: unknown;

  constructor(layers: readonly number[], options: MlpOptions & { params?: Float64Array } = {}) {
    checkOptions(options);
    this.layers = Object.freeze(checkLayers(layers));
    this.activation = checkActivation(options.activation ?? 'tanh');
    this.init = checkInit(options.init ?? (this.activation === 'relu' ? 'he' : 'glorot'));
    this.seed = checkInt('seed', options.seed ?? 0, 0, 0xffffffff);
    this.module = checkModule(options.module);
    this.params = options.params ? this.checkedParams(options.params) : initialParameters(this.layers, this.init, this.seed);
  }

  get inputSize(): number {
    return this.layers[0];
  }

  get classes(): number {
    return this.layers[this.layers.length - 1];
  }

  get parameterCount(): number {
    return this.params.length;
  }

  /** The offsets of each layer's W and b in θ. */
  get layout(): LayerSlice[] {
    return parameterLayout(this.layers);
  }

  private checkedParams(p: ArrayLike<number>): Float64Array {
    const n = parameterCount(this.layers);
    if (p.length !== n) {
      throw new RangeError(`Parameter vector has ${p.length} values; layers [${this.layers.join(', ')}] need ${n}.`);
    }
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

  /** The logits (rows × classes, row-major) of `x`, computed in WebAssembly. */
  logits(x: MatrixInput): Float32Array {
    const m = toMatrix('X', x, this.inputSize);
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
    const m = toMatrix('X', x, this.inputSize);
    const y = toLabels('labels', labels, m.rows, this.classes);
    return crossEntropy(this.forwardRows(m.data, m.rows), y, this.classes);
  }

  /** One-member forward of `rows` rows of `data` through the mlpForward kernel, in chunks. */
  private forwardRows(data: Float32Array, rows: number): Float32Array {
    const mod = checkModule(this.module, 'model.module');
    if (!mod) {
      throw new Error('This model has no WebAssembly module: pass { module: await loadModule() } to mlp(), or set model.module, before predict/evaluate (fit() attaches one).');
    }
    const L = this.layers.length - 1;
    const d0 = this.inputSize;
    const C = this.classes;
    const chunk = Math.min(rows, PREDICT_CHUNK);
    const widest = Math.max(1, ...this.layers.slice(1, L));
    const pStride = (this.params.length + 3) & ~3;
    const ws = new Workspace(mod);
    try {
      const raw = ws.raw;
      const dims = ws.from('i32', this.layers);
      const P = ws.f32(pStride).set(Float32Array.from(this.params));
      const X = ws.f32(chunk * d0);
      const out = ws.f32(chunk * C);
      const bufA = ws.f32(chunk * widest);
      const bufB = ws.f32(chunk * widest);
      const work = ws.alloc('f32', Math.max(1, Math.ceil(raw.mlpWorkBytes(chunk, L, dims.ptr) / 4)));
      const net = ws.i32(raw.mlpNetworkBytes() / 4);
      const result = new Float32Array(rows * C);
      const act = ACTIVATION_CODE[this.activation];
      for (let r0 = 0; r0 < rows; r0 += chunk) {
        const n = Math.min(chunk, rows - r0);
        X.set(data.subarray(r0 * d0, (r0 + n) * d0));
        raw.mlpNetwork(net.ptr, L, act, ACTIVATION_CODE.identity, n, dims.ptr, X.ptr, P.ptr, pStride, out.ptr, bufA.ptr, bufB.ptr, work.ptr);
        raw.mlpForward(net.ptr, 1);
        result.set(out.view().subarray(0, n * C), r0 * C);
      }
      return result;
    } finally {
      ws.dispose();
    }
  }
}

/** mlp([784, 64, 10], { activation: 'tanh', seed: 1 }): a seeded, initialized classifier. */
export function mlp(layers: readonly number[], options: MlpOptions = {}): MLP {
  return new MLP(layers, options);
}

/** softmax of each row of the rows × C logits z, in place; returns z. */
export function softmaxRows(z: Float32Array, C: number): Float32Array {
  for (let r = 0; r < z.length; r += C) {
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, z[r + c]);
    let sum = 0;
    for (let c = 0; c < C; c++) sum += (z[r + c] = Math.exp(z[r + c] - max));
    for (let c = 0; c < C; c++) z[r + c] /= sum;
  }
  return z;
}

/** Arg-max of each row of a rows × C matrix (first index on ties). */
export function argmaxRows(z: ArrayLike<number>, C: number): Int32Array {
  const rows = z.length / C;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (z[r * C + c] > z[r * C + best]) best = c;
    out[r] = best;
  }
  return out;
}

/** Mean softmax cross-entropy (docs/method.md §1) and accuracy of logits z (rows × C) for labels y. */
export function crossEntropy(z: ArrayLike<number>, y: ArrayLike<number>, C: number): Evaluation {
  const rows = y.length;
  let loss = 0;
  let hits = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let max = -Infinity;
    let best = 0;
    for (let c = 0; c < C; c++) {
      if (z[o + c] > max) {
        max = z[o + c];
        best = c;
      }
    }
    let sum = 0;
    for (let c = 0; c < C; c++) sum += Math.exp(z[o + c] - max);
    // −log softmax(z)[y] = log Σ exp(z − max) + max − z[y]
    loss += Math.log(sum) + max - z[o + y[r]];
    if (best === y[r]) hits++;
  }
  return { loss: loss / rows, accuracy: hits / rows };
}
