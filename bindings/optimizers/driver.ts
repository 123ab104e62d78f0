// The generic driver shared by every optimizer: the dispatch of one iteration's evaluation
// requests to an evaluator (sync or async, split into calls by bindings/optimizers/chunking.ts),
// timing of forward passes vs algebra, materialized members for evaluators without a fast path,
// and the compaction of failed members. An optimizer only implements `iterate` (one update step as
// a generator of requests); the run loop and its stopping rules are in run.ts.
import { Buf, type Workspace } from '../workspace.js';
import { checkInt, describe } from '../errors.js';
import type {
  Evaluator, EvaluationRequest, IterationDiagnostics, Objective, Optimizer, OptimizerState, PerturbedRequest, StepOptions,
} from './types.js';
import type { Schedule } from './schedules.js';
import { memberCalls, wholePairs } from './chunking.js';
import { intOption } from './options.js';
import { IterationClock } from './run.js';
import { settleOrAbort } from './abort.js';

// The stopping rules moved to run.ts; re-exported for the package entry.
export { Stopper, resolveStopCriteria, type StopCriteria } from './run.js';

/** Bytes of f64 member rows materialized at once when no maxMembers is given (8 MiB). */
export const DEFAULT_ROW_BYTES = 8 * 1024 * 1024;

/** A view of `length` elements of `buf` starting at element `start` (not owned; never freed). */
export function subBuf<D extends 'f64' | 'f32' | 'i32'>(ws: Workspace, buf: Buf<D>, start: number, length: number): Buf<D> {
  return new Buf(ws, buf.byteOffset(start), length, buf.dtype);
}

/** Members that survived an evaluation: indices of finite rows, moved to the front of F. */
export interface Survivors {
  count: number;
  /** index[s] = original row of survivor s. */
  index: Int32Array;
}

/**
 * Moves the rows of F (k × m, f64) that are entirely finite to the front, keeping their order: a
 * member with NaN/Inf outputs is dropped for the iteration. The test is the exact finiteRows
 * kernel (a huge but finite row is kept; if it overflows the k×k system, the optimizer reports
 * that with its own error). finite: i32 k scratch (1 = row i is finite).
 */
