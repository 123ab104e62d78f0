// Black-box fitting on top of the run core (run.ts): minimize() (the run loop over a user's forward
// function, synchronous or asynchronous) and ask/tell (the same run exposed request by request: the
// caller evaluates members anywhere — workers, another process, a cluster). Both validate every
// argument before any work; the process (NLB, EKI, …) comes from the registry.
import { defaultModule, type EnkfModule } from '../wasm.js';
import { Workspace, type Buf } from '../workspace.js';
import { OptimizationError, NotPositiveDefiniteError, checkInt, describe, describeTyped } from '../errors.js';
import type {
  EkiOptions, EvaluationRequest, Evaluator, IterationDiagnostics, LossKind, NlbOptions, Optimizer,
  ProcessDefinition, StopReason,
} from './types.js';
import { requestRows } from './types.js';
import { CrossEntropy, LeastSquares } from './objectives.js';
import type { Nlb } from './nlb.js';
import type { Eki } from './eki.js';
import type { OptimizerBase } from './driver.js';
import { checkModuleOption, checkTheta0, enumOption, unknownOptionError } from './options.js';
import { IterationClock, Run, STOP_KEYS, resolveStopCriteria, type StopCriteria } from './run.js';
import { PROCESS_KINDS, processOf, processesWithOption, type ProcessKind } from './registry.js';

/** A user's forward model: k parameter vectors (k × n, row-major) → their outputs (k × m). */
export type ForwardFunction = (thetas: Float64Array, k: number) => ArrayLike<number> | Promise<ArrayLike<number>>;

/** The problem and optimizer of a black-box fit (shared by minimize and createAskTell). */
export interface ProblemOptions extends NlbOptions, EkiOptions, StopCriteria {
  /** Observations: m values (least squares) or one class id per sample (cross-entropy). */
  y: ArrayLike<number>;
  /** Initial parameters θ₀ (n). */
  theta0: ArrayLike<number>;
  /** Loss of the outputs (default 'least-squares'). */
  loss?: LossKind;
  /** The process: 'nlb' (default, docs/method.md §2) or 'eki' (docs/method.md §3); see registry.ts. */
  optimizer?: ProcessKind;
  /** Least squares: Γ as a scalar variance or its m diagonal entries (default 1). */
  noiseCovariance?: number | ArrayLike<number>;
  /** Cross-entropy: classes C (default max(y) + 1); m = samples × C logits, sample-major. */
  classes?: number;
  /** A module to reuse (default: the one set by setDefaultModule, else a fresh loadModule()). */
  module?: EnkfModule;
}

export interface MinimizeOptions extends ProblemOptions {
  /**
   * Evaluates k parameter vectors (k ≤ maxMembers). Calls are made one at a time; to evaluate
   * members in parallel (workers, processes, a cluster), split each call's k rows among them and
   * raise maxMembers to the number of members wanted per call. `thetas` is reused between calls:
   * copy it to keep it beyond the call (or the returned promise).
   */
  forward: ForwardFunction;
  /** Called after every iteration; returning false stops with reason 'callback'. */
  onIteration?: (diagnostics: IterationDiagnostics) => void | boolean;
  /** Stops with reason 'aborted' within one iteration: between iterations, or at once while an
   *  evaluation is pending (θ is then the last good one). No forward call follows an abort. */
  signal?: AbortSignal;
}

export interface MinimizeResult {
  /** The final estimate: NLB θ_t (the last accepted iterate), EKI the ensemble mean. */
  theta: Float64Array;
  /** Φ at theta (after an abort: the last one known, NaN when none is, e.g. EKI's). */
  loss: number;
  /** One entry per iteration. */
  history: IterationDiagnostics[];
  reason: StopReason;
  /** Rows passed to the forward model in total. */
  evaluations: number;
}

/** minimize() could not continue — the process failed, or the caller's forward or onIteration
 *  threw (the original error is `cause`): carries θ at its last good value and the history so far. */
export class MinimizeError extends OptimizationError {
  readonly theta: Float64Array;
  readonly history: IterationDiagnostics[];
  constructor(cause: unknown, theta: Float64Array, history: IterationDiagnostics[], where = '') {
    const message = cause instanceof Error ? cause.message : describeTyped(cause);
    super(`${where}${message} (stopped after ${history.length} iterations; error.theta holds the last good θ)`);
    this.name = 'MinimizeError';
    this.theta = theta;
    this.history = history;
    this.cause = cause;
  }
}

