// The generic driver shared by both optimizers: option validation, the σ and α schedules, the
// dispatch of evaluation requests to an evaluator (sync or async, chunked by memberBatch), timing
// of forward passes vs algebra, stopping rules and compaction of failed members.
// An optimizer only implements `iterate` (one update step as a generator of requests).
import { Buf, type Workspace } from '../workspace.js';
import { checkInt, checkNumber, describe } from '../errors.js';
import type {
  Evaluator, EvaluationRequest, IterationDiagnostics, Objective, Optimizer, OptimizerState, StepOptions, StopReason,
} from './types.js';

/** Bytes of f64 member rows materialized at once when no memberBatch is given (8 MiB). */
export const DEFAULT_ROW_BYTES = 8 * 1024 * 1024;

/** A view of `length` elements of `buf` starting at element `start` (not owned; never freed). */
export function subBuf<D extends 'f64' | 'f32' | 'i32'>(ws: Workspace, buf: Buf<D>, start: number, length: number): Buf<D> {
  return new Buf(ws, buf.at(start), length, buf.dtype);
}

/** Throws a TypeError naming the first key of `options` not in `allowed`. */
export function rejectUnknownOptions(where: string, options: object, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      const near = allowed.filter((a) => a.toLowerCase() === key.toLowerCase());
      const hint = near.length ? ` Did you mean '${near[0]}'?` : ` Known options: ${allowed.join(', ')}.`;
      throw new TypeError(`Unknown option '${key}' for ${where}.${hint}`);
    }
  }
}

/** Validated number option with a default. */
export function numberOption(name: string, value: unknown, fallback: number, min = -Infinity, max = Infinity,
  allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (allowInfinity && value === Infinity) return value;
  return checkNumber(name, value, min, max);
}

/** Validated integer option with a default. */
export function intOption(name: string, value: unknown, fallback: number, min: number, max?: number): number {
  if (value === undefined) return fallback;
  return checkInt(name, value, min, max);
}

/** Validated boolean option with a default. */
export function boolOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be true or false; got ${describe(value)}.`);
  return value;
}

/** Validated string option from a fixed set. */
export function enumOption<T extends string>(name: string, value: unknown, fallback: T, allowed: readonly T[]): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new TypeError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; got ${describe(value)}.`);
  }
  return value as T;
}

/** Checks that θ₀ is an array of n finite numbers and returns it as a Float64Array copy. */
export function checkTheta0(theta0: unknown): Float64Array {
  if (!theta0 || typeof theta0 !== 'object' || typeof (theta0 as ArrayLike<number>).length !== 'number') {
    throw new TypeError(`theta0 must be a Float64Array (or array) of the n initial parameters; got ${describe(theta0)}.`);
  }
  const t = theta0 as ArrayLike<number>;
  if (t.length < 1) throw new RangeError('theta0 is empty; it must hold the n ≥ 1 initial parameters.');
  for (let i = 0; i < t.length; i++) {
    if (!Number.isFinite(t[i])) throw new RangeError(`theta0[${i}] is ${t[i]}; every initial parameter must be finite.`);
  }
  return Float64Array.from(t);
}

/** Checks the counters shared by both optimizers' states. */
export function checkStateCounters(state: { iteration: unknown; draws: unknown }): void {
  checkInt('state.iteration', state.iteration, 0);
  checkInt('state.draws', state.draws, 0, 0xffffffff);
}

/** Members that survived an evaluation: indices of finite rows, moved to the front of F. */
export interface Survivors {
  count: number;
  /** index[s] = original row of survivor s. */
  index: Int32Array;
}

/**
 * Moves the rows of F (k × m, f64) that are entirely finite to the front, keeping their order: a
 * member with NaN/Inf outputs is dropped for the iteration. The test is one SIMD kernel pass,
 * lsLoss with weight 0 against a finite reference row `ref` (m): 0·Σ(F_i − ref)² is 0 for a
 * finite row and NaN for a row holding NaN or ±Inf. loss: f64 k scratch.
 */
