// The schema of a saved model's header and of fit()'s training state inside it. A file whose
// checksum is intact can still have been edited or written by another program: every field is
// checked here, and a bad one is a FormatError naming the field, what was expected and what came.
import { FormatError } from '../errors.js';
import { ACTIVATIONS, checkLayers, parameterCount } from './mlp.js';
import { checkArchitecture, placeLayers, type SeqArchitecture } from './layers.js';

/** Deepest nesting of arrays/objects a header may hold (fit's own state is 4 levels deep). */
export const MAX_HEADER_DEPTH = 32;

/** A short rendering of a header value for messages. */
function shown(v: unknown): string {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length})`;
  if (v === undefined) return 'nothing (the field is missing)';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? typeof v;
  } catch {
    s = typeof v;
  }
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

export function headerError(path: string, expected: string, got: unknown): FormatError {
  return new FormatError(`The model file's ${path} must be ${expected}; got ${shown(got)}. ` +
    'The file was edited or not written by saveModel; use an intact file written by enkf-wasm.');
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);

function object(v: unknown, path: string, keys: readonly string[], exact: boolean): Record<string, unknown> {
  if (!isPlain(v)) throw headerError(path, `an object with ${keys.join(', ')}`, v);
  if (exact) {
    const extra = Object.keys(v).find((k) => !keys.includes(k));
    if (extra !== undefined) throw headerError(`${path}.${extra}`, `absent (${path} holds only ${keys.join(', ')})`, v[extra]);
  }
  return v;
}

function int(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw headerError(path, max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`, v);
  }
  return v;
}

function num(v: unknown, path: string, min: number, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw headerError(path, `a finite number in [${min}, ${max}]`, v);
  return v;
}

function anyNumber(v: unknown, path: string): void {
  if (typeof v !== 'number') throw headerError(path, 'a number', v);
}

function oneOf<T>(v: unknown, path: string, values: readonly T[]): T {
  if (!values.includes(v as T)) throw headerError(path, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v);
  return v as T;
}

function f64(v: unknown, path: string, length: number | ((n: number) => boolean), what: string): Float64Array {
  const ok = v instanceof Float64Array && (typeof length === 'number' ? v.length === length : length(v.length));
  if (!ok) throw headerError(path, `a Float64Array of ${what}`, v);
  return v as Float64Array;
}

function nullOr<T>(v: unknown, check: (v: unknown) => T): T | null {
  return v === null ? null : check(v);
}

/** Throws unless the raw JSON value nests at most MAX_HEADER_DEPTH arrays/objects deep. */
export function checkDepth(v: unknown, path = 'header', depth = 0): void {
  if (v === null || typeof v !== 'object') return;
  if (depth >= MAX_HEADER_DEPTH) throw headerError(path, `nested at most ${MAX_HEADER_DEPTH} levels deep`, '(deeper nesting)');
  for (const [k, x] of Object.entries(v)) checkDepth(x, Array.isArray(v) ? `${path}[${k}]` : `${path}.${k}`, depth + 1);
}

const DTYPE_NAMES = ['f64', 'f32', 'i32', 'u32', 'u16', 'i16', 'u8', 'i8'] as const;
const HEADER_KEYS = ['format', 'version', 'architecture', 'params', 'training', 'sections'];
const ARCH_KEYS = ['layers', 'activation', 'init', 'seed', 'loss', 'layout'];
const SEQ_ARCH_KEYS = ['type', 'inputShape', 'layers', 'init', 'seed', 'loss', 'layout'];

/** What a checked header describes: an mlp() model's layer sizes or a sequential model's architecture. */
export type HeaderModel = { kind: 'mlp'; layers: number[] } | { kind: 'sequential'; architecture: SeqArchitecture };

// The sequential architecture of a header (format version ≥ 3), checked as sequential() checks it.
function sequentialArchitecture(a: Record<string, unknown>): SeqArchitecture {
  try {
    return checkArchitecture({ type: a.type, inputShape: a.inputShape, layers: a.layers, ...(a.init !== undefined && { init: a.init }) });
  } catch (e) {
    throw new FormatError(`The model file's header.architecture is not a valid sequential model: ${(e as Error).message} ` +
      'The file was edited or not written by saveModel; use an intact file written by enkf-wasm.');
  }
}