const COMMON_KEYS = ['y', 'theta0', 'loss', 'optimizer', 'noiseCovariance', 'classes', 'module', ...STOP_KEYS] as const;
const MINIMIZE_KEYS = ['forward', 'onIteration', 'signal'] as const;

interface Problem {
  ws: Workspace;
  process: ProcessDefinition<Record<string, unknown>>;
  run: Run;
  objective: LeastSquares | CrossEntropy;
  optimizer: Optimizer;
  n: number;
  m: number;
}

// Splits the options into the process's and the problem's; an option of another process, a
// renamed or an unknown one is a TypeError.
function processOptions(options: ProblemOptions, kind: string, ownKeys: readonly string[], extraKeys: readonly string[],
  where: string): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(options)) {
    if ((COMMON_KEYS as readonly string[]).includes(key) || extraKeys.includes(key)) continue;
    if (ownKeys.includes(key)) {
      picked[key] = (options as unknown as Record<string, unknown>)[key];
      continue;
    }
    const others = processesWithOption(key);
    if (others.length) {
      throw new TypeError(`Option '${key}' belongs to optimizer '${others[0]}', not '${kind}'. ` +
        `Remove it or set optimizer: '${others[0]}'.`);
    }
    throw unknownOptionError(where, key, [...COMMON_KEYS, ...extraKeys, ...ownKeys]);
  }
  return picked;
}

// Validates everything (before any work) and builds the workspace, objective, optimizer and run.
async function setup(options: ProblemOptions, extraKeys: readonly string[], where: string, signal?: AbortSignal): Promise<Problem> {
  if (!options || typeof options !== 'object') throw new TypeError(`${where} takes one options object; got ${describe(options)}.`);
  const kind = enumOption('optimizer', options.optimizer, PROCESS_KINDS[0], PROCESS_KINDS);
  const process = processOf(kind);
  const own = processOptions(options, kind, process.optionKeys, extraKeys, where);
  const theta0 = checkTheta0(options.theta0);
  const loss = enumOption('loss', options.loss, 'least-squares', ['least-squares', 'cross-entropy']);
  const y = options.y;
  if (!y || typeof y !== 'object' || typeof y.length !== 'number' || y.length < 1) {
    throw new TypeError(`y must be a non-empty Float64Array (least squares) or Int32Array of class ids (cross-entropy); got ${describe(y)}.`);
  }
  let classes = 0;
  if (loss === 'cross-entropy') {
    if (options.noiseCovariance !== undefined) throw new TypeError('noiseCovariance applies to least squares only.');
    let max = -1;
    for (let i = 0; i < y.length; i++) {
      const c = y[i];
      if (typeof c !== 'number') throw new TypeError(`y[${i}] must be a number (a class id); got ${describeTyped(c)}.`);
      if (!Number.isInteger(c) || c < 0) throw new RangeError(`y[${i}] is ${c}; cross-entropy needs class ids (integers ≥ 0).`);
      if (c > max) max = c;
    }
    classes = options.classes === undefined ? Math.max(2, max + 1) : checkInt('classes', options.classes, 2);
    if (max >= classes) throw new RangeError(`y holds class id ${max} but classes is ${classes}; ids must be < classes.`);
  } else if (options.classes !== undefined) {
    throw new TypeError("classes applies to loss: 'cross-entropy' only.");
  }
  const criteria = resolveStopCriteria(options);
  const module = checkModuleOption('module', options.module) ?? await defaultModule();
  const ws = new Workspace(module);
  try {
    const objective = loss === 'least-squares'
      ? new LeastSquares(ws, y, options.noiseCovariance ?? 1)
      : new CrossEntropy(ws, classes, y);
    const optimizer = process.create(ws, theta0, own);
    const run = new Run(optimizer, objective, criteria, 0, signal);
    return { ws, process, run, objective, optimizer, n: theta0.length, m: objective.m };
  } catch (e) {
    ws.dispose();
    throw e;
  }
}

/** The caller's forward function threw (or its promise rejected): the original is `cause`. */
export class ForwardError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : describeTyped(cause));
    this.name = 'ForwardError';
  }
}

/**
 * Wraps a user's forward function as an Evaluator: copies the rows out of wasm memory into a
 * reused JS array, calls forward, checks the output length and copies it back. What forward
 * throws (or rejects with) comes out as a ForwardError.
 */