export function compactFinite(ws: Workspace, F: Buf<'f64'>, k: number, m: number, finite: Buf<'i32'>,
  index: Int32Array): Survivors {
  ws.raw.finiteRows(k, m, F.ptr, finite.ptr);
  const flags = finite.view();
  let count = 0;
  for (let i = 0; i < k; i++) {
    if (flags[i] !== 1) continue;
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

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && typeof x === 'object' && typeof (x as PromiseLike<unknown>).then === 'function';
}

/**
 * Runs the evaluator calls of one iteration (`calls` yields them as thunks and returns the
 * diagnostics). Synchronous while every call returns synchronously; the first promise switches to
 * asynchronous continuation, or throws a TypeError when `sync` (step() with an async evaluator).
 * A pending call is raced against `signal`: when it fires first, the iteration is abandoned
 * (IterationAborted) and nothing continues it, whenever the call settles.
 */
function drive(calls: Generator<() => unknown, IterationDiagnostics, void>, clock: IterationClock,
  sync: boolean, signal: AbortSignal | undefined): IterationDiagnostics | Promise<IterationDiagnostics> {
  for (;;) {
    const next = calls.next();
    if (next.done) return next.value;
    const t1 = performance.now();
    const result = next.value();
    if (isThenable(result)) {
      if (sync) {
        throw new TypeError('The evaluator returned a promise from a synchronous step(); use stepAsync() for asynchronous forward models.');
      }
      return settleOrAbort(result, signal).then(() => {
        clock.forward += performance.now() - t1;
        return drive(calls, clock, sync, signal);
      });
    }
    clock.forward += performance.now() - t1;
  }
}

/**
 * Base of every optimizer: turns `iterate` (a generator of evaluation requests) into sync and
 * async steps against an Evaluator, materializing members in calls of `maxMembers` rows when the
 * evaluator has no fast path.
 */
export abstract class OptimizerBase implements Optimizer {
  abstract readonly kind: string;
  readonly n: number;
  protected readonly ws: Workspace;
  /** Rows per forward call when members are materialized (memory: maxMembers × n f64). */
  readonly maxMembers: number;
  private rowsBuf: Buf<'f64'> | null = null;
  protected disposed = false;

  /** rowsPerIteration: the most rows one request asks for (the default maxMembers when they fit in 8 MiB). */
  constructor(ws: Workspace, n: number, maxMembers: number | undefined, rowsPerIteration: number) {
    this.ws = ws;
    this.n = n;
    const auto = Math.max(1, Math.min(rowsPerIteration, Math.floor(DEFAULT_ROW_BYTES / (8 * n))));
    this.maxMembers = intOption('maxMembers', maxMembers, auto, 1);
  }

  abstract readonly iteration: number;
  abstract readonly schedules: readonly Schedule[];
  /** No regularization term unless the process has one. */
  get penalty(): number {
    return 0;
  }

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
  protected abstract freeBuffers(): void;

  /** Throws before any memory is touched once this optimizer (or its Workspace) was disposed;
   *  also called when an iteration resumes after an evaluation, which may outlive it. */
  protected checkAlive(): void {
    if (this.disposed || this.ws.disposed) {
      throw new Error(`This ${this.kind} optimizer ${this.disposed ? 'was disposed' : "lives in a Workspace that was disposed"}; ` +
        'create a new one (its buffers were given back).');
    }
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
    if (evaluator.maxMembers !== undefined) checkInt('evaluator.maxMembers', evaluator.maxMembers, 1);
    this.checkObjective(objective, evaluator.m);
  }

  /** Rows buffer of `maxMembers × n` f64 for materialized members (allocated on first use). */
  protected memberRows(): Buf<'f64'> {
    if (!this.rowsBuf) this.rowsBuf = this.ws.f64(this.maxMembers * this.n);
    return this.rowsBuf;
  }

  /**
   * Fills `dst` (requestRows(req) × n, a JS array) with the rows of a request: explicit rows are
   * copied, θ (when the request carries the center) then the perturbed members are generated chunk
   * by chunk (E is never stored whole in wasm memory).
   */
  materialize(req: EvaluationRequest, dst: Float64Array): void {
    this.checkAlive();
    const n = this.n;
    if (req.kind === 'rows') {
      dst.set(req.rows.view().subarray(0, req.count * n));
      return;
    }
    const first = req.center ? 1 : 0;
    if (req.center) dst.set(req.theta.view().subarray(0, n));
    const rows = this.memberRows();
    const chunk = wholePairs(this.maxMembers, req.antithetic);
    for (let c = 0; c < req.count; c += chunk) {
      const cb = Math.min(chunk, req.count - c);
      this.generateMembers(req, cb, req.member0 + c, rows.ptr);
      dst.set(rows.view().subarray(0, cb * n), (first + c) * n);
    }
  }

  /** dst (f64 count × n) = the Gaussian members member0 … of `req` (a process with other directions overrides it). */
  protected generateMembers(req: PerturbedRequest, count: number, member0: number, dst: number): void {
    this.ws.raw.perturb64(count, this.n, req.sigma, req.seed, req.draw, member0, req.antithetic ? 1 : 0, req.theta.ptr, dst);
  }

  // The evaluator calls of one iteration, as thunks (a call returns a promise when async); returns
  // the diagnostics. Algebra time is the generator's, forward time the calls' (timed by drive).
  private *calls(evaluator: Evaluator, objective: Objective, options: StepOptions | undefined,
    clock: IterationClock): Generator<() => unknown, IterationDiagnostics, void> {
    const gen = this.iterate(objective, options);
    for (;;) {
      const t0 = performance.now();
      const next = gen.next();
      clock.algebra += performance.now() - t0;
      if (next.done) return clock.finish(next.value);
      yield* this.requestCalls(evaluator, next.value, clock);
    }
  }

  // The calls that fulfil one request, at most maxMembers rows each (chunking.ts); θ alone (a
  // sub-request of count 0) goes to evaluate().
  private *requestCalls(evaluator: Evaluator, req: EvaluationRequest, clock: IterationClock): Generator<() => unknown, void, void> {
    const m = evaluator.m;
    const n = this.n;
    const maxMembers = evaluator.maxMembers ?? Infinity;
    if (req.kind === 'rows') {
      const chunk = Math.min(maxMembers, this.maxMembers);
      for (let c = 0; c < req.count; c += chunk) {
        this.checkAlive();
        const cb = Math.min(chunk, req.count - c);
        const rows = c === 0 && cb === req.count ? req.rows : subBuf(this.ws, req.rows, c * n, cb * n);
        const out = subBuf(this.ws, req.out, c * m, cb * m);
        yield () => evaluator.evaluate(rows, cb, out);
      }
      return;
    }
    const fast = typeof evaluator.evaluatePerturbed === 'function';
    for (const { request, row } of memberCalls(req, fast ? maxMembers : Math.min(maxMembers, this.maxMembers))) {
      // an earlier call of this iteration may have outlived the optimizer
      this.checkAlive();
      const rowsOut = request.count + (request.center ? 1 : 0);
      const out = subBuf(this.ws, req.out, row * m, rowsOut * m);
      if (request.count === 0) {
        yield () => evaluator.evaluate(req.theta, 1, out);
      } else if (fast) {
        yield () => evaluator.evaluatePerturbed!(request, out);
      } else {
        const rows = this.memberRows();
        const t0 = performance.now();
        if (request.center) rows.view().set(req.theta.view().subarray(0, n));
        // docs/method.md §2.2: members θ + σ s_i ξ_{q_i}, regenerated from (seed, draw, member)
        this.generateMembers(req, request.count, request.member0, rows.byteOffset(request.center ? n : 0));
        clock.algebra += performance.now() - t0;
        const rowView = rowsOut === this.maxMembers ? rows : subBuf(this.ws, rows, 0, rowsOut * n);
        yield () => evaluator.evaluate(rowView, rowsOut, out);
      }
    }
  }

  // One iteration against an evaluator; sync: a promise from the evaluator is a TypeError.
  private run(evaluator: Evaluator, objective: Objective, options: StepOptions | undefined,
    sync: boolean): IterationDiagnostics | Promise<IterationDiagnostics> {
    this.checkAlive();
    this.checkEvaluator(evaluator, objective);
    const clock = new IterationClock();
    return drive(this.calls(evaluator, objective, options, clock), clock, sync, options?.signal);
  }

  step(evaluator: Evaluator, objective: Objective, options?: StepOptions): IterationDiagnostics {
    return this.run(evaluator, objective, options, true) as IterationDiagnostics;
  }

  async stepAsync(evaluator: Evaluator, objective: Objective, options?: StepOptions): Promise<IterationDiagnostics> {
    return this.run(evaluator, objective, options, false);
  }

  /** Gives the buffers back; later calls throw. Idempotent; after its Workspace's dispose (which
   *  already gave everything back) it only marks the optimizer disposed. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.ws.disposed) return;
    if (this.rowsBuf) this.ws.free(this.rowsBuf);
    this.rowsBuf = null;
    this.freeBuffers();
  }
}
