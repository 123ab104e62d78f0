// fit()'s plan: every option and the data checked and resolved before training starts, the
// training state it leaves on the model (and its upgrade from earlier versions) and the checks that
// a resumed run matches the saved one.
import { FormatError, checkInt, checkNumber, describe } from '../errors.js';
import type { OptimizerState, ProcessDefinition } from '../optimizers/types.js';
import { checkModuleOption, rejectUnknownOptions, RENAMED_OPTIONS } from '../optimizers/options.js';
import { YIELD_MS } from '../optimizers/abort.js';
import type { EnkfModule } from '../wasm.js';
import { PROCESS_KINDS, processOf } from '../optimizers/registry.js';
import { resolveStopCriteria, type ResolvedStopCriteria, type StopCriteria } from '../optimizers/run.js';
import { resolveWorkers } from './parallel.js';
import { toLabels, toMatrix, type LabelInput, type MatrixInput } from './matrix.js';
import { parameterCount } from './mlp.js';
import type { Model } from './model.js';
import { isSequential } from './sequential.js';
import type { EarlyStoppingOptions, FitCallbacks, FitOptions, OptimizerKind } from './fit-types.js';

// fit's rules besides its budget are off unless the process options give them.
const FIT_STOP_DEFAULTS: Readonly<ResolvedStopCriteria> = Object.freeze({
  maxIterations: 0, tolerance: -Infinity, gradientTolerance: -Infinity, patience: Infinity,
});

const FIT_KEYS = ['optimizer', ...PROCESS_KINDS, 'batchSize', 'epochs', 'iterations', 'seed', 'validationData', 'validationEvery',
  'callbacks', 'earlyStopping', 'yieldEvery', 'signal', 'module', 'resume', 'averaging', 'exactLastLayer', 'workers'];

/** Version of the training state fit() writes. 1: the optimizer state as fit's own record
 *  ({ theta, t, draws, alpha, sigma } / { ensemble, t, draws }); 2: the optimizer's saveState(). */
export const FIT_STATE_VERSION = 2;

/** The state fit() leaves on model.trainingState (and saveModel stores). */
export interface FitState {
  kind: 'enkf-wasm/fit';
  version: typeof FIT_STATE_VERSION;
  optimizer: OptimizerKind;
  optimizerOptions: Record<string, unknown>;
  /** The optimizer's saveState() (NLB: θ_t and its counters; EKI: the ensemble and its counters). */
  optimizerState: OptimizerState;
  seed: number;
  batchSize: number;
  rows: number;
  iteration: number;
  forwardPasses: number;
  elapsedMs: number;
  epochLossSum: number;
  epochIterations: number;
  /** Consecutive iterations without an accepted step (the patience rule); absent in older states = 0. */
  failures?: number;
  early: { best: number; wait: number; bestIteration: number; bestParams: Float64Array | null } | null;
  averaging: { decay: number; start: number } | null;
  exactLastLayer: Plan['exactLastLayer'] | null;
  /** θ̄ of iterate averaging once it started, else null. */
  average: Float64Array | null;
}

/** A training state of version 2 from one of version 1 or 2 (saved by an earlier release), or a
 *  clear error when it is neither. Renamed process options (memberBatch → maxMembers) are renamed. */
function upgradeState(st: unknown): FitState {
  const s = st as Record<string, unknown> | undefined;
  if (!s || typeof s !== 'object' || s.kind !== 'enkf-wasm/fit') {
    throw new RangeError('resume: true, but the model has no training state from fit(). Train it with fit() (and save/load it with saveModel/loadModel), or drop resume.');
  }
  if (s.version === FIT_STATE_VERSION) return renameOptions(s as unknown as FitState);
  if (s.version !== 1) {
    throw new FormatError(`resume: the model's training state has version ${describe(s.version)}; this enkf-wasm reads versions 1 and ${FIT_STATE_VERSION}. ` +
      'Resume it with the enkf-wasm version that wrote it, or train without resume.');
  }
  // Version 1 kept the optimizer's counters under fit's own names.
  const o = s.optimizerState as Record<string, unknown>;
  const optimizerState: OptimizerState = s.optimizer === 'eki'
    ? { kind: 'eki', ensemble: o.ensemble as Float64Array, iteration: o.t as number, draws: o.draws as number }
    : { kind: 'nlb', theta: o.theta as Float64Array, iteration: o.t as number, draws: o.draws as number, alpha: o.alpha as number, sigma: o.sigma as number };
  return renameOptions({ ...(s as unknown as FitState), version: FIT_STATE_VERSION, optimizerState });
}