export class CallbackEvaluator implements Evaluator {
  readonly n: number;
  readonly m: number;
  private rows = new Float64Array(0);
  constructor(private readonly forward: ForwardFunction, n: number, m: number) {
    if (typeof forward !== 'function') {
      throw new TypeError(`forward must be a function (thetas: Float64Array, k: number) => Float64Array; got ${describe(forward)}.`);
    }
    this.n = n;
    this.m = m;
  }

  evaluate(rows: Buf<'f64'>, count: number, out: Buf<'f64'>): void | Promise<void> {
    const len = count * this.n;
    if (this.rows.length < len) this.rows = new Float64Array(len);
    const input = this.rows.length === len ? this.rows : this.rows.subarray(0, len);
    input.set(rows.view().subarray(0, len));
    let result: ReturnType<ForwardFunction>;
    try {
      result = this.forward(input, count);
    } catch (e) {
      throw new ForwardError(e);
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      return Promise.resolve(result).then((v) => this.store(v, count, out), (e) => {
        throw new ForwardError(e);
      });
    }
    this.store(result as ArrayLike<number>, count, out);
  }

  private store(values: ArrayLike<number>, count: number, out: Buf<'f64'>): void {
    const expected = count * this.m;
    if (!values || typeof values !== 'object' || values.length !== expected) {
      throw new RangeError(`forward returned ${values && typeof values === 'object' ? `${values.length} values` : describe(values)} ` +
        `for ${count} parameter vectors; expected ${count} × ${this.m} = ${expected} (k × m, row-major). ` +
        'Check the model output size against y.');
    }
    out.view().set(values);
  }
}

// The process's failures, and (minimize) the errors of the caller's forward, as a MinimizeError.
function wrap(e: unknown, optimizer: Optimizer, history: IterationDiagnostics[]): unknown {
  if (e instanceof ForwardError) return new MinimizeError(e.cause, optimizer.theta(), history, 'forward threw: ');
  if (e instanceof OptimizationError || e instanceof NotPositiveDefiniteError) {
    return new MinimizeError(e, optimizer.theta(), history);
  }
  return e;
}

/**
 * Fits θ of a black-box model by NLB (default) or EKI: the forward function gets k parameter
 * vectors at a time (k ≤ maxMembers, so peak memory stays O(maxMembers·n + m·k)).
 */
