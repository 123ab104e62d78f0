// The public types of fit(): its options, what it records (History), and its error.
import { OptimizationError } from '../errors.js';
import type { EkiOptions, IterationDiagnostics, NlbOptions, StopReason } from '../optimizers/types.js';
import type { ProcessKind } from '../optimizers/registry.js';
import type { StopCriteria } from '../optimizers/run.js';
import type { EnkfModule } from '../wasm.js';
import type { LastLayerOptions } from './lastlayer.js';
import type { LabelInput, MatrixInput } from './matrix.js';

/** The stopping rules of the run core fit() takes in the process options (its budget is iterations / epochs). */
export type FitStopCriteria = Omit<StopCriteria, 'maxIterations'>;

/** The process fit() runs (a name of bindings/optimizers/registry.ts). */
export type OptimizerKind = ProcessKind;

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
  /** The same two under tfjs's log names (Keras-style `logs` of onEpochEnd). */
  val_loss?: number;
  val_acc?: number;
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

/** A stopping rule of the run core (maxIterations, callback, aborted; with the process options'
 *  tolerance, gradientTolerance, patience: 'tolerance', 'gradientTolerance', 'stalled'; the σ
 *  schedule's 'sigmaMin'), early stopping, or 'error': an iteration failed and fit() threw a
 *  FitError (its `history` has this reason). */
export type FitStopReason = StopReason | 'earlyStopping' | 'error';

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
  /** tfjs's columnar form, one entry per epoch finished in this call: the epoch numbers … */
  epoch: number[];
  /** … and each log by name: `loss` (epoch-mean batch loss) and, with validationData, `val_loss`
   *  and `val_acc` (NaN for an epoch whose end had no validation run, e.g. with validationEvery). */
  history: { loss: number[]; val_loss?: number[]; val_acc?: number[] };
}

/** A callback's return: false (or a promise of it) stops training after this iteration/epoch. */
export type CallbackResult = boolean | void | Promise<boolean | void>;

/** When a callback runs, model.params and model.trainingState are those after the iteration it
 *  reports: a model saved from a callback resumes exactly (and predict/evaluate use θ there). */
export interface FitCallbacks {
  onIterationEnd?(log: FitIteration): CallbackResult;
  /** tfjs's signature: the epoch number, then its logs (`logs.loss`, `logs.val_loss`, `logs.val_acc`). */
  onEpochEnd?(epoch: number, logs: EpochLog): CallbackResult;
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
  /** 'nlb' (default, docs/method.md §2) or 'eki' (docs/method.md §3). */
  optimizer?: OptimizerKind;
  /** NLB options over fit's network defaults (FIT_NLB_DEFAULTS), and the stopping rules
   *  tolerance, gradientTolerance and patience of the run (off unless given). */
  nlb?: NlbOptions & FitStopCriteria;
  /** EKI options over fit's network defaults (FIT_EKI_DEFAULTS), and the same stopping rules. */
  eki?: EkiOptions & FitStopCriteria;
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
  /** Yield to the event loop (timers, I/O, a UI) between iterations when this many ms passed since
   *  the last yield (default 16; 0 = after every iteration). */
  yieldEvery?: number;
  /** Stops training within one iteration — between iterations, or at once while an evaluation (a
   *  worker's) or a callback's promise is pending; fit() resolves with stopReason 'aborted' and the
   *  model and its training state as after the last completed iteration (resumable). */
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
   * Exact last layer (beyond the paper; off by default; a process whose θ is the whole iterate,
   * i.e. NLB): every `every` iterations, replace
   * the last layer by the minimizer of the (convex) cross-entropy of the training rows' hidden
   * features (L-BFGS, `iterations` steps, ridge `l2`), while NLB trains all layers in between.
   */
  exactLastLayer?: { every?: number } & LastLayerOptions;
  /**
   * Workers that evaluate ensemble members next to the main thread (Node worker threads, Web Workers
   * in browsers; default 0 = everything on the main thread; 'auto' = logical cores − 1). The members
   * of each NLB draw are split between the threads; the iterates are bit-identical to workers: 0
   * (docs/method.md §5). Explicit rows (EKI, NLB candidates) stay on the main thread.
   */
  workers?: number | 'auto';
}
