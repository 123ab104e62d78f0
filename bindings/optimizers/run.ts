// The run core: the one loop that repeats an optimizer's iteration until a stopping rule fires,
// shared by minimize() (with a callback evaluator), ask/tell (request by request) and fit() (with a
// batch feeder and its hooks). It owns the stopping rules (docs/method.md §2.7: budget, tolerance,
// gradient tolerance, patience, the schedules' own stops, callbacks, abort), the history and the
// count of iterations; the optimizer's driver (driver.ts) times each iteration. It yields to the
// event loop every few ms and races pending work against its AbortSignal (abort.ts), so an abort
// stops it within one iteration, also while an evaluation or a callback is pending.
import { intOption, numberOption } from './options.js';
import { IterationAborted, Pacer, YIELD_MS, settleOrAbort } from './abort.js';
import type { EvaluationRequest, Evaluator, IterationDiagnostics, Objective, Optimizer, StepOptions, StopReason } from './types.js';

/** Stopping rules (docs/method.md §2.7), checked after every iteration. */
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

/** The stopping rules' keys (options of minimize / ask-tell; fit takes all but maxIterations). */
export const STOP_KEYS = ['maxIterations', 'tolerance', 'gradientTolerance', 'patience'] as const;

export interface ResolvedStopCriteria {
  maxIterations: number;
  tolerance: number;
  gradientTolerance: number;
  patience: number;
}

/** minimize's defaults; fit's budget is its iterations / epochs and its other rules are off unless given. */
export const STOP_DEFAULTS: Readonly<ResolvedStopCriteria> = Object.freeze({
  maxIterations: 100, tolerance: 0, gradientTolerance: 0, patience: 20,
});

export function resolveStopCriteria(o: StopCriteria, defaults: Readonly<ResolvedStopCriteria> = STOP_DEFAULTS): ResolvedStopCriteria {
  return {
    maxIterations: intOption('maxIterations', o.maxIterations, defaults.maxIterations, 0),
    tolerance: numberOption('tolerance', o.tolerance, defaults.tolerance, 0),
    gradientTolerance: numberOption('gradientTolerance', o.gradientTolerance, defaults.gradientTolerance, 0),
    patience: o.patience === Infinity ? Infinity : intOption('patience', o.patience, defaults.patience, 1),
  };
}

/** Applies the stopping rules to one iteration's diagnostics; tracks the run of failed steps. */
export class Stopper {
  /** Consecutive iterations without an accepted step so far (kept by a resumable run). */
  failures = 0;
  constructor(private readonly c: ResolvedStopCriteria) {}

  /** The reason to stop before running iteration `done` (0-based count of finished ones), if any. */
  budgetExhausted(done: number): StopReason | undefined {
    return done >= this.c.maxIterations ? 'maxIterations' : undefined;
  }

  /** The reason to stop after this iteration, if any; `optimizer`'s schedules may give one. */
  after(d: IterationDiagnostics, optimizer: Pick<Optimizer, 'schedules'>): StopReason | undefined {
    this.failures = d.accepted ? 0 : this.failures + 1;
    if (d.loss <= this.c.tolerance) return 'tolerance';
    if (d.gradientNorm <= this.c.gradientTolerance) return 'gradientTolerance';
    for (const s of optimizer.schedules) {
      const reason = s.stopReason();
      if (reason) return reason;
    }
    if (this.failures >= this.c.patience) return 'stalled';
    return undefined;
  }
}

/** What a hook may return: a reason to stop, false (= 'callback'), or nothing to continue. */
export type HookResult<S extends string> = S | false | void | undefined;

/** The caller's part of a run (fit: the batch feeder, validation, callbacks; minimize: onIteration). */
export interface RunHooks<R extends IterationDiagnostics, S extends string> {
  /** Before each iteration (e.g. loads the next mini-batch); returns the step's options. */
  before?(iteration: number): StepOptions;
  /** After each iteration (already in the history and counted), before the stopping rules; may
   *  extend `record` in place (it is what the history holds). A reason (or false) stops the run. */
  after?(record: R): HookResult<S> | Promise<HookResult<S>>;
  /** The error to throw for an iteration that failed (default: its own error); hooks' errors pass as they are. */
  failed?(error: unknown): unknown;
  /** Puts the optimizer back as it was before an iteration the abort abandoned mid-way (counters
   *  included). Default: the run saves the optimizer's state before each iteration when it has a
   *  signal, and loads it back. */
  restore?(): void;
}

/**
 * One run of an optimizer on an objective: its history, its stop reason, its count of iterations
 * (from `done`, e.g. a resumed run's), and the loop that drives it.
 */
