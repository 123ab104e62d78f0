// fit(): mini-batch training of an MLP classifier with forward passes only (method.md §2 NLB, the
// default; §3 EKI), in the spirit of tfjs model.fit. The driver owns validation of the data,
// seeded shuffling, callbacks, validation runs, early stopping, yielding to the event loop,
// abort, and the training state that save/load carries so a resumed run continues bit-identically.
//
// Mini-batches: the index stream is the concatenation of per-epoch permutations
// epochPermutation(N, seed, e); iteration t trains on stream positions [tB, (t + 1)B). The batch of
// any iteration is therefore a pure function of (seed, t), and epoch e ends at the iteration whose
// batch reaches position (e + 1)N.
import { loadModule, type EnkfModule } from '../wasm.js';
import { Workspace } from '../workspace.js';
import { FormatError, OptimizationError, checkInt, checkNumber, describe } from '../errors.js';
import type { EkiOptions, IterationDiagnostics, NlbOptions, NlbState, Optimizer, OptimizerState } from '../optimizers/types.js';
import { CrossEntropy } from '../optimizers/objectives.js';
import { createNlb } from '../optimizers/nlb.js';
import { createEki } from '../optimizers/eki.js';
import { rejectUnknownOptions } from '../optimizers/driver.js';
import { MlpEvaluator } from './evaluator.js';
import { MAX_WORKERS, ParallelMlpEvaluator } from './parallel.js';
import { epochPermutation } from './random.js';
import { LastLayerSolver, type LastLayerOptions } from './lastlayer.js';
import { toLabels, toMatrix, type LabelInput, type MatrixInput } from './matrix.js';
import type { Evaluation, MLP } from './mlp.js';

export type OptimizerKind = 'nlb' | 'eki';

/** What one training iteration did: the optimizer's diagnostics plus the driver's counters. */
export interface FitIteration extends IterationDiagnostics {
  /** 0-based epoch the iteration's batch started in. */
  epoch: number;
  /** Forward passes (one member over one batch) since the start of training, resumed runs included. */
  forwardPasses: number;
  /** Wall time of training so far, ms (resumed runs included). */
  elapsedMs: number;
  /** Mean cross-entropy of this batch at the iterate after the step: `loss` without the Tikhonov
   *  term (λ/2)‖θ‖² (NLB; EKI: at the ensemble mean before the update). */
  crossEntropy: number;
  /** Validation loss and accuracy, on the iterations where validation ran. */
  valLoss?: number;
  valAccuracy?: number;
}

/**
 * An iteration of fit() failed (e.g. every member's outputs overflowed, or the ensemble system could
 * not be solved). The model keeps the parameters after the last completed iteration (the optimizer's
 * estimate before the failing one; the restored best with earlyStopping.restoreBest, θ̄ with
 * averaging) and model.trainingState continues from there with `resume` (with the optimizer's
 * counters as the failure left them: draws or damping a failed try used stay used). `cause` is
 * the optimizer's error, `history` what ran before.
 */
export class FitError extends OptimizationError {
  /** The failing iteration (0-based, counted from the start of training). */
  readonly iteration: number;
  readonly history: History;
  override readonly cause: unknown;
  constructor(iteration: number, history: History, cause: unknown) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`fit() stopped: iteration ${iteration} failed (${why}). The model keeps the parameters after ` +
      `${iteration === 0 ? 'no completed iteration (its starting θ)' : `iteration ${iteration - 1}, the last good estimate`}; ` +
      'fix the cause (e.g. the scale of the data or the optimizer options) and continue with resume: true, or start again.');
    this.name = 'FitError';
    this.iteration = iteration;
    this.history = history;
    this.cause = cause;
  }
}

/** One finished epoch. */
export interface EpochLog {
  epoch: number;
  /** Last iteration of the epoch. */
  iteration: number;
  /** Mean over the epoch's iterations of the batch loss after the step. */
  loss: number;
  /** Validation of the epoch's last iteration, when it ran there (always without validationEvery). */
  valLoss?: number;
  valAccuracy?: number;
  forwardPasses: number;
  elapsedMs: number;
}

/** One validation run. */
export interface ValidationLog {
  iteration: number;
  epoch: number;
  forwardPasses: number;
  elapsedMs: number;
  loss: number;
  accuracy: number;
}

/** 'error': an iteration failed and fit() threw a FitError (its `history` has this reason). */
export type FitStopReason = 'maxIterations' | 'callback' | 'aborted' | 'earlyStopping' | 'error';