export async function minimize(options: MinimizeOptions): Promise<MinimizeResult> {
  const signal = options?.signal;
  if (signal !== undefined && (signal === null || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function')) {
    throw new TypeError(`signal must be an AbortSignal; got ${describe(signal)}.`);
  }
  const p = await setup(options, MINIMIZE_KEYS, 'minimize()', signal);
  const { optimizer, run } = p;
  try {
    const evaluator = new CallbackEvaluator(options.forward, p.n, p.m);
    const onIteration = options.onIteration;
    if (onIteration !== undefined && typeof onIteration !== 'function') {
      throw new TypeError(`onIteration must be a function; got ${describe(onIteration)}.`);
    }
    const reason = await run.drive(evaluator, {
      after: onIteration && ((d) => {
        let go: void | boolean;
        try {
          go = onIteration(d);
        } catch (e) {
          throw new MinimizeError(e, optimizer.theta(), run.history, 'onIteration threw: ');
        }
        return go !== false ? undefined : false;
      }),
      failed: (e) => wrap(e, optimizer, run.history),
    });
    let evaluations = run.history.reduce((sum, d) => sum + d.evaluations, 0);
    const last = run.history[run.history.length - 1];
    let loss = p.process.lossAtEstimate && last ? last.loss : NaN;
    // an abort means no more forward calls (one may never return)
    if (Number.isNaN(loss) && reason !== 'aborted') {
      loss = await lossAt(p, evaluator);
      evaluations += 1;
    }
    return { theta: optimizer.theta(), loss, history: run.history, reason, evaluations };
  } finally {
    p.ws.dispose();
  }
}

// Φ at the final estimate, evaluated once more: a process whose reported loss is not at its
// estimate (EKI's mean moved after its last evaluation, docs/method.md §3), or NLB without acceptance.
async function lossAt(p: Problem, evaluator: Evaluator): Promise<number> {
  const { optimizer, objective, ws } = p;
  const out = ws.f64(p.m);
  const loss = ws.f64(1);
  await evaluator.evaluate(optimizer.thetaBuf(), 1, out);
  objective.losses(1, out.ptr, loss.ptr);
  return loss.view()[0] + optimizer.penalty;
}

export type AskTellOptions = ProblemOptions;

/**
 * The ask/tell interface over the same run core: `ask()` returns the parameter vectors to
 * evaluate (count × n, row-major), `tell(outputs)` takes their outputs (count × m) and advances.
 * An NLB iteration asks for F(θ_t) (first iteration only), then the k members, then each
 * acceptance candidate; an EKI iteration asks for [θ̄; Θ_1 … Θ_J].
 */
export class AskTell {
  readonly n: number;
  readonly m: number;
  readonly history: IterationDiagnostics[];
  private gen: Generator<EvaluationRequest, IterationDiagnostics, void> | null = null;
  private request: EvaluationRequest | null = null;
  private rows: Float64Array | null = null;
  private disposed = false;

  /** @internal use createAskTell(). */
  constructor(private readonly p: Problem) {
    this.n = p.n;
    this.m = p.m;
    this.history = p.run.history;
    p.run.check();
  }

  /** True once a stopping rule fired (see `reason`). */
  get done(): boolean {
    return this.p.run.reason !== undefined;
  }

  get reason(): StopReason | undefined {
    return this.p.run.reason;
  }

  // Every method of a disposed ask/tell throws this before touching memory.
  private checkAlive(): void {
    if (this.disposed) throw new Error('this ask/tell was disposed; create a new one with createAskTell() (theta() and history were readable until dispose()).');
  }

  /** Rows the pending ask() expects outputs for. */
  get pending(): number {
    this.checkAlive();
    this.advance();
    return this.request ? requestRows(this.request) : 0;
  }

  /** The current estimate (NLB θ_t, EKI ensemble mean). */
  theta(): Float64Array {
    this.checkAlive();
    return this.p.optimizer.theta();
  }

  /** The optimizer (e.g. for its σ or ensemble). */
  get optimizer(): Nlb | Eki {
    this.checkAlive();
    return this.p.optimizer as Nlb | Eki;
  }

  // Runs the iteration to its next request (starting a new one when needed); a finished iteration
  // is recorded by the run, which applies the stopping rules.
  private advance(): void {
    const run = this.p.run;
    if (this.request || run.reason) return;
    this.gen ??= run.requests(new IterationClock());
    const next = this.gen.next();
    if (next.done) {
      this.gen = null;
      run.record(next.value);
      if (!run.stopAfter(next.value)) run.check();
      return;
    }
    this.request = next.value;
    this.rows = null;
  }

  /** The parameter vectors to evaluate next (count × n; an NLB draw on a new batch starts with θ_t
   *  itself, then the k members). Throws once done. */
  ask(): Float64Array {
    this.checkAlive();
    this.advance();
    if (!this.request) throw new Error(`The optimization has finished (reason: ${this.reason}); read theta() and history.`);
    if (!this.rows) {
      this.rows = new Float64Array(requestRows(this.request) * this.n);
      (this.p.optimizer as OptimizerBase).materialize(this.request, this.rows);
    }
    return this.rows.slice();
  }

  /**
   * Outputs of the rows of the last ask() (count × m, row-major; NaN/Inf rows are dropped members).
   * Returns the iteration's diagnostics when this tell completed an iteration, else undefined.
   */
  tell(outputs: ArrayLike<number>): IterationDiagnostics | undefined {
    this.checkAlive();
    if (!this.request || !this.rows) throw new Error('tell() without a pending ask(): call ask() first.');
    const count = requestRows(this.request);
    const expected = count * this.m;
    if (!outputs || typeof outputs !== 'object' || outputs.length !== expected) {
      throw new RangeError(`tell() got ${outputs && typeof outputs === 'object' ? `${outputs.length} values` : describe(outputs)}; ` +
        `expected ${count} × ${this.m} = ${expected} (the outputs of the ${count} rows of ask(), row-major).`);
    }
    this.request.out.view().set(outputs);
    this.request = null;
    this.rows = null;
    const before = this.history.length;
    try {
      this.advance();
    } catch (e) {
      this.gen = null;
      throw wrap(e, this.p.optimizer, this.history);
    }
    return this.history.length > before ? this.history[this.history.length - 1] : undefined;
  }

  /** Frees the module memory of this problem; every later call but `done`, `reason` and
   *  `history` throws. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.gen = null;
    this.request = null;
    this.rows = null;
    this.p.optimizer.dispose();
    this.p.objective.dispose();
    this.p.ws.dispose();
  }
}

/** An ask/tell optimizer for a black-box problem (same options as minimize, without forward). */
export async function createAskTell(options: AskTellOptions): Promise<AskTell> {
  return new AskTell(await setup(options, [], 'createAskTell()'));
}

