// The layers of sequential() models (bindings/nn/sequential.ts), in the spirit of tfjs-layers:
// constructors that check their options and return plain frozen JSON configs, and the resolution
// of a layer list on an input shape into shapes, the parameter layout, the initialization and the
// kernel's layer table (assembly/seq.ts).
//
// Images are channels-last: a row of X is h·w·c values, index (y·w + x)·c + ch. Parameter layout
// (θ, f64): for each parametric layer in order, W (fanIn × fanOut, row-major) then b (fanOut).
// dense: fanIn = the flattened input size; conv2d: W is the filter bank [kh, kw, c_in, c_out], row
// (ky·kw + kx)·c_in + ci. For a stack of dense layers this is exactly mlp()'s layout.
import { checkInt, checkNumber, describe } from '../errors.js';
import { unknownOptionError } from '../optimizers/options.js';
import { ACTIVATION_CODE, type InitScheme } from './mlp.js';
import { SeededRandom, hash32 } from './random.js';

/** Activations of a layer (tfjs's 'linear' is 'identity'). */
export type LayerActivation = 'identity' | 'relu' | 'tanh' | 'sigmoid' | 'sign' | 'heaviside' | 'hardTanh';
export const LAYER_ACTIVATIONS: readonly LayerActivation[] = ['identity', 'relu', 'tanh', 'sigmoid', 'sign', 'heaviside', 'hardTanh'];

/** Quantized weights in the forward pass: `levels` values evenly spaced on [−range, range]
 *  (3 = ternary {−R, 0, R}, 2 = binary {−R, R}); θ stays real. Default range: 2 × the init std. */
export interface QuantizeOptions { levels: number; range?: number }

export interface DenseOptions { units: number; activation?: LayerActivation; quantize?: QuantizeOptions }
export interface Conv2dOptions {
  filters: number;
  kernelSize: number | readonly [number, number];
  strides?: number | readonly [number, number];
  padding?: 'valid' | 'same';
  activation?: LayerActivation;
  quantize?: QuantizeOptions;
}
export interface Pool2dOptions { poolSize?: number | readonly [number, number]; strides?: number | readonly [number, number] }

export interface DenseLayer { readonly type: 'dense'; readonly units: number; readonly activation: LayerActivation; readonly quantize?: QuantizeOptions }
export interface Conv2dLayer {
  readonly type: 'conv2d';
  readonly filters: number;
  readonly kernelSize: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly padding: 'valid' | 'same';
  readonly activation: LayerActivation;
  readonly quantize?: QuantizeOptions;
}
export interface Pool2dLayer { readonly type: 'maxPool2d' | 'avgPool2d'; readonly poolSize: readonly [number, number]; readonly strides: readonly [number, number] }
export interface FlattenLayer { readonly type: 'flatten' }
/** A layer config: plain, frozen, JSON-able (saved as it is in model files). */
export type Layer = DenseLayer | Conv2dLayer | Pool2dLayer | FlattenLayer;
export type LayerType = Layer['type'];

const KEYS: Record<LayerType, readonly string[]> = {
  dense: ['units', 'activation', 'quantize'],
  conv2d: ['filters', 'kernelSize', 'strides', 'padding', 'activation', 'quantize'],
  maxPool2d: ['poolSize', 'strides'],
  avgPool2d: ['poolSize', 'strides'],
  flatten: [],
};
const LAYER_TYPES = Object.keys(KEYS) as LayerType[];
/** Largest side of a kernel, stride or shape (keeps every product in i32). */
const MAX_SIDE = 1 << 16;