/** Everything fit() recorded. */
export interface History {
  iterations: FitIteration[];
  epochs: EpochLog[];
  validation: ValidationLog[];
  stopReason: FitStopReason;
  /** Iterations done in total (resumed runs included). */
  iteration: number;
  forwardPasses: number;
  elapsedMs: number;
  /** Iteration of the best monitored value when early stopping is on. */
  bestIteration?: number;
}

/** A callback's return: false (or a promise of it) stops training after this iteration/epoch. */
export type CallbackResult = boolean | void | Promise<boolean | void>;

export interface FitCallbacks {
  onIterationEnd?(log: FitIteration): CallbackResult;
  onEpochEnd?(log: EpochLog): CallbackResult;
}

export interface EarlyStoppingOptions {
  /** 'val_loss' (default with validation data), 'val_accuracy', or 'loss' (epoch mean batch loss). */
  monitor?: 'val_loss' | 'val_accuracy' | 'loss';
  /** Checks without improvement before stopping (a check = a validation run, or an epoch for 'loss'). */
  patience: number;
  /** Smallest change that counts as an improvement (default 0). */
  minDelta?: number;
  /** Put back the parameters of the best check when training ends (default false). */
  restoreBest?: boolean;
}

export interface FitOptions {
  /** 'nlb' (default, method.md §2) or 'eki' (method.md §3). */
  optimizer?: OptimizerKind;
  /** NLB options over fit's network defaults (FIT_NLB_DEFAULTS). */
  nlb?: NlbOptions;
  /** EKI options over fit's network defaults (FIT_EKI_DEFAULTS). */
  eki?: EkiOptions;
  /** Rows per mini-batch (default min(512, rows)). */
  batchSize?: number;
  /** Passes over the data in total, counted from the start of training like `iterations` (converted
   *  to ⌈epochs·rows/batchSize⌉ iterations). Default 1. Give `epochs` or `iterations`, not both. */
  epochs?: number;
  /** Iterations in total, counted from the start of training (resumed runs included). */
  iterations?: number;
  /** Seed of the batch order and, unless the optimizer options set one, of the optimizer's draws (default: the model's seed). */
  seed?: number;
  /** Held-out data evaluated at each epoch end (or every `validationEvery` iterations instead) and
   *  after the last iteration of the budget. */
  validationData?: [MatrixInput, LabelInput] | { x: MatrixInput; labels: LabelInput };
  /** Iterations between validation runs (default: at each epoch end). */
  validationEvery?: number;
  callbacks?: FitCallbacks;
  earlyStopping?: EarlyStoppingOptions;
  /** Yield to the event loop when this many ms passed since the last yield (default 16 in browsers, 0 = never in Node). */
  yieldEvery?: number;
  /** Stops training after the current iteration; fit() resolves with stopReason 'aborted'. */
  signal?: AbortSignal;
  /** The module to run on (default: the model's, else loadModule()). */
  module?: EnkfModule;
  /** Continue from the model's training state (saved by fit(), kept by saveModel/loadModel): from
   *  the optimizer's saved iterate (NLB θ_t, EKI ensemble), not from model.params, which may hold
   *  the restored best or θ̄. With the same data and settings the run continues bit-identically to
   *  one never interrupted. */
  resume?: boolean;
  /**
   * Iterate averaging (beyond the paper; off by default): from iteration `start` on, keep the
   * exponential moving average θ̄ ← β·θ̄ + (1 − β)·θ_t with β = `decay`, and use θ̄ for validation and
   * as the trained model. The optimizer itself continues from its own iterate.
   */
  averaging?: { decay: number; start?: number };
  /**
   * Exact last layer (beyond the paper; off by default; NLB only): every `every` iterations, replace
   * the last layer by the minimizer of the (convex) cross-entropy of the training rows' hidden
   * features (L-BFGS, `iterations` steps, ridge `l2`), while NLB trains all layers in between.
   */
  exactLastLayer?: { every?: number } & LastLayerOptions;
  /**
   * Worker threads that evaluate ensemble members next to the main thread (Node worker_threads;
   * default 0 = everything on the main thread). The members of each NLB draw are split between the
   * threads; the iterates are bit-identical to workers: 0 (method.md §5). Explicit rows (EKI, NLB
   * candidates) stay on the main thread. Not available in browsers.
   */
  workers?: number;
}

