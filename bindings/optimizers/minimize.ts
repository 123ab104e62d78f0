// Black-box fitting on top of the optimizer core: minimize() (a loop over a user's forward
// function, synchronous or asynchronous) and ask/tell (the caller evaluates members anywhere —
// workers, another process, a cluster). Both validate every argument before any work.
import { loadModule, type EnkfModule } from '../wasm.js';
import { Workspace, type Buf } from '../workspace.js';
import { OptimizationError, NotPositiveDefiniteError, checkInt, describe } from '../errors.js';
import type {
  EkiOptions, EvaluationRequest, Evaluator, IterationDiagnostics, LossKind, NlbOptions, Optimizer,
  StopReason,
} from './types.js';
import { requestRows } from './types.js';
import { CrossEntropy, LeastSquares } from './objectives.js';
import { Nlb, NLB_OPTION_KEYS } from './nlb.js';
import { Eki, EKI_OPTION_KEYS } from './eki.js';
import { OptimizerBase, Stopper, checkTheta0, enumOption, resolveStopCriteria, type StopCriteria } from './driver.js';

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
  /** 'nlb' (default, method.md §2) or 'eki' (method.md §3). */
  optimizer?: 'nlb' | 'eki';
  /** Least squares: Γ as a scalar variance or its m diagonal entries (default 1). */
  noiseCovariance?: number | ArrayLike<number>;
  /** Cross-entropy: classes C (default max(y) + 1); m = samples × C logits, sample-major. */
  classes?: number;
  /** A module to reuse (default: loadModule()). */
  module?: EnkfModule;
}

export interface MinimizeOptions extends ProblemOptions {
  /**
   * Evaluates k parameter vectors (k ≤ memberBatch). Calls are made one at a time; to evaluate
   * members in parallel (workers, processes, a cluster), split each call's k rows among them and
   * raise memberBatch to the number of members wanted per call. `thetas` is reused between calls:
   * copy it to keep it beyond the call (or the returned promise).
   */
  forward: ForwardFunction;
  /** Called after every iteration; returning false stops with reason 'callback'. */
  onIteration?: (diagnostics: IterationDiagnostics) => void | boolean;
  /** Stops between iterations with reason 'aborted'. */
  signal?: AbortSignal;
}

export interface MinimizeResult {
  /** The final estimate: NLB θ_t (the last accepted iterate), EKI the ensemble mean. */
  theta: Float64Array;
  /** Φ at theta. */
  loss: number;
  /** One entry per iteration. */
  history: IterationDiagnostics[];
  reason: StopReason;
  /** Rows passed to the forward model in total. */
  evaluations: number;
}

/** minimize() could not continue: carries θ at its last good value and the history so far. */
export class MinimizeError extends OptimizationError {
  readonly theta: Float64Array;
  readonly history: IterationDiagnostics[];
  constructor(cause: Error, theta: Float64Array, history: IterationDiagnostics[]) {
    super(`${cause.message} (stopped after ${history.length} iterations; error.theta holds the last good θ)`);
    this.name = 'MinimizeError';
    this.theta = theta;
    this.history = history;
    this.cause = cause;
  }
}

const COMMON_KEYS = ['y', 'theta0', 'loss', 'optimizer', 'noiseCovariance', 'classes', 'module',
  'maxIterations', 'tolerance', 'gradientTolerance', 'patience'] as const;
const MINIMIZE_KEYS = ['forward', 'onIteration', 'signal'] as const;

interface Problem {
  ws: Workspace;
  objective: LeastSquares | CrossEntropy;
  optimizer: Nlb | Eki;
  stopper: Stopper;
  n: number;
  m: number;
}