// The state with its optimizerOptions under their current names (a copy when one was renamed).
function renameOptions(st: FitState): FitState {
  const o = st.optimizerOptions;
  if (!o || !Object.keys(o).some((k) => Object.hasOwn(RENAMED_OPTIONS, k))) return st;
  const renamed = Object.fromEntries(Object.entries(o).map(([k, v]) => [RENAMED_OPTIONS[k] ?? k, v]));
  return { ...st, optimizerOptions: renamed };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

// Equal option objects whatever the order of their keys.
function sameOptions(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const sorted = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return sameJson(sorted(a), sorted(b));
}

function checkOptimizerOptions(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${name} must be an options object; got ${describe(value)}.`);
  }
  return value as Record<string, unknown>;
}

export type Monitor = 'val_loss' | 'val_accuracy' | 'loss';

/** Everything fit() resolved from its arguments before training starts. */
export interface Plan {
  model: Model;
  data: Float32Array;
  labels: Int32Array;
  rows: number;
  kind: OptimizerKind;
  process: ProcessDefinition<Record<string, unknown>>;
  batchSize: number;
  seed: number;
  total: number;
  yieldEvery: number;
  validationEvery: number | undefined;
  val: { data: Float32Array; rows: number; labels: Int32Array } | undefined;
  early: EarlyStoppingOptions | undefined;
  monitor: Monitor | undefined;
  callbacks: FitCallbacks;
  signal: AbortSignal | undefined;
  optimizerOptions: Record<string, unknown>;
  /** The run core's rules: the budget `total` and the process options' tolerance, gradientTolerance, patience. */
  stop: ResolvedStopCriteria;
  saved: FitState | undefined;
  averaging: { decay: number; start: number } | undefined;
  exactLastLayer: { every: number; iterations: number; l2: number } | undefined;
  workers: number;
  /** options.module, else the model's; undefined: load the default one. */
  module: EnkfModule | undefined;
}

/** Throws a TypeError unless `model` is a network from mlp(), sequential() or loadModel(), and a
 *  RangeError naming the first non-finite parameter (fit would otherwise fail later for a reason it hides). */
export function checkModel(model: unknown): Model {
  const m = model as Model | null;
  const seq = isSequential(m);
  if (!m || typeof m !== 'object' || !Array.isArray(m.layers) || !(m.params instanceof Float64Array) ||
    (!seq && typeof (m as { activation?: unknown }).activation !== 'string') || typeof m.setParameters !== 'function') {
    throw new TypeError(`fit(model, x, labels, options): model must be a network from mlp([...]), sequential([...]) or loadModel(); got ${describe(model)}` +
      `${m && typeof m === 'object' ? ' without layers, params and activation' : ''}.`);
  }
  const n = seq ? m.placement.n : parameterCount(m.layers);
  if (m.params.length !== n) {
    throw new RangeError(`model.params has ${m.params.length} values; ${seq ? 'its layers' : `layers [${m.layers.join(', ')}]`} need ${n}. ` +
      'Replace parameters with model.setParameters(θ) (length checked).');
  }
  for (let i = 0; i < m.params.length; i++) {
    if (!Number.isFinite(m.params[i])) {
      throw new RangeError(`model.params[${i}] is ${m.params[i]}; every parameter must be finite before training. ` +
        'Start from a fresh mlp(...) or a saved model, or set good values with model.setParameters(θ).');
    }
  }
  return m;
}

/** The module fit() runs on: options.module, else the model's (both checked), else undefined (load one). */
function fitModule(model: Model, options: FitOptions): EnkfModule | undefined {
  return checkModuleOption('fit option module', options.module) ?? checkModuleOption('model.module', model.module);
}

export function plan(model: Model, x: MatrixInput, labels: LabelInput, options: FitOptions): Plan {
  checkModel(model);
  if (options === null || typeof options !== 'object') throw new TypeError(`fit options must be an object; got ${describe(options)}.`);
  rejectUnknownOptions('fit()', options, FIT_KEYS);
  if (options.epochs !== undefined && options.iterations !== undefined) {
    throw new TypeError(`fit got both epochs (${describe(options.epochs)}) and iterations (${describe(options.iterations)}); ` +
      'give one of them (iterations = ⌈epochs·rows/batchSize⌉).');
  }
  if (options.resume !== undefined && typeof options.resume !== 'boolean') {
    throw new TypeError(`resume must be true or false; got ${describe(options.resume)}.`);
  }
  const m = toMatrix('X', x, model.inputSize);
  const y = toLabels('labels', labels, m.rows, model.classes);
  const N = m.rows;
  const process = processOf(options.optimizer);
  const kind = process.kind as OptimizerKind;
  const B = options.batchSize === undefined ? Math.min(512, N) : checkInt('batchSize', options.batchSize, 1, N);
  const seed = checkInt('seed', options.seed ?? model.seed, 0, 0xffffffff);
  const total = options.iterations !== undefined ? checkInt('iterations', options.iterations, 0)
    : Math.ceil((checkNumber('epochs', options.epochs ?? 1, 0) * N) / B);
  let val: Plan['val'];
  if (options.validationData !== undefined) {
    const vd = options.validationData;
    if (vd === null || typeof vd !== 'object') throw new TypeError(`validationData must be [X, labels] or { x, labels }; got ${describe(vd)}.`);
    const [vx, vy] = Array.isArray(vd) ? vd : [vd.x, vd.labels];
    const vm = toMatrix('validationData X', vx, model.inputSize);
    val = { data: vm.data, rows: vm.rows, labels: toLabels('validationData labels', vy, vm.rows, model.classes) };
  }
  const es = options.earlyStopping;
  let monitor: Monitor | undefined;
  if (es !== undefined) {
    if (es === null || typeof es !== 'object') throw new TypeError(`earlyStopping must be { patience, monitor?, minDelta?, restoreBest? }; got ${describe(es)}.`);
    rejectUnknownOptions('earlyStopping', es, ['patience', 'monitor', 'minDelta', 'restoreBest']);
    checkInt('earlyStopping.patience', es.patience, 1);
    checkNumber('earlyStopping.minDelta', es.minDelta ?? 0, 0);
    if (es.restoreBest !== undefined && typeof es.restoreBest !== 'boolean') {
      throw new TypeError(`earlyStopping.restoreBest must be true or false; got ${describe(es.restoreBest)}.`);
    }
    monitor = es.monitor ?? (val ? 'val_loss' : 'loss');
    if (!['val_loss', 'val_accuracy', 'loss'].includes(monitor)) {
      throw new RangeError(`earlyStopping.monitor must be 'val_loss', 'val_accuracy' or 'loss'; got ${describe(monitor)}.`);
    }
    if (monitor !== 'loss' && !val) {
      throw new RangeError(`earlyStopping.monitor '${monitor}' needs validationData; pass validationData or monitor 'loss'.`);
    }
  }
  const { tolerance, gradientTolerance, patience, ...userOptions } = checkOptimizerOptions(kind, options[kind]);
  if ('maxIterations' in userOptions) {
    throw new TypeError(`fit takes no ${kind}.maxIterations; its budget is the iterations or epochs option.`);
  }
  const stop = resolveStopCriteria({ maxIterations: total, tolerance, gradientTolerance, patience } as StopCriteria, FIT_STOP_DEFAULTS);
  // A resumed run keeps the options it was saved with: a default changed since does not apply to it.
  const resumed = options.resume ? upgradeState(model.trainingState) : undefined;
  const optimizerOptions = { ...(resumed?.optimizerOptions ?? process.networkDefaults), seed, ...userOptions };

  // Resume: the saved run must have been on the same data size, batch size, seed and optimizer.
  let saved: FitState | undefined;
  if (options.resume) {
    const st = resumed!;
    const mismatch = (what: string, a: unknown, b: unknown) =>
      new RangeError(`resume: the saved run used ${what} ${JSON.stringify(a)}, this call ${JSON.stringify(b)}. Use the same settings to continue it, or drop resume.`);
    if (st.optimizer !== kind) throw mismatch('optimizer', st.optimizer, kind);
    if (st.rows !== N) throw mismatch('training rows', st.rows, N);
    if (st.batchSize !== B) throw mismatch('batchSize', st.batchSize, B);
    if (st.seed !== seed) throw mismatch('seed', st.seed, seed);
    if (!sameOptions(st.optimizerOptions, optimizerOptions)) throw mismatch(`${kind} options`, st.optimizerOptions, optimizerOptions);
    if (total < st.iteration) {
      throw new RangeError(`resume: the saved run already did ${st.iteration} iterations, but this call asks for ${total} in total ` +
        '(iterations and epochs count from the start of training). Ask for more to continue it.');
    }
    saved = st;
  }
  let averaging: Plan['averaging'];
  if (options.averaging !== undefined) {
    const a = options.averaging;
    if (a === null || typeof a !== 'object') throw new TypeError(`averaging must be { decay, start? }; got ${describe(a)}.`);
    rejectUnknownOptions('averaging', a, ['decay', 'start']);
    averaging = { decay: checkNumber('averaging.decay', a.decay, 0, 1 - Number.EPSILON), start: checkInt('averaging.start', a.start ?? 0, 0) };
  }
  if (saved && !sameJson(saved.averaging, averaging ?? null)) {
    throw new RangeError(`resume: the saved run used averaging ${JSON.stringify(saved.averaging)}, this call ${JSON.stringify(averaging ?? null)}. Use the same settings to continue it, or drop resume.`);
  }
  let exactLastLayer: Plan['exactLastLayer'];
  if (options.exactLastLayer !== undefined) {
    const e = options.exactLastLayer;
    if (e === null || typeof e !== 'object') throw new TypeError(`exactLastLayer must be { every?, iterations?, l2? }; got ${describe(e)}.`);
    rejectUnknownOptions('exactLastLayer', e, ['every', 'iterations', 'l2']);
    if (!process.thetaIsIterate) {
      throw new RangeError(`exactLastLayer needs a process whose θ is the whole iterate (such as 'nlb'); '${kind}' is not one.`);
    }
    // The solve gives real-valued weights; a quantized forward would round them, so it would not be exact.
    const head = isSequential(model) ? model.layers[model.layers.length - 1] as { quantize?: { levels: number } } : undefined;
    if (head?.quantize) {
      throw new RangeError(`exactLastLayer solves the last layer in real numbers, but this model's last layer quantizes its weights to ${head.quantize.levels} levels, ` +
        'which would round the solution away. Drop exactLastLayer, or leave the last layer unquantized (quantize the layers before it).');
    }
    exactLastLayer = {
      every: checkInt('exactLastLayer.every', e.every ?? 100, 1),
      iterations: checkInt('exactLastLayer.iterations', e.iterations ?? 30, 1),
      l2: checkNumber('exactLastLayer.l2', e.l2 ?? 1e-4, 0),
    };
  }
  if (saved && !sameJson(saved.exactLastLayer, exactLastLayer ?? null)) {
    throw new RangeError(`resume: the saved run used exactLastLayer ${JSON.stringify(saved.exactLastLayer)}, this call ${JSON.stringify(exactLastLayer ?? null)}. Use the same settings to continue it, or drop resume.`);
  }
  const callbacks = options.callbacks ?? {};
  if (callbacks === null || typeof callbacks !== 'object') throw new TypeError(`callbacks must be { onIterationEnd?, onEpochEnd? }; got ${describe(callbacks)}.`);
  rejectUnknownOptions('callbacks', callbacks, ['onIterationEnd', 'onEpochEnd']);
  for (const name of ['onIterationEnd', 'onEpochEnd'] as const) {
    if (callbacks[name] !== undefined && typeof callbacks[name] !== 'function') {
      throw new TypeError(`callbacks.${name} must be a function; got ${describe(callbacks[name])}.`);
    }
  }
  // Options of a process not in use would be ignored: most likely the optimizer is not the intended one.
  for (const other of PROCESS_KINDS) {
    if (other !== kind && options[other] !== undefined) {
      throw new RangeError(`fit got ${other} options, but the optimizer is '${kind}'. Pass optimizer: '${other}' to use them, or drop ${other}.`);
    }
  }
  const signal = options.signal;
  if (signal !== undefined && (signal === null || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function')) {
    throw new TypeError(`signal must be an AbortSignal; got ${describe(options.signal)}.`);
  }
  return {
    model, data: m.data, labels: y, rows: N, kind, process, batchSize: B, seed, total, stop,
    yieldEvery: checkNumber('yieldEvery', options.yieldEvery ?? YIELD_MS, 0),
    validationEvery: options.validationEvery === undefined ? undefined : checkInt('validationEvery', options.validationEvery, 1),
    val, early: es, monitor, callbacks, signal, optimizerOptions, saved, averaging, exactLastLayer,
    workers: resolveWorkers(options.workers), module: fitModule(model, options),
  };
}