/** Checks the raw (still JSON) header of a file of format `version`; returns the model it describes. */
export function checkHeader(h: unknown, version: number): HeaderModel {
  const o = object(h, 'header', HEADER_KEYS, true);
  const format = oneOf(o.format, 'header.format', version >= 3 ? ['enkf-wasm/mlp', 'enkf-wasm/sequential'] : ['enkf-wasm/mlp']);
  oneOf(o.version, 'header.version', [version]);
  let model: HeaderModel;
  let n: number;
  if (format === 'enkf-wasm/sequential') {
    const a = object(o.architecture, 'header.architecture', SEQ_ARCH_KEYS, true);
    const architecture = sequentialArchitecture(a);
    n = placeLayers(architecture.layers, architecture.inputShape, architecture.init).n;
    int(a.seed, 'header.architecture.seed', 0, 0xffffffff);
    oneOf(a.loss, 'header.architecture.loss', ['softmax-cross-entropy']);
    if (typeof a.layout !== 'string') throw headerError('header.architecture.layout', 'a string', a.layout);
    model = { kind: 'sequential', architecture };
  } else {
    const a = object(o.architecture, 'header.architecture', ARCH_KEYS, true);
    let layers: number[];
    try {
      layers = checkLayers(a.layers);
    } catch {
      throw headerError('header.architecture.layers', 'an array of ≥ 2 integer sizes in [1, 2^20] ending in ≥ 2 classes', a.layers);
    }
    oneOf(a.activation, 'header.architecture.activation', ACTIVATIONS);
    oneOf(a.init, 'header.architecture.init', ['he', 'glorot', 'lecun']);
    int(a.seed, 'header.architecture.seed', 0, 0xffffffff);
    oneOf(a.loss, 'header.architecture.loss', ['softmax-cross-entropy']);
    if (typeof a.layout !== 'string') throw headerError('header.architecture.layout', 'a string', a.layout);
    n = parameterCount(layers);
    model = { kind: 'mlp', layers };
  }
  int(o.params, 'header.params', n, n);
  if (!Array.isArray(o.sections) || o.sections.length < 1) throw headerError('header.sections', 'a non-empty array of sections', o.sections);
  o.sections.forEach((s, i) => {
    const p = `header.sections[${i}]`;
    const so = object(s, p, ['dtype', 'length', 'offset'], true);
    oneOf(so.dtype, `${p}.dtype`, i === 0 ? ['f64'] : DTYPE_NAMES);
    int(so.length, `${p}.length`, i === 0 ? n : 0, i === 0 ? n : 2 ** 31);
    int(so.offset, `${p}.offset`, 0, 2 ** 40);
    if ((so.offset as number) % 8 !== 0) throw headerError(`${p}.offset`, 'a multiple of 8', so.offset);
  });
  return model;
}

/** Checks a decoded training state written by fit() (kind 'enkf-wasm/fit', state versions 1 and 2)
 *  for a model of n parameters. Other training states are the user's own and pass as they are;
 *  fields fit() does not read are ignored, so a newer fit() may add some. */
export function checkTrainingState(st: unknown, n: number): void {
  if (!isPlain(st) || st.kind !== 'enkf-wasm/fit') return;
  const p = 'trainingState';
  const version = oneOf(st.version, `${p}.version`, [1, 2]);
  const kind = oneOf(st.optimizer, `${p}.optimizer`, ['nlb', 'eki']);
  const opts = object(st.optimizerOptions, `${p}.optimizerOptions`, [], false);
  const ps = `${p}.optimizerState`;
  const iterName = version === 1 ? 't' : 'iteration';
  const members = typeof opts.ensembleSize === 'number' ? opts.ensembleSize : undefined;
  const keys = kind === 'nlb'
    ? [...(version === 2 ? ['kind'] : []), 'theta', iterName, 'draws', 'alpha', 'sigma']
    : [...(version === 2 ? ['kind'] : []), 'ensemble', iterName, 'draws'];
  const os = object(st.optimizerState, ps, keys, true);
  if (version === 2) oneOf(os.kind, `${ps}.kind`, [kind]);
  int(os[iterName], `${ps}.${iterName}`, 0);
  int(os.draws, `${ps}.draws`, 0, 0xffffffff);
  if (kind === 'nlb') {
    f64(os.theta, `${ps}.theta`, n, `the model's ${n} parameters`);
    num(os.alpha, `${ps}.alpha`, 0);
    num(os.sigma, `${ps}.sigma`, Number.MIN_VALUE);
  } else {
    const fits = (len: number) => (members === undefined ? len % n === 0 && len >= 2 * n : len === members * n);
    f64(os.ensemble, `${ps}.ensemble`, fits, members === undefined ? `J × ${n} values (J ≥ 2 members)` : `${members} × ${n} values (members × parameters)`);
  }
  int(st.seed, `${p}.seed`, 0, 0xffffffff);
  const rows = int(st.rows, `${p}.rows`, 1);
  int(st.batchSize, `${p}.batchSize`, 1, rows);
  int(st.iteration, `${p}.iteration`, 0);
  int(st.forwardPasses, `${p}.forwardPasses`, 0);
  num(st.elapsedMs, `${p}.elapsedMs`, 0);
  anyNumber(st.epochLossSum, `${p}.epochLossSum`);
  int(st.epochIterations, `${p}.epochIterations`, 0);
  nullOr(st.early, (v) => {
    const e = object(v, `${p}.early`, ['best', 'wait', 'bestIteration', 'bestParams'], true);
    anyNumber(e.best, `${p}.early.best`);
    int(e.wait, `${p}.early.wait`, 0);
    int(e.bestIteration, `${p}.early.bestIteration`, -1);
    nullOr(e.bestParams, (b) => f64(b, `${p}.early.bestParams`, n, `the model's ${n} parameters`));
  });
  nullOr(st.averaging, (v) => {
    const a = object(v, `${p}.averaging`, ['decay', 'start'], true);
    num(a.decay, `${p}.averaging.decay`, 0, 1 - Number.EPSILON);
    int(a.start, `${p}.averaging.start`, 0);
  });
  nullOr(st.exactLastLayer, (v) => {
    const e = object(v, `${p}.exactLastLayer`, ['every', 'iterations', 'l2'], true);
    int(e.every, `${p}.exactLastLayer.every`, 1);
    int(e.iterations, `${p}.exactLastLayer.iterations`, 1);
    num(e.l2, `${p}.exactLastLayer.l2`, 0);
  });
  nullOr(st.average, (v) => f64(v, `${p}.average`, n, `the model's ${n} parameters`));
}