export function compactFinite(ws: Workspace, F: Buf<'f64'>, k: number, m: number, ref: Buf<'f64'>, loss: Buf<'f64'>,
  index: Int32Array): Survivors {
  ws.raw.lsLoss(k, m, 0, F.ptr, 0, ref.ptr, loss.ptr);
  const l = loss.view();
  let count = 0;
  for (let i = 0; i < k; i++) {
    if (l[i] !== 0) continue;
    if (count !== i) F.view().copyWithin(count * m, i * m, (i + 1) * m);
    index[count++] = i;
  }
  return { count, index };
}

/** True when every value of `buf`'s first `length` entries is finite. */
export function allFinite(buf: Buf<'f64'>, length = buf.length): boolean {
  const v = buf.view();
  for (let i = 0; i < length; i++) if (v[i] - v[i] !== 0) return false;
  return true;
}

/** ‖v‖² of the first `length` entries of a buffer. */
export function squaredNorm(buf: Buf<'f64'>, length = buf.length): number {
  const v = buf.view();
  let s = 0;
  for (let i = 0; i < length; i++) s += v[i] * v[i];
  return s;
}

/** ‖a − b‖ of two buffers of equal length. */
export function distance(a: Buf<'f64'>, b: Buf<'f64'>, length: number): number {
  const x = a.view();
  const y = b.view();
  let s = 0;
  for (let i = 0; i < length; i++) {
    const d = x[i] - y[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

/** Stopping rules (method.md §2 step 7), checked after every iteration. */
export interface StopCriteria {
  /** Iteration budget (default 100). */
  maxIterations?: number;
  /** Stop when Φ ≤ tolerance (default 0: off). */
  tolerance?: number;
  /** Stop when the gradient proxy ≤ gradientTolerance (default 0: off). */
  gradientTolerance?: number;
  /** Stop after this many consecutive iterations without an accepted step (default 20). */
  patience?: number;
}

export interface ResolvedStopCriteria {
  maxIterations: number;
  tolerance: number;
  gradientTolerance: number;
  patience: number;
}

export function resolveStopCriteria(o: StopCriteria): ResolvedStopCriteria {
  return {
    maxIterations: intOption('maxIterations', o.maxIterations, 100, 0),
    tolerance: numberOption('tolerance', o.tolerance, 0, 0),
    gradientTolerance: numberOption('gradientTolerance', o.gradientTolerance, 0, 0),
    patience: o.patience === Infinity ? Infinity : intOption('patience', o.patience, 20, 1),
  };
}

/** Applies the stopping rules to one iteration's diagnostics; tracks the run of failed steps. */
export class Stopper {
  private failures = 0;
  constructor(private readonly c: ResolvedStopCriteria) {}

  /** The reason to stop before running iteration `done` (0-based count of finished ones), if any. */
  budgetExhausted(done: number): StopReason | undefined {
    return done >= this.c.maxIterations ? 'maxIterations' : undefined;
  }

  /** The reason to stop after this iteration, if any. `sigmaBelowMin`: the optimizer's σ floor. */
  after(d: IterationDiagnostics, sigmaBelowMin: boolean): StopReason | undefined {
    this.failures = d.accepted ? 0 : this.failures + 1;
    if (d.loss <= this.c.tolerance) return 'tolerance';
    if (d.gradientNorm <= this.c.gradientTolerance) return 'gradientTolerance';
    if (sigmaBelowMin) return 'sigmaMin';
    if (this.failures >= this.c.patience) return 'stalled';
    return undefined;
  }
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && typeof x === 'object' && typeof (x as PromiseLike<unknown>).then === 'function';
}

/** The per-iteration time accounting the driver fills in. */
interface Clock {
  forward: number;
  algebra: number;
  start: number;
}

// Members per chunk of a perturbed request: even with antithetic pairs (when above 1), so chunks
// start at even members and each pair ±ξ shares one pass of the generator.
function pairChunk(chunk: number, antithetic: boolean): number {
  return antithetic && chunk > 1 && chunk !== Infinity ? chunk - (chunk % 2) : chunk;
}

/**
 * Base of both optimizers: turns `iterate` (a generator of evaluation requests) into sync and
 * async steps against an Evaluator, materializing NLB members in chunks of `memberBatch` rows
 * when the evaluator has no fast path.
 */
export abstract class OptimizerBase implements Optimizer {
  abstract readonly kind: 'nlb' | 'eki';
  readonly n: number;
  protected readonly ws: Workspace;
  /** Members per forward call when rows are materialized (memory: memberBatch × n f64). */
  readonly memberBatch: number;
  private rowsBuf: Buf<'f64'> | null = null;
  protected disposed = false;

  constructor(ws: Workspace, n: number, memberBatch: number | undefined, maxMembers: number) {
    this.ws = ws;
    this.n = n;
    const auto = Math.max(1, Math.min(maxMembers, Math.floor(DEFAULT_ROW_BYTES / (8 * n))));
    this.memberBatch = intOption('memberBatch', memberBatch, auto, 1);
  }

  abstract readonly iteration: number;
  /** A copy of the current estimate (into `out` when given): NLB θ_t, EKI the ensemble mean. */
  theta(out?: Float64Array): Float64Array {
    const v = this.thetaBuf().view();
    if (!out) return v.slice();
    if (out.length !== this.n) throw new RangeError(`out has length ${out.length}; expected n = ${this.n}.`);
    out.set(v);
    return out;
  }
  abstract thetaBuf(): Buf<'f64'>;
  abstract saveState(): OptimizerState;
  abstract loadState(state: OptimizerState): void;
  abstract iterate(objective: Objective, options?: StepOptions): Generator<EvaluationRequest, IterationDiagnostics, void>;
  /** True when the σ schedule fell below its floor (implicit filtering's stop). */
  abstract get sigmaBelowMin(): boolean;
  protected abstract freeBuffers(): void;

  protected checkAlive(): void {
    if (this.disposed) throw new Error(`This ${this.kind} optimizer was disposed; create a new one.`);
  }

  protected checkObjective(objective: Objective, m: number | undefined): void {
    if (!objective || typeof objective.system !== 'function') {
      throw new TypeError(`objective must be a LeastSquares or CrossEntropy objective; got ${describe(objective)}.`);
    }
    if (m !== undefined && objective.m !== m) {
      throw new RangeError(`The objective expects ${objective.m} outputs per member but the evaluator produces ${m}. ` +
        'Check the data shapes (least squares: length of y; cross-entropy: samples × classes).');
    }
  }

  private checkEvaluator(evaluator: Evaluator, objective: Objective): void {
    if (!evaluator || typeof evaluator.evaluate !== 'function') {
      throw new TypeError(`evaluator must have an evaluate(rows, count, out) method; got ${describe(evaluator)}.`);
    }
    if (evaluator.n !== this.n) {
      throw new RangeError(`The evaluator takes ${evaluator.n} parameters per member; this optimizer has n = ${this.n}.`);
    }
    if (evaluator.maxBatch !== undefined) checkInt('evaluator.maxBatch', evaluator.maxBatch, 1);
    this.checkObjective(objective, evaluator.m);
  }

  /** Rows buffer of `memberBatch × n` f64 for materialized members (allocated on first use). */
  protected memberRows(): Buf<'f64'> {
    if (!this.rowsBuf) this.rowsBuf = this.ws.f64(this.memberBatch * this.n);
    return this.rowsBuf;
  }

  /**
   * Fills `dst` (requestRows(req) × n, a JS array) with the rows of a request: explicit rows are
   * copied, θ (when the request carries the center) then the perturbed members are generated chunk
   * by chunk (E is never stored whole in wasm memory).
   */
  materialize(req: EvaluationRequest, dst: Float64Array): void {
    const n = this.n;
    if (req.kind === 'rows') {
      dst.set(req.rows.view().subarray(0, req.count * n));
      return;
    }
    const first = req.center ? 1 : 0;
    if (req.center) dst.set(req.theta.view().subarray(0, n));
    const rows = this.memberRows();
    const chunk = pairChunk(this.memberBatch, req.antithetic);
    for (let c = 0; c < req.count; c += chunk) {
      const cb = Math.min(chunk, req.count - c);
      this.ws.raw.perturb64(cb, n, req.sigma, req.seed, req.key, req.member0 + c, req.antithetic ? 1 : 0, req.theta.ptr, rows.ptr);
      dst.set(rows.view().subarray(0, cb * n), (first + c) * n);
    }
  }

  // Yields the evaluator calls that fulfil one request: returns promises when async. A request
  // with the center evaluates θ in the first call with the first members (row 0 of out).
  private *calls(evaluator: Evaluator, req: EvaluationRequest, clock: Clock): Generator<() => unknown, void, void> {
    const m = evaluator.m;
    const n = this.n;
    const maxBatch = evaluator.maxBatch ?? Infinity;
    if (req.kind === 'rows') {
      const chunk = Math.min(maxBatch, this.memberBatch);
      for (let c = 0; c < req.count; c += chunk) {
        const cb = Math.min(chunk, req.count - c);
        const rows = c === 0 && cb === req.count ? req.rows : subBuf(this.ws, req.rows, c * n, cb * n);
        const out = subBuf(this.ws, req.out, c * m, cb * m);
        yield () => evaluator.evaluate(rows, cb, out);
      }
      return;
    }
    const fast = typeof evaluator.evaluatePerturbed === 'function';
    // Members per call; the first call also carries θ when the request has the center.
    const chunk = pairChunk(fast ? maxBatch : Math.min(maxBatch, this.memberBatch), req.antithetic);
    let center = req.center;
    let row = 0;
    if (center && pairChunk(chunk - 1, req.antithetic) < (req.antithetic ? 2 : 1)) {
      // No room for θ next to a member (one row per call, or a pair that must not be split): θ alone.
      const out = subBuf(this.ws, req.out, 0, m);
      yield () => evaluator.evaluate(req.theta, 1, out);
      center = false;
      row = 1;
    }
    const antithetic = req.antithetic ? 1 : 0;
    for (let c = 0; c < req.count;) {
      const cb = Math.min(pairChunk(center ? chunk - 1 : chunk, req.antithetic), req.count - c);
      const rowsOut = cb + (center ? 1 : 0);
      const out = subBuf(this.ws, req.out, row * m, rowsOut * m);
      if (fast) {
        const withCenter = center;
        const member0 = req.member0 + c;
        yield () => evaluator.evaluatePerturbed!(req.theta, req.sigma, req.seed, req.key, member0, cb, req.antithetic, out, withCenter);
      } else {
        const rows = this.memberRows();
        const t0 = performance.now();
        if (center) rows.view().set(req.theta.view().subarray(0, n));
        // method.md §2 step 2: members θ + σ s_i ξ_{q_i}, regenerated from (seed, key, member)
        this.ws.raw.perturb64(cb, n, req.sigma, req.seed, req.key, req.member0 + c, antithetic, req.theta.ptr, rows.at(center ? n : 0));
        clock.algebra += performance.now() - t0;
        const rowView = rowsOut === this.memberBatch ? rows : subBuf(this.ws, rows, 0, rowsOut * n);
        yield () => evaluator.evaluate(rowView, rowsOut, out);
      }
      c += cb;
      row += rowsOut;
      center = false;
    }
  }

  step(evaluator: Evaluator, objective: Objective, options?: StepOptions): IterationDiagnostics {
    this.checkAlive();
    this.checkEvaluator(evaluator, objective);
    const clock: Clock = { forward: 0, algebra: 0, start: performance.now() };
    const gen = this.iterate(objective, options);
    for (;;) {
      const t0 = performance.now();
      const next = gen.next();
      clock.algebra += performance.now() - t0;
      if (next.done) return finish(next.value, clock);
      for (const call of this.calls(evaluator, next.value, clock)) {
        const t1 = performance.now();
        const result = call();
        clock.forward += performance.now() - t1;
        if (isThenable(result)) {
          throw new TypeError('The evaluator returned a promise from a synchronous step(); use stepAsync() for asynchronous forward models.');
        }
      }
    }
  }

  async stepAsync(evaluator: Evaluator, objective: Objective, options?: StepOptions): Promise<IterationDiagnostics> {
    this.checkAlive();
    this.checkEvaluator(evaluator, objective);
    const clock: Clock = { forward: 0, algebra: 0, start: performance.now() };
    const gen = this.iterate(objective, options);
    for (;;) {
      const t0 = performance.now();
      const next = gen.next();
      clock.algebra += performance.now() - t0;
      if (next.done) return finish(next.value, clock);
      for (const call of this.calls(evaluator, next.value, clock)) {
        const t1 = performance.now();
        const result = call();
        if (isThenable(result)) await result;
        clock.forward += performance.now() - t1;
      }
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.rowsBuf) this.ws.free(this.rowsBuf);
    this.rowsBuf = null;
    this.freeBuffers();
  }
}

function finish(d: IterationDiagnostics, clock: Clock): IterationDiagnostics {
  d.forwardMs = clock.forward;
  d.algebraMs = clock.algebra;
  d.totalMs = performance.now() - clock.start;
  return d;
}

/** The σ schedule of NLB (method.md §2 step 6). */
export class SigmaController {
  private sigma: number;
  constructor(
    private readonly schedule: 'constant' | 'decay' | 'implicit-filtering',
    private readonly sigma0: number,
    private readonly decay: number,
    private readonly shrink: number,
    private readonly grow: number,
    private readonly min: number,
    private readonly max: number,
  ) {
    this.sigma = sigma0;
  }

  /** σ for iteration t. */
  at(t: number): number {
    if (this.schedule === 'decay') return Math.max(this.sigma0 * Math.pow(this.decay, t), this.min);
    return this.sigma;
  }

  /** Records the outcome of an iteration (implicit filtering shrinks on failure, grows on success). */
  update(accepted: boolean): void {
    if (this.schedule !== 'implicit-filtering') return;
    this.sigma = accepted ? Math.min(this.sigma * this.grow, this.max) : this.sigma * this.shrink;
  }

  /** The σ that implicit filtering carries between iterations (σ₀ for the other schedules). */
  get current(): number {
    return this.sigma;
  }

  set current(value: number) {
    this.sigma = value;
  }

  /** Implicit filtering's stop: σ fell below its floor. */
  get belowMin(): boolean {
    return this.schedule === 'implicit-filtering' && this.sigma < this.min;
  }
}

/**
 * Levenberg–Marquardt damping control (method.md §2 step 5). 'factors': α ← α·up after a rejected
 * candidate, α ← α·down after an accepted one. 'gain-ratio' (Nielsen's rule): with
 * ρ = actual / predicted decrease of Φ, α ← α·max(1/3, 1 − (2ρ − 1)³) on acceptance and
 * α ← α·ν, ν ← 2ν on rejection (ν = 2 after every acceptance).
 */
export class Damping {
  value: number;
  private nu = 2;
  constructor(alpha0: number, private readonly mode: 'factors' | 'gain-ratio', private readonly up: number,
    private readonly down: number, private readonly min: number, private readonly max: number) {
    this.value = alpha0;
  }

  // From at least 1e-12, so that α = 0 (an exact Gauss–Newton step) can still grow.
  reject(): void {
    const factor = this.mode === 'gain-ratio' ? this.nu : this.up;
    this.value = Math.min(Math.max(this.value * factor, this.min, 1e-12), this.max);
    if (this.mode === 'gain-ratio') this.nu = Math.min(2 * this.nu, 2 ** 30);
  }

  /** rho: the gain ratio of the accepted candidate (used by 'gain-ratio'). */
  accept(rho: number): void {
    if (this.mode === 'gain-ratio') {
      const f = Number.isFinite(rho) ? Math.max(1 / 3, 1 - (2 * rho - 1) ** 3) : 1;
      this.value = Math.min(Math.max(this.value * f, this.min), this.max);
      this.nu = 2;
      return;
    }
    this.value = Math.max(this.value * this.down, this.min);
  }
}