/** fit's NLB defaults for networks: the measured MNIST settings of method.md §2 step 5, except
 *  λ = 3e-3 instead of 1e-4. The random-subspace steps let the weights of rarely active inputs
 *  drift; the Tikhonov term holds them back. Measured on the 8 000 / 2 000 split (784-64-10 tanh,
 *  seed 1, 1 300 iterations), test cross-entropy / accuracy: λ = 0: 0.363 / 89.9 %; 1e-3: 0.341 /
 *  90.7 %; 3e-3: 0.324 / 91.3 %; 1e-2: 0.408 / 89.7 % (bench/results/mnist.json compares 1e-4). */
export const FIT_NLB_DEFAULTS: Readonly<NlbOptions> = Object.freeze({
  ensembleSize: 32, sigma: 0.01, sigmaSchedule: 'constant', trustRegion: 1, stepSize: 1, stepDecay: 200, lambda: 3e-3,
});

/** fit's EKI defaults for networks (method.md §3): the best of a small grid on MNIST (spread
 *  0.01–0.2, h₀ 1–1000, adaptive or fixed; 100 iterations, k = 32, batch 512). */
export const FIT_EKI_DEFAULTS: Readonly<EkiOptions> = Object.freeze({ ensembleSize: 32, spread: 0.05, step: 100, adaptiveStep: true });

const FIT_KEYS = ['optimizer', 'nlb', 'eki', 'batchSize', 'epochs', 'iterations', 'seed', 'validationData', 'validationEvery',
  'callbacks', 'earlyStopping', 'yieldEvery', 'signal', 'module', 'resume', 'averaging', 'exactLastLayer', 'workers'];

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Version of the training state fit() writes. 1: the optimizer state as fit's own record
 *  ({ theta, t, draws, alpha, sigma } / { ensemble, t, draws }); 2: the optimizer's saveState(). */
const FIT_STATE_VERSION = 2;

/** The state fit() leaves on model.trainingState (and saveModel stores). */
interface FitState {
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
  early: { best: number; wait: number; bestIteration: number; bestParams: Float64Array | null } | null;
  averaging: { decay: number; start: number } | null;
  exactLastLayer: Plan['exactLastLayer'] | null;
  /** θ̄ of iterate averaging once it started, else null. */
  average: Float64Array | null;
}

/** A training state of version 2 from one of version 1 or 2 (saved by an earlier release), or a
 *  clear error when it is neither. */
function upgradeState(st: unknown): FitState {
  const s = st as Record<string, unknown> | undefined;
  if (!s || typeof s !== 'object' || s.kind !== 'enkf-wasm/fit') {
    throw new RangeError('resume: true, but the model has no training state from fit(). Train it with fit() (and save/load it with saveModel/loadModel), or drop resume.');
  }
  if (s.version === FIT_STATE_VERSION) return s as unknown as FitState;
  if (s.version !== 1) {
    throw new FormatError(`resume: the model's training state has version ${describe(s.version)}; this enkf-wasm reads versions 1 and ${FIT_STATE_VERSION}. ` +
      'Resume it with the enkf-wasm version that wrote it, or train without resume.');
  }
  // Version 1 kept the optimizer's counters under fit's own names.
  const o = s.optimizerState as Record<string, unknown>;
  const optimizerState: OptimizerState = s.optimizer === 'eki'
    ? { kind: 'eki', ensemble: o.ensemble as Float64Array, iteration: o.t as number, draws: o.draws as number }
    : { kind: 'nlb', theta: o.theta as Float64Array, iteration: o.t as number, draws: o.draws as number, alpha: o.alpha as number, sigma: o.sigma as number };
  return { ...(s as unknown as FitState), version: FIT_STATE_VERSION, optimizerState };
}