// Validates everything (before any work) and builds the workspace, objective and optimizer.
async function setup(options: ProblemOptions, extraKeys: readonly string[], where: string): Promise<Problem> {
  if (!options || typeof options !== 'object') throw new TypeError(`${where} takes one options object; got ${describe(options)}.`);
  const kind = enumOption('optimizer', options.optimizer, 'nlb', ['nlb', 'eki']);
  const own: readonly string[] = kind === 'nlb' ? NLB_OPTION_KEYS : EKI_OPTION_KEYS;
  const other: readonly string[] = kind === 'nlb' ? EKI_OPTION_KEYS : NLB_OPTION_KEYS;
  const methodKeys: Record<string, unknown> = {};
  for (const key of Object.keys(options)) {
    if ((COMMON_KEYS as readonly string[]).includes(key) || extraKeys.includes(key)) continue;
    if (own.includes(key)) {
      methodKeys[key] = (options as unknown as Record<string, unknown>)[key];
      continue;
    }
    if (other.includes(key)) {
      throw new TypeError(`Option '${key}' belongs to optimizer '${kind === 'nlb' ? 'eki' : 'nlb'}', not '${kind}'. ` +
        `Remove it or set optimizer: '${kind === 'nlb' ? 'eki' : 'nlb'}'.`);
    }
    const all = [...COMMON_KEYS, ...extraKeys, ...own];
    const near = all.filter((a) => a.toLowerCase() === key.toLowerCase());
    throw new TypeError(`Unknown option '${key}' for ${where}.` +
      (near.length ? ` Did you mean '${near[0]}'?` : ` Known options: ${all.join(', ')}.`));
  }
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
      if (!Number.isInteger(c) || c < 0) throw new RangeError(`y[${i}] is ${c}; cross-entropy needs class ids (integers ≥ 0).`);
      if (c > max) max = c;
    }
    classes = options.classes === undefined ? Math.max(2, max + 1) : checkInt('classes', options.classes, 2);
    if (max >= classes) throw new RangeError(`y holds class id ${max} but classes is ${classes}; ids must be < classes.`);
  } else if (options.classes !== undefined) {
    throw new TypeError("classes applies to loss: 'cross-entropy' only.");
  }
  const stopper = new Stopper(resolveStopCriteria(options));
  const module = options.module ?? await loadModule();
  const ws = new Workspace(module);
  try {
    const objective = loss === 'least-squares'
      ? new LeastSquares(ws, y, options.noiseCovariance ?? 1)
      : new CrossEntropy(ws, classes, y);
    const optimizer = kind === 'nlb' ? new Nlb(ws, theta0, methodKeys as NlbOptions) : new Eki(ws, theta0, methodKeys as EkiOptions);
    return { ws, objective, optimizer, stopper, n: theta0.length, m: objective.m };
  } catch (e) {
    ws.dispose();
    throw e;
  }
}

/**
 * Wraps a user's forward function as an Evaluator: copies the rows out of wasm memory into a
 * reused JS array, calls forward, checks the output length and copies it back.
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
    const result = this.forward(input, count);
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      return (result as Promise<ArrayLike<number>>).then((v) => this.store(v, count, out));
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

function wrap(e: unknown, optimizer: Optimizer, history: IterationDiagnostics[]): unknown {
  if (e instanceof OptimizationError || e instanceof NotPositiveDefiniteError) {
    return new MinimizeError(e, optimizer.theta(), history);
  }
  return e;
}

/**
 * Fits θ of a black-box model by NLB (default) or EKI: the forward function gets k parameter
 * vectors at a time (k ≤ memberBatch, so peak memory stays O(memberBatch·n + m·k)).
 */
export async function minimize(options: MinimizeOptions): Promise<MinimizeResult> {
  const p = await setup(options, MINIMIZE_KEYS, 'minimize()');
  const { optimizer, objective, stopper } = p;
  const history: IterationDiagnostics[] = [];
  try {
    const evaluator = new CallbackEvaluator(options.forward, p.n, p.m);
    const onIteration = options.onIteration;
    if (onIteration !== undefined && typeof onIteration !== 'function') {
      throw new TypeError(`onIteration must be a function; got ${describe(onIteration)}.`);
    }
    const signal = options.signal;
    if (signal !== undefined && (signal === null || typeof signal.aborted !== 'boolean')) {
      throw new TypeError(`signal must be an AbortSignal; got ${describe(signal)}.`);
    }
    let reason: StopReason;
    let evaluations = 0;
    for (;;) {
      if (signal?.aborted) { reason = 'aborted'; break; }
      const budget = stopper.budgetExhausted(history.length);
      if (budget) { reason = budget; break; }
      let d: IterationDiagnostics;
      try {
        d = await optimizer.stepAsync(evaluator, objective, { newBatch: false });
      } catch (e) {
        throw wrap(e, optimizer, history);
      }
      history.push(d);
      evaluations += d.evaluations;
      if (onIteration && onIteration(d) === false) { reason = 'callback'; break; }
      const stop = stopper.after(d, optimizer.sigmaBelowMin);
      if (stop) { reason = stop; break; }
    }
    const loss = await finalLoss(p, evaluator, history);
    if (optimizer.kind === 'eki') evaluations += 1;
    return { theta: optimizer.theta(), loss, history, reason, evaluations };
  } finally {
    p.ws.dispose();
  }
}

// Φ at the final estimate: NLB knows it from its last step; EKI's mean moved after its last
// evaluation, so it is evaluated once more (predictions use the mean, method.md §3).
async function finalLoss(p: Problem, evaluator: Evaluator, history: IterationDiagnostics[]): Promise<number> {
  const { optimizer, objective, ws } = p;
  if (optimizer.kind === 'nlb') {
    const last = history[history.length - 1];
    if (last && !Number.isNaN(last.loss)) return last.loss;
  }
  const out = ws.f64(p.m);
  const loss = ws.f64(1);
  await evaluator.evaluate(optimizer.thetaBuf(), 1, out);
  objective.losses(1, out.ptr, loss.ptr);
  const lambda = optimizer instanceof Nlb ? optimizer.lambda : 0;
  const t = optimizer.thetaBuf().view();
  let sq = 0;
  for (let i = 0; i < t.length; i++) sq += t[i] * t[i];
  return loss.view()[0] + 0.5 * lambda * sq;
}