function checkObject(where: string, options: unknown, example: string): Record<string, unknown> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${where} takes an options object such as ${example}; got ${describe(options)}.`);
  }
  return options as Record<string, unknown>;
}

function checkKeys(where: string, o: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(o)) if (!known.includes(key)) throw unknownOptionError(where, key, known);
}

function checkActivation(where: string, a: unknown): LayerActivation {
  if (a === undefined) return 'identity';
  if (a === 'linear') return 'identity';
  if (!LAYER_ACTIVATIONS.includes(a as LayerActivation)) {
    throw new RangeError(`${where}.activation must be one of ${LAYER_ACTIVATIONS.map((x) => `'${x}'`).join(', ')}; got ${describe(a)}.`);
  }
  return a as LayerActivation;
}

// A side pair [h, w] from a number or a pair of positive integers.
function pair(name: string, v: unknown, max = MAX_SIDE): [number, number] {
  if (typeof v === 'number') return [checkInt(name, v, 1, max), v];
  if (!Array.isArray(v) || v.length !== 2) {
    throw new TypeError(`${name} must be a positive integer or a pair [height, width]; got ${describe(v)}.`);
  }
  return [checkInt(`${name}[0]`, v[0], 1, max), checkInt(`${name}[1]`, v[1], 1, max)];
}

function checkQuantize(where: string, q: unknown): QuantizeOptions | undefined {
  if (q === undefined) return undefined;
  const o = checkObject(`${where}.quantize`, q, '{ levels: 3 } (ternary) or { levels: 2, range: 0.1 }');
  checkKeys(`${where}.quantize`, o, ['levels', 'range']);
  const levels = checkInt(`${where}.quantize.levels`, o.levels, 2, 1 << 16);
  if (o.range === undefined) return Object.freeze({ levels });
  const range = checkNumber(`${where}.quantize.range`, o.range, Number.MIN_VALUE, 3.4e38);
  return Object.freeze({ levels, range });
}

/** dense({ units, activation = 'identity', quantize? }): fully connected on the flattened input. */
export function dense(options: DenseOptions): DenseLayer {
  const o = checkObject('dense', options, "{ units: 64, activation: 'relu' }");
  checkKeys('dense', o, KEYS.dense);
  const units = checkInt('dense.units', o.units, 1, 1 << 20);
  const activation = checkActivation('dense', o.activation);
  const quantize = checkQuantize('dense', o.quantize);
  return Object.freeze({ type: 'dense', units, activation, ...(quantize && { quantize }) });
}

/** conv2d({ filters, kernelSize, strides = 1, padding = 'valid', activation = 'identity', quantize? }). */
export function conv2d(options: Conv2dOptions): Conv2dLayer {
  const o = checkObject('conv2d', options, "{ filters: 8, kernelSize: 5, activation: 'relu' }");
  checkKeys('conv2d', o, KEYS.conv2d);
  const filters = checkInt('conv2d.filters', o.filters, 1, 1 << 16);
  if (o.kernelSize === undefined) throw new TypeError('conv2d needs kernelSize, e.g. { filters: 8, kernelSize: 5 } or kernelSize: [3, 5].');
  const kernelSize = Object.freeze(pair('conv2d.kernelSize', o.kernelSize));
  const strides = Object.freeze(pair('conv2d.strides', o.strides ?? 1));
  const padding = o.padding ?? 'valid';
  if (padding !== 'valid' && padding !== 'same') throw new RangeError(`conv2d.padding must be 'valid' or 'same'; got ${describe(padding)}.`);
  const activation = checkActivation('conv2d', o.activation);
  const quantize = checkQuantize('conv2d', o.quantize);
  return Object.freeze({ type: 'conv2d', filters, kernelSize, strides, padding, activation, ...(quantize && { quantize }) });
}

function pool(type: 'maxPool2d' | 'avgPool2d', options: Pool2dOptions | undefined): Pool2dLayer {
  const o = checkObject(type, options ?? {}, '{ poolSize: 2 }');
  checkKeys(type, o, KEYS[type]);
  const poolSize = Object.freeze(pair(`${type}.poolSize`, o.poolSize ?? 2));
  const strides = Object.freeze(o.strides === undefined ? poolSize.slice() as [number, number] : pair(`${type}.strides`, o.strides));
  return Object.freeze({ type, poolSize, strides });
}

/** maxPool2d({ poolSize = 2, strides = poolSize }): the largest value of each window ('valid'). */
export function maxPool2d(options?: Pool2dOptions): Pool2dLayer {
  return pool('maxPool2d', options);
}

/** avgPool2d({ poolSize = 2, strides = poolSize }): the mean of each window ('valid'). */
export function avgPool2d(options?: Pool2dOptions): Pool2dLayer {
  return pool('avgPool2d', options);
}

/** flatten(): no-op on the channels-last buffer (a dense layer reads any shape flattened). */
export function flatten(options?: Record<string, never>): FlattenLayer {
  if (options !== undefined) checkKeys('flatten', checkObject('flatten', options, '{} or nothing'), []);
  return Object.freeze({ type: 'flatten' });
}

/** A layer config from a value (a constructor's result or its JSON), checked as its constructor checks. */
export function checkLayer(v: unknown, where: string): Layer {
  const o = checkObject(where, v, "dense({ units: 10 }) or { type: 'dense', units: 10 }");
  const type = o.type as LayerType;
  if (!LAYER_TYPES.includes(type)) {
    throw new TypeError(`${where}.type must be one of ${LAYER_TYPES.map((t) => `'${t}'`).join(', ')}; got ${describe(o.type)}. ` +
      'Build layers with dense(), conv2d(), maxPool2d(), avgPool2d() or flatten().');
  }
  const { type: _, ...rest } = o;
  try {
    if (type === 'dense') return dense(rest as unknown as DenseOptions);
    if (type === 'conv2d') return conv2d(rest as unknown as Conv2dOptions);
    if (type === 'flatten') return flatten(rest as Record<string, never>);
    return pool(type, rest as Pool2dOptions);
  } catch (e) {
    if (e instanceof Error && where !== type) e.message = `${where}: ${e.message}`;
    throw e;
  }
}

/** [h, w, c] of the model input (a number n is [1, 1, n]). */
export type InputShape = number | readonly [number, number, number];

export function checkInputShape(v: unknown): [number, number, number] {
  if (typeof v === 'number') return [1, 1, checkInt('inputShape', v, 1, 1 << 24)];
  if (!Array.isArray(v) || v.length !== 3) {
    throw new TypeError(`inputShape must be [height, width, channels] (e.g. [28, 28, 1]) or a number of features; got ${describe(v)}.`);
  }
  const s = [checkInt('inputShape[0]', v[0], 1, MAX_SIDE), checkInt('inputShape[1]', v[1], 1, MAX_SIDE), checkInt('inputShape[2]', v[2], 1, MAX_SIDE)];
  if (s[0] * s[1] * s[2] > 1 << 24) throw new RangeError(`inputShape [${s.join(', ')}] has ${s[0] * s[1] * s[2]} values; at most 2^24 are supported.`);
  return s as [number, number, number];
}

/** Kernel op codes of the layer table (flatten has none: it does not move data). */
export const LAYER_OP = { dense: 0, conv2d: 1, maxPool2d: 2, avgPool2d: 3 } as const;
/** i32 words per layer in the kernel's layer table. */
export const LAYER_WORDS = 20;

/** A layer placed on its input shape. */
export interface PlacedLayer {
  readonly config: Layer;
  /** Index in the model's layer list (the init stream). */
  readonly index: number;
  readonly inShape: readonly [number, number, number];
  readonly outShape: readonly [number, number, number];
  /** Parametric layers: W is fanIn × fanOut at `weights`, b at `bias`; else fanIn = fanOut = 0, weights = bias = −1. */
  readonly fanIn: number;
  readonly fanOut: number;
  readonly weights: number;
  readonly bias: number;
  /** Initialization std of W (0 without parameters). */
  readonly std: number;
  /** The weight quantization range R in use (0 without quantize). */
  readonly range: number;
  /** conv 'same' padding before the first row / column. */
  readonly padTop: number;
  readonly padLeft: number;
}

/** A layer list resolved on an input shape. */
export interface Placement {
  readonly layers: readonly PlacedLayer[];
  /** Parameters in total. */
  readonly n: number;
  readonly inputSize: number;
  readonly classes: number;
}

const size = (s: readonly number[]): number => s[0] * s[1] * s[2];

// Output side and leading padding of a 'valid' or 'same' window sweep.
function sweep(inSide: number, k: number, stride: number, padding: 'valid' | 'same'): { out: number; pad: number } {
  if (padding === 'valid') return { out: Math.floor((inSide - k) / stride) + 1, pad: 0 };
  const out = Math.ceil(inSide / stride);
  return { out, pad: Math.floor(Math.max((out - 1) * stride + k - inSide, 0) / 2) };
}

const initStd = (scheme: InitScheme, fanIn: number, fanOut: number): number =>
  scheme === 'he' ? Math.sqrt(2 / fanIn) : scheme === 'glorot' ? Math.sqrt(2 / (fanIn + fanOut)) : Math.sqrt(1 / fanIn);

/** The initialization of a layer: `init` for every layer, else 'he' for relu, 'glorot' otherwise (as mlp()). */
export const layerInit = (activation: LayerActivation, init: InitScheme | undefined): InitScheme => init ?? (activation === 'relu' ? 'he' : 'glorot');

/** Places every layer on the shape of the one before, from `inputShape`; the last must be dense
 *  logits (identity, ≥ 2 units). Throws a RangeError naming the layer whose shape does not fit. */
export function placeLayers(layers: readonly Layer[], inputShape: readonly [number, number, number], init?: InitScheme): Placement {
  if (layers.length === 0) throw new RangeError('sequential needs at least one layer: the last one a dense({ units: classes }) layer (the logits).');
  const last = layers[layers.length - 1];
  if (last.type !== 'dense') {
    throw new RangeError(`The last layer must be dense({ units: classes }) (the logits of a softmax classifier); got ${last.type}. ` +
      'Add flatten() and dense({ units: classes }) at the end.');
  }
  if (last.activation !== 'identity') {
    throw new RangeError(`The last dense layer gives the logits, so its activation must be 'identity' (softmax is in the loss); got '${last.activation}'. ` +
      'Drop its activation, or add another dense({ units: classes }) after it.');
  }
  if (last.units < 2) throw new RangeError(`The last layer has ${last.units} unit; a classifier needs at least 2 (one per class).`);
  const placed: PlacedLayer[] = [];
  let shape = inputShape;
  let at = 0;
  layers.forEach((c, index) => {
    const where = `layers[${index}] (${c.type})`;
    let out: readonly [number, number, number] = shape;
    let fanIn = 0;
    let fanOut = 0;
    let padTop = 0;
    let padLeft = 0;
    if (c.type === 'dense') {
      fanIn = size(shape);
      fanOut = c.units;
      out = [1, 1, c.units];
    } else if (c.type === 'conv2d' || c.type === 'maxPool2d' || c.type === 'avgPool2d') {
      const [kh, kw] = c.type === 'conv2d' ? c.kernelSize : c.poolSize;
      const padding = c.type === 'conv2d' ? c.padding : 'valid';
      const y = sweep(shape[0], kh, c.strides[0], padding);
      const x = sweep(shape[1], kw, c.strides[1], padding);
      if (y.out < 1 || x.out < 1) {
        throw new RangeError(`${where}: a ${kh}×${kw} window on its ${shape[0]}×${shape[1]}×${shape[2]} input leaves an output of ` +
          `${y.out}×${x.out}; it must be at least 1×1. Use a smaller kernelSize/poolSize, padding: 'same', or fewer pooling layers before it.`);
      }
      padTop = y.pad;
      padLeft = x.pad;
      out = [y.out, x.out, c.type === 'conv2d' ? c.filters : shape[2]];
      if (c.type === 'conv2d') {
        fanIn = kh * kw * shape[2];
        fanOut = c.filters;
      }
    }
    if (size(out) > 1 << 24) throw new RangeError(`${where}: its output ${out.join('×')} has ${size(out)} values; at most 2^24 are supported.`);
    const parametric = fanOut > 0;
    const std = parametric ? initStd(layerInit((c as DenseLayer).activation, init), fanIn, fanOut) : 0;
    const q = parametric ? (c as DenseLayer | Conv2dLayer).quantize : undefined;
    placed.push({
      config: c, index, inShape: shape, outShape: out, fanIn, fanOut, std, padTop, padLeft,
      weights: parametric ? at : -1, bias: parametric ? at + fanIn * fanOut : -1,
      range: q ? q.range ?? 2 * std : 0,
    });
    if (parametric) at += fanIn * fanOut + fanOut;
    if (at > 2 ** 28) throw new RangeError(`${where}: the model has over 2^28 parameters so far (${at}); use fewer filters or units.`);
    shape = out;
  });
  return { layers: placed, n: at, inputSize: size(inputShape), classes: last.units };
}

/** The kernel's layer table (L × LAYER_WORDS i32, assembly/seq.ts), flatten layers left out. */
export function layerTable(p: Placement): Int32Array {
  const ops = p.layers.filter((l) => l.config.type !== 'flatten');
  const t = new Int32Array(ops.length * LAYER_WORDS);
  const bits = new Int32Array(1);
  const f32 = new Float32Array(bits.buffer);
  ops.forEach((l, i) => {
    const c = l.config as DenseLayer | Conv2dLayer | Pool2dLayer;
    const o = i * LAYER_WORDS;
    const isDense = c.type === 'dense';
    const [kh, kw] = c.type === 'conv2d' ? c.kernelSize : c.type === 'dense' ? [1, 1] : c.poolSize;
    const [sh, sw] = isDense ? [1, 1] : c.strides;
    const act = c.type === 'dense' || c.type === 'conv2d' ? ACTIVATION_CODE[c.activation] : 0;
    f32[0] = l.range;
    t.set([LAYER_OP[c.type], act, ...l.inShape, ...l.outShape, kh, kw, sh, sw, l.padTop, l.padLeft, l.weights,
      c.type === 'dense' || c.type === 'conv2d' ? c.quantize?.levels ?? 0 : 0, l.range ? bits[0] : 0, 0, 0, 0], o);
  });
  return t;
}

/** The weight shapes of the parametric layers, each followed by its bias shape (the `blocks` of a
 *  low-rank perturbation): conv2d [kh, kw, c_in, c_out], [c_out]; dense [fanIn, units], [units]. */
export function layerBlocks(p: Placement): number[][] {
  const blocks: number[][] = [];
  for (const l of p.layers) {
    if (l.config.type === 'conv2d') blocks.push([...l.config.kernelSize, l.inShape[2], l.fanOut], [l.fanOut]);
    else if (l.config.type === 'dense') blocks.push([l.fanIn, l.fanOut], [l.fanOut]);
  }
  return blocks;
}

/** The seeded initialization: W ~ N(0, std²) from the layer's own stream (seed, layer index), b = 0. */
export function initialLayerParameters(p: Placement, seed: number): Float64Array {
  const theta = new Float64Array(p.n);
  for (const l of p.layers) {
    if (l.weights < 0) continue;
    const rng = new SeededRandom(hash32(seed, 0x1a17, l.index));
    for (let i = 0; i < l.fanIn * l.fanOut; i++) theta[l.weights + i] = l.std * rng.normal();
  }
  return theta;
}

/** A sequential model's architecture as JSON (saved in model files, sent to worker threads). */
export interface SeqArchitecture {
  readonly type: 'sequential';
  readonly inputShape: readonly [number, number, number];
  readonly layers: readonly Layer[];
  /** One scheme for every layer; absent: per layer ('he' for relu, 'glorot' otherwise). */
  readonly init?: InitScheme;
}

const INIT_SCHEMES: readonly InitScheme[] = ['he', 'glorot', 'lecun'];

/** An architecture checked as sequential() checks its arguments (layers, input shape, init, the
 *  placement); throws the constructors' typed errors. */
export function checkArchitecture(v: unknown): SeqArchitecture {
  const o = checkObject('architecture', v, "{ type: 'sequential', inputShape: [28, 28, 1], layers: [...] }");
  checkKeys('architecture', o, ['type', 'inputShape', 'layers', 'init']);
  if (o.type !== 'sequential') throw new TypeError(`architecture.type must be 'sequential'; got ${describe(o.type)}.`);
  const inputShape = checkInputShape(o.inputShape);
  if (!Array.isArray(o.layers)) throw new TypeError(`layers must be an array of layers such as [dense({ units: 10 })]; got ${describe(o.layers)}.`);
  const layers = o.layers.map((l, i) => checkLayer(l, `layers[${i}]`));
  if (o.init !== undefined && !INIT_SCHEMES.includes(o.init as InitScheme)) {
    throw new RangeError(`init must be one of ${INIT_SCHEMES.map((a) => `'${a}'`).join(', ')}; got ${describe(o.init)}.`);
  }
  const init = o.init as InitScheme | undefined;
  placeLayers(layers, inputShape, init);
  return Object.freeze({ type: 'sequential', inputShape: Object.freeze(inputShape), layers: Object.freeze(layers), ...(init && { init }) });
}