/** The optimizer of a run: fresh from θ, or restored from a saved state through its public loadState. */
function createOptimizer(kind: OptimizerKind, ws: Workspace, theta: Float64Array, options: Record<string, unknown>,
  saved: OptimizerState | undefined): Optimizer {
  const opt = kind === 'nlb' ? createNlb(ws, theta, options as NlbOptions) : createEki(ws, theta, options as EkiOptions);
  if (saved) {
    try {
      opt.loadState(saved);
    } catch (e) {
      opt.dispose();
      throw e;
    }
  }
  return opt;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function checkOptimizerOptions(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${name} must be an options object; got ${describe(value)}.`);
  }
  return value as Record<string, unknown>;
}

type Monitor = 'val_loss' | 'val_accuracy' | 'loss';

/** Everything fit() resolved from its arguments before training starts. */
interface Plan {
  model: MLP;
  data: Float32Array;
  labels: Int32Array;
  rows: number;
  kind: OptimizerKind;
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
  saved: FitState | undefined;
  averaging: { decay: number; start: number } | undefined;
  exactLastLayer: { every: number; iterations: number; l2: number } | undefined;
  workers: number;
}

function plan(model: MLP, x: MatrixInput, labels: LabelInput, options: FitOptions): Plan {
  if (options === null || typeof options !== 'object') throw new TypeError(`fit options must be an object; got ${describe(options)}.`);
  for (const key of Object.keys(options)) {
    if (!FIT_KEYS.includes(key)) throw new TypeError(`Unknown fit option '${key}'. Known options: ${FIT_KEYS.join(', ')}.`);
  }
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
  const kind = options.optimizer ?? 'nlb';
  if (kind !== 'nlb' && kind !== 'eki') throw new RangeError(`optimizer must be 'nlb' or 'eki'; got ${describe(kind)}.`);
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
  const userOptions = checkOptimizerOptions(kind, kind === 'nlb' ? options.nlb : options.eki);
  const optimizerOptions = { ...(kind === 'nlb' ? FIT_NLB_DEFAULTS : FIT_EKI_DEFAULTS), seed, ...userOptions };

  // Resume: the saved run must have been on the same data size, batch size, seed and optimizer.
  let saved: FitState | undefined;
  if (options.resume) {
    const st = upgradeState(model.trainingState);
    const mismatch = (what: string, a: unknown, b: unknown) =>
      new RangeError(`resume: the saved run used ${what} ${JSON.stringify(a)}, this call ${JSON.stringify(b)}. Use the same settings to continue it, or drop resume.`);
    if (st.optimizer !== kind) throw mismatch('optimizer', st.optimizer, kind);
    if (st.rows !== N) throw mismatch('training rows', st.rows, N);
    if (st.batchSize !== B) throw mismatch('batchSize', st.batchSize, B);
    if (st.seed !== seed) throw mismatch('seed', st.seed, seed);
    if (!sameJson(st.optimizerOptions, optimizerOptions)) throw mismatch(`${kind} options`, st.optimizerOptions, optimizerOptions);
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
    if (kind !== 'nlb') throw new RangeError("exactLastLayer works with the 'nlb' optimizer only.");
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
  // Options of the optimizer not in use would be ignored: most likely the optimizer is not the intended one.
  const other = kind === 'nlb' ? 'eki' : 'nlb';
  if (options[other] !== undefined) {
    throw new RangeError(`fit got ${other} options, but the optimizer is '${kind}'. Pass optimizer: '${other}' to use them, or drop ${other}.`);
  }
  if (options.signal !== undefined && (options.signal === null || typeof options.signal.aborted !== 'boolean')) {
    throw new TypeError(`signal must be an AbortSignal; got ${describe(options.signal)}.`);
  }
  return {
    model, data: m.data, labels: y, rows: N, kind, batchSize: B, seed, total,
    yieldEvery: checkNumber('yieldEvery', options.yieldEvery ?? (isNode ? 0 : 16), 0),
    validationEvery: options.validationEvery === undefined ? undefined : checkInt('validationEvery', options.validationEvery, 1),
    val, early: es, monitor, callbacks, signal: options.signal, optimizerOptions, saved, averaging, exactLastLayer,
    workers: checkInt('workers', options.workers ?? 0, 0, MAX_WORKERS),
  };
}

/**
 * Trains `model` on (x, labels) with forward passes only and returns the History of every
 * iteration. The model's θ is updated in place (to the best parameters with
 * earlyStopping.restoreBest) and model.trainingState is set so that training can resume.
 * Data shapes, label range and finiteness are checked before anything runs.
 */
export async function fit(model: MLP, x: MatrixInput, labels: LabelInput, options: FitOptions = {}): Promise<History> {
  const p = plan(model, x, labels, options);
  const module = options.module ?? model.module ?? await loadModule();
  model.module ??= module;
  const ws = new Workspace(module);
  let opt: Optimizer | undefined;
  let lastLayer: LastLayerSolver | undefined;
  let evaluator: MlpEvaluator | ParallelMlpEvaluator | undefined;
  let objective: CrossEntropy | undefined;
  try {
    // A resumed run continues from the optimizer's saved state (NLB's θ_t, EKI's ensemble), not from
    // the model's θ, which may hold the restored best or the iterate average instead.
    opt = createOptimizer(p.kind, ws, model.params, p.optimizerOptions, p.saved?.optimizerState);
    // Members per forward call: the whole ensemble (and θ̄ for EKI), up to 64 (bounds the activation buffers).
    const k = p.optimizerOptions.ensembleSize;
    const maxMembers = Math.min(64, typeof k === 'number' ? k + 1 : 64);
    const evaluatorOptions = { layers: model.layers, activation: model.activation, batchSize: p.batchSize, maxMembers };
    evaluator = p.workers > 0
      ? await ParallelMlpEvaluator.create(module, evaluatorOptions, p.data, p.workers)
      : new MlpEvaluator(module, evaluatorOptions);
    objective = new CrossEntropy(ws, model.classes, new Int32Array(p.batchSize));
    if (p.exactLastLayer) lastLayer = new LastLayerSolver(module, model.layers, model.activation, p.data, p.labels);
    return await train(p, opt, lastLayer, evaluator, objective);
  } finally {
    opt?.dispose();
    lastLayer?.dispose();
    objective?.dispose();
    // Worker threads are terminated (and awaited) whether training ended, threw or was aborted.
    if (evaluator instanceof ParallelMlpEvaluator) await evaluator.close();
    else evaluator?.dispose();
    ws.dispose();
  }
}

async function train(p: Plan, opt: Optimizer, lastLayer: LastLayerSolver | undefined,
  evaluator: MlpEvaluator | ParallelMlpEvaluator, objective: CrossEntropy): Promise<History> {
  const { model, rows: N, batchSize: B, seed, total, val, early: es, monitor, callbacks, signal, saved } = p;
  let t = saved?.iteration ?? 0;
  let forwardPasses = saved?.forwardPasses ?? 0;
  const elapsedBefore = saved?.elapsedMs ?? 0;
  let epochLossSum = saved?.epochLossSum ?? 0;
  let epochIterations = saved?.epochIterations ?? 0;
  // Copies of the saved records this run updates: the saved state stays as it was (it can be resumed again).
  const early = es ? (saved?.early ? { ...saved.early } : { best: Infinity, wait: 0, bestIteration: -1, bestParams: null }) : null;
  const history: History = {
    iterations: [], epochs: [], validation: [], stopReason: 'maxIterations', iteration: t, forwardPasses, elapsedMs: elapsedBefore,
  };
  const batchIndex = new Int32Array(B);
  const batchLabels = new Int32Array(B);
  let perm: Int32Array = new Int32Array(0);
  let permEpoch = -1;
  const t0 = performance.now();
  let lastYield = t0;
  const elapsed = () => elapsedBefore + performance.now() - t0;
  // Row at stream position q: the permutation of epoch ⌊q/N⌋ (cached for the current epoch).
  const rowAt = (q: number): number => {
    const e = Math.floor(q / N);
    if (e !== permEpoch) {
      perm = epochPermutation(N, seed, e);
      permEpoch = e;
    }
    return perm[q - e * N];
  };
  // Iterate averaging (FitOptions.averaging): θ̄ starts as θ at iteration `start`.
  let average = saved?.average?.slice() ?? null;
  const current = new Float64Array(opt.n);
  // NLB's Φ includes (λ/2)‖θ‖²; the logs also give the batch cross-entropy alone.
  const lambda = p.kind === 'nlb' && typeof p.optimizerOptions.lambda === 'number' ? p.optimizerOptions.lambda : 0;
  const evaluated = (): Float64Array => average ?? opt.theta(current);
  const validate = (): Evaluation => {
    model.setParameters(evaluated());
    return model.evaluate({ data: val!.data, shape: [val!.rows, model.inputSize] }, val!.labels);
  };
  // Early stopping bookkeeping; true when patience ran out. Scores are "lower is better".
  const improve = (value: number, iteration: number): boolean => {
    const score = monitor === 'val_accuracy' ? -value : value;
    if (score < early!.best - (es!.minDelta ?? 0)) {
      early!.best = score;
      early!.wait = 0;
      early!.bestIteration = iteration;
      if (es!.restoreBest) early!.bestParams = evaluated().slice();
      return false;
    }
    early!.wait++;
    return early!.wait >= es!.patience;
  };

  // The model and its training state after the last completed iteration (also when an iteration
  // failed: the optimizer keeps its last good estimate, so training can resume from there).
  const finish = (): void => {
    const restored = es?.restoreBest && early?.bestParams ? early.bestParams : null;
    model.setParameters(restored ?? evaluated());
    const optimizerState = opt.saveState();
    history.iteration = t;
    history.forwardPasses = forwardPasses;
    history.elapsedMs = elapsed();
    if (early && early.bestIteration >= 0) history.bestIteration = early.bestIteration;
    const state: FitState = {
      kind: 'enkf-wasm/fit', version: FIT_STATE_VERSION, optimizer: p.kind, optimizerOptions: p.optimizerOptions, optimizerState, seed,
      batchSize: B, rows: N, iteration: t, forwardPasses, elapsedMs: history.elapsedMs, epochLossSum, epochIterations, early,
      averaging: p.averaging ?? null, exactLastLayer: p.exactLastLayer ?? null, average,
    };
    model.trainingState = state;
  };

  const loop = async (): Promise<void> => {
    while (t < total) {
      if (signal?.aborted) {
        history.stopReason = 'aborted';
        break;
      }
      for (let i = 0; i < B; i++) {
        const r = rowAt(t * B + i);
        batchIndex[i] = r;
        batchLabels[i] = p.labels[r];
      }
      evaluator.setBatch(p.data, batchIndex);
      objective.setLabels(batchLabels);
      let d: IterationDiagnostics;
      try {
        // The parallel evaluator answers with promises; the single-thread path stays synchronous.
        d = evaluator instanceof ParallelMlpEvaluator
          ? await opt.stepAsync(evaluator, objective, { newBatch: true })
          : opt.step(evaluator, objective, { newBatch: true });
      } catch (e) {
        history.stopReason = 'error';
        throw new FitError(t, history, e);
      }
      forwardPasses += d.evaluations;
      let thetaSq = 0;
      if (lambda > 0) {
        opt.theta(current);
        for (let i = 0; i < current.length; i++) thetaSq += current[i] * current[i];
      }
      const crossEntropy = d.loss - 0.5 * lambda * thetaSq;
      if (p.exactLastLayer && (t + 1) % p.exactLastLayer.every === 0) {
        // Same optimizer counters, θ with the exact last layer (exactLastLayer is NLB only: its state holds θ).
        const state = opt.saveState() as NlbState;
        state.theta = lastLayer!.solve(state.theta, p.exactLastLayer);
        opt.loadState(state);
      }
      if (p.averaging && t >= p.averaging.start) {
        opt.theta(current);
        if (!average) average = current.slice();
        const beta = p.averaging.decay;
        for (let i = 0; i < average.length; i++) average[i] = beta * average[i] + (1 - beta) * current[i];
      }
      const epoch = Math.floor((t * B) / N);
      const epochEnds = Math.floor(((t + 1) * B) / N) > epoch;
      const log: FitIteration = { ...d, epoch, forwardPasses, elapsedMs: 0, crossEntropy };
      epochLossSum += Number.isFinite(d.loss) ? d.loss : d.lossBefore;
      epochIterations++;
      let stop: FitStopReason | undefined;
      const due = p.validationEvery ? (t + 1) % p.validationEvery === 0 : epochEnds;
      if (val && (due || t + 1 === total)) {
        const v = validate();
        log.valLoss = v.loss;
        log.valAccuracy = v.accuracy;
        history.validation.push({ iteration: t, epoch, forwardPasses, elapsedMs: elapsed(), loss: v.loss, accuracy: v.accuracy });
        if (early && monitor !== 'loss' && improve(monitor === 'val_loss' ? v.loss : v.accuracy, t)) stop = 'earlyStopping';
      }
      log.elapsedMs = elapsed();
      history.iterations.push(log);
      t++;
      if (callbacks.onIterationEnd && (await callbacks.onIterationEnd(log)) === false) stop ??= 'callback';
      if (epochEnds) {
        const elog: EpochLog = { epoch, iteration: t - 1, loss: epochLossSum / epochIterations, forwardPasses, elapsedMs: elapsed() };
        if (log.valLoss !== undefined) {
          elog.valLoss = log.valLoss;
          elog.valAccuracy = log.valAccuracy;
        }
        epochLossSum = 0;
        epochIterations = 0;
        history.epochs.push(elog);
        if (early && monitor === 'loss' && improve(elog.loss, t - 1)) stop ??= 'earlyStopping';
        if (callbacks.onEpochEnd && (await callbacks.onEpochEnd(elog)) === false) stop ??= 'callback';
      }
      if (stop) {
        history.stopReason = stop;
        break;
      }
      if (p.yieldEvery > 0 && performance.now() - lastYield >= p.yieldEvery) {
        await new Promise((resolve) => setTimeout(resolve, 0));
        lastYield = performance.now();
      }
    }
  };

  try {
    await loop();
  } finally {
    finish();
  }
  return history;
}