export type AskTellOptions = ProblemOptions;

/**
 * The ask/tell interface over the same optimizer core: `ask()` returns the parameter vectors to
 * evaluate (count × n, row-major), `tell(outputs)` takes their outputs (count × m) and advances.
 * An NLB iteration asks for F(θ_t) (first iteration only), then the k members, then each
 * acceptance candidate; an EKI iteration asks for [θ̄; Θ_1 … Θ_J].
 */
export class AskTell {
  readonly n: number;
  readonly m: number;
  readonly history: IterationDiagnostics[] = [];
  private gen: Generator<EvaluationRequest, IterationDiagnostics, void> | null = null;
  private request: EvaluationRequest | null = null;
  private rows: Float64Array | null = null;
  private stopReason: StopReason | undefined;
  private algebraMs = 0;
  private forwardMs = 0;
  private started = 0;
  private askedAt = 0;

  /** @internal use createAskTell(). */
  constructor(private readonly p: Problem) {
    this.n = p.n;
    this.m = p.m;
    this.stopReason = p.stopper.budgetExhausted(0);
  }

  /** True once a stopping rule fired (see `reason`). */
  get done(): boolean {
    return this.stopReason !== undefined;
  }

  get reason(): StopReason | undefined {
    return this.stopReason;
  }

  /** Rows the pending ask() expects outputs for. */
  get pending(): number {
    this.advance();
    return this.request ? requestRows(this.request) : 0;
  }

  /** The current estimate (NLB θ_t, EKI ensemble mean). */
  theta(): Float64Array {
    return this.p.optimizer.theta();
  }

  /** The optimizer (e.g. for its σ or ensemble). */
  get optimizer(): Nlb | Eki {
    return this.p.optimizer;
  }

  // Runs the generator to its next request (starting a new iteration when needed).
  private advance(): void {
    if (this.request || this.stopReason) return;
    if (!this.gen) {
      this.gen = this.p.optimizer.iterate(this.p.objective, { newBatch: false });
      this.started = performance.now();
      this.algebraMs = 0;
      this.forwardMs = 0;
    }
    const t0 = performance.now();
    let next: IteratorResult<EvaluationRequest, IterationDiagnostics>;
    try {
      next = this.gen.next();
    } finally {
      this.algebraMs += performance.now() - t0;
    }
    if (next.done) {
      const d = next.value;
      d.algebraMs = this.algebraMs;
      d.forwardMs = this.forwardMs;
      d.totalMs = performance.now() - this.started;
      this.history.push(d);
      this.gen = null;
      this.stopReason = this.p.stopper.after(d, this.p.optimizer.sigmaBelowMin)
        ?? this.p.stopper.budgetExhausted(this.history.length);
      return;
    }
    this.request = next.value;
    this.rows = null;
  }

  /** The parameter vectors to evaluate next (count × n; an NLB draw on a new batch starts with θ_t
   *  itself, then the k members). Throws once done. */
  ask(): Float64Array {
    this.advance();
    if (!this.request) throw new Error(`The optimization has finished (reason: ${this.stopReason}); read theta() and history.`);
    if (!this.rows) {
      this.rows = new Float64Array(requestRows(this.request) * this.n);
      (this.p.optimizer as OptimizerBase).materialize(this.request, this.rows);
    }
    this.askedAt = performance.now();
    return this.rows.slice();
  }

  /**
   * Outputs of the rows of the last ask() (count × m, row-major; NaN/Inf rows are dropped members).
   * Returns the iteration's diagnostics when this tell completed an iteration, else undefined.
   */
  tell(outputs: ArrayLike<number>): IterationDiagnostics | undefined {
    if (!this.request || !this.rows) throw new Error('tell() without a pending ask(): call ask() first.');
    const count = requestRows(this.request);
    const expected = count * this.m;
    if (!outputs || typeof outputs !== 'object' || outputs.length !== expected) {
      throw new RangeError(`tell() got ${outputs && typeof outputs === 'object' ? `${outputs.length} values` : describe(outputs)}; ` +
        `expected ${count} × ${this.m} = ${expected} (the outputs of the ${count} rows of ask(), row-major).`);
    }
    this.forwardMs += performance.now() - this.askedAt;
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

  /** Frees the module memory of this problem. */
  dispose(): void {
    this.p.ws.dispose();
  }
}

/** An ask/tell optimizer for a black-box problem (same options as minimize, without forward). */
export async function createAskTell(options: AskTellOptions): Promise<AskTell> {
  return new AskTell(await setup(options, [], 'createAskTell()'));
}