export class Run<R extends IterationDiagnostics = IterationDiagnostics, S extends string = StopReason> {
  readonly history: R[] = [];
  /** Why the run stopped, once it did. */
  reason: StopReason | S | undefined;
  /** The rules; its `failures` count is part of a resumable run's state. */
  readonly stopper: Stopper;

  constructor(readonly optimizer: Optimizer, readonly objective: Objective, criteria: ResolvedStopCriteria,
    /** Iterations done before this run (counted against maxIterations). */
    public done = 0, private readonly signal?: AbortSignal,
    /** drive() yields to the event loop when this many ms passed since its last yield (0: every iteration). */
    private readonly yieldMs = YIELD_MS) {
    this.stopper = new Stopper(criteria);
  }

  /** The reason to stop before the next iteration (abort, then the budget), recorded as the run's. */
  check(): StopReason | S | undefined {
    if (this.reason === undefined) {
      this.reason = this.signal?.aborted ? 'aborted' : this.stopper.budgetExhausted(this.done);
    }
    return this.reason;
  }

  /** Records a finished iteration: into the history, and counted. */
  record(d: R): void {
    this.history.push(d);
    this.done++;
  }

  /** The reason to stop after iteration `d` (a hook's reason first, then the rules), recorded as the run's. */
  stopAfter(d: R, hook?: HookResult<S>): StopReason | S | undefined {
    const rule = this.stopper.after(d, this.optimizer);
    const reason = hook === false ? 'callback' : hook || rule;
    if (reason) this.reason = reason;
    return reason;
  }

  /** Iterations against `evaluator` until a rule stops the run; returns the reason. An error of an
   *  iteration propagates (nothing is recorded for it). Between iterations it yields to the event
   *  loop (timers run); an abort while an evaluation or a hook is pending ends the run at once. */
  async drive(evaluator: Evaluator, hooks: RunHooks<R, S> = {}): Promise<StopReason | S> {
    const signal = this.signal;
    const pacer = new Pacer(this.yieldMs);
    for (;;) {
      const pause = pacer.due();
      if (pause) await pause;
      const stop = this.check();
      if (stop) return stop;
      const options = hooks.before ? hooks.before(this.done) : { newBatch: false };
      const before = signal && !hooks.restore ? this.optimizer.saveState() : undefined;
      let d: R;
      try {
        d = await this.optimizer.stepAsync(evaluator, this.objective, signal ? { ...options, signal } : options) as R;
      } catch (e) {
        // an evaluator that observes the signal itself (the worker pool) rejects with an AbortError
        const aborted = e instanceof IterationAborted || (signal?.aborted && (e as Error)?.name === 'AbortError');
        if (!aborted) throw hooks.failed ? hooks.failed(e) : e;
        // the abandoned iteration leaves no trace: the optimizer is as after the last one
        if (hooks.restore) hooks.restore();
        else this.optimizer.loadState(before!);
        return (this.reason = 'aborted');
      }
      this.record(d);
      let hook: HookResult<S>;
      try {
        hook = hooks.after ? await settleOrAbort(hooks.after(d), signal) : undefined;
      } catch (e) {
        if (!(e instanceof IterationAborted)) throw e;
        return (this.reason = 'aborted');
      }
      const reason = this.stopAfter(d, hook);
      if (reason) return reason;
    }
  }

  /** One iteration as its evaluation requests (ask/tell); returns the diagnostics, timed by `clock`
   *  (forward time = between a request and the next resume). Does not record it. */
  *requests(clock: IterationClock): Generator<EvaluationRequest, IterationDiagnostics, void> {
    const gen = this.optimizer.iterate(this.objective, { newBatch: false });
    for (;;) {
      const t0 = performance.now();
      let next: IteratorResult<EvaluationRequest, IterationDiagnostics>;
      try {
        next = gen.next();
      } finally {
        clock.algebra += performance.now() - t0;
      }
      if (next.done) return clock.finish(next.value);
      const t1 = performance.now();
      yield next.value;
      clock.forward += performance.now() - t1;
    }
  }
}

/** The time accounting of one iteration: forward passes, algebra between them, and the whole. */
export class IterationClock {
  forward = 0;
  algebra = 0;
  readonly start = performance.now();

  /** Writes the times into the iteration's diagnostics. */
  finish(d: IterationDiagnostics): IterationDiagnostics {
    d.forwardMs = this.forward;
    d.algebraMs = this.algebra;
    d.totalMs = performance.now() - this.start;
    return d;
  }
}
