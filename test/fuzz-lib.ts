// Helpers of the fault and fuzz suite (test/fuzz.test.ts): a seeded generator of hostile values and
// option objects, the classification of an outcome (result, typed error, raw engine error, hang),
// a timeout race, and a sentinel problem whose θ and buffers must never change while other
// problems on the same module are fuzzed.
import { createHash } from 'node:crypto';
import * as assert from 'uvu/assert';
import {
  KernelError, NotPositiveDefiniteError, OptimizationError, FormatError, MinimizeError, FitError, WorkerError, ModelFileError,
  WorkerAbortError, createAskTell, type AskTell, type EnkfModule, type Workspace, type Buf,
} from '../bindings/internal.js';
import { mulberry32 } from './oracles.js';

/** A seeded source of choices. */
export class Fuzz {
  readonly rand: () => number;
  constructor(seed: number) {
    this.rand = mulberry32(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)];
  }

  /** A hostile value of any kind: negative, NaN, ±Infinity, strings, null, objects, huge, fractional, … */
  garbage(): unknown {
    return this.pick<() => unknown>([
      () => -this.int(1, 5), () => NaN, () => Infinity, () => -Infinity, () => 0, () => -0, () => this.int(1, 40) + 0.5,
      () => 2 ** 31, () => 2 ** 53, () => 1e300, () => Number.MIN_VALUE, () => '3', () => '', () => 'nlb', () => null,
      () => undefined, () => ({}), () => [], () => [1, 2], () => true, () => false, () => () => 1, () => new Float64Array(3),
      () => Symbol('x'), () => 10n, () => new Date(0), () => ({ length: 3 }), () => ({ valueOf: () => 2 }),
    ])();
  }

  /** A plausible value for an option: small positive numbers, probabilities, booleans, names. */
  plausible(): unknown {
    return this.pick<() => unknown>([
      () => this.int(1, 12), () => this.rand(), () => 0.5 + this.rand(), () => this.chance(0.5), () => 'constant',
      () => 'decay', () => 'implicit-filtering', () => 'gain-ratio', () => 'factors', () => 'eki', () => 'nlb',
    ])();
  }

  /** A misspelling of `key` (one edit) or a name no API takes. */
  misspell(key: string): string {
    if (key.length < 2 || this.chance(0.2)) return this.pick(['foo', 'learningRate', 'epoch', 'memberBatch', '__proto__x', 'constructor']);
    const i = this.int(0, key.length - 1);
    const kind = this.int(0, 2);
    if (kind === 0) return key.slice(0, i) + key.slice(i + 1);
    if (kind === 1) {
      const swapped = key.slice(0, i) + (key[i] === key[i].toUpperCase() ? key[i].toLowerCase() : key[i].toUpperCase()) + key.slice(i + 1);
      return swapped === key ? `${key}s` : swapped;
    }
    return key.slice(0, i) + 'x' + key.slice(i);
  }

  /** `base` with a few keys changed: a value replaced (garbage or plausible), a key misspelt, removed or added. */
  mutate(base: Record<string, unknown>, keys: readonly string[], edits = this.int(1, 3)): Record<string, unknown> {
    const o: Record<string, unknown> = { ...base };
    for (let e = 0; e < edits; e++) {
      const key = this.pick(keys);
      const kind = this.int(0, 9);
      if (kind <= 4) o[key] = this.garbage();
      else if (kind <= 6) o[key] = this.plausible();
      else if (kind === 7 && key in o) {
        o[this.misspell(key)] = o[key];
        delete o[key];
      } else if (kind === 8) delete o[key];
      else o[this.misspell(key)] = this.chance(0.5) ? this.plausible() : this.garbage();
    }
    return o;
  }
}

/** Messages of JavaScript engine errors: an API that lets one out did not check its input. */
const RAW = [
  /Cannot read propert/, /Cannot set propert/, /is not a function/, /is not iterable/, /is not a constructor/, /Cannot convert/,
  /undefined is not/, /null is not/, /Cannot destructure/, /Invalid array length/, /Invalid typed array length/,
  /Maximum call stack/, /out of bounds/, /outside the bounds/, /Start offset/, /Array buffer allocation failed/,
  /Cannot create property/, /Cannot mix BigInt/, /Cannot access .* before initialization/, /^\s*$/,
];

/** The package's own error classes (a typed error whatever its message). */
const PACKAGE_ERRORS = [KernelError, NotPositiveDefiniteError, OptimizationError, FormatError, MinimizeError, FitError, WorkerError, WorkerAbortError, ModelFileError];

export type Outcome =
  | { kind: 'result'; value: unknown }
  | { kind: 'typed'; error: Error }
  | { kind: 'raw'; error: unknown }
  | { kind: 'hang' };

/** A typed error: a TypeError/RangeError whose message is the package's own, or a package error class. */
export function isTyped(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  if (PACKAGE_ERRORS.some((c) => e instanceof c)) return e.message.trim().length > 0;
  if (e.constructor !== TypeError && e.constructor !== RangeError) return false;
  return !RAW.some((r) => r.test(e.message));
}

/** Runs `fn` against a timeout: its result, its error (typed or raw), or a hang. */
export async function outcome(fn: () => unknown, ms: number): Promise<Outcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<Outcome>((resolve) => { timer = setTimeout(() => resolve({ kind: 'hang' }), ms); });
  const run = (async (): Promise<Outcome> => {
    try {
      return { kind: 'result', value: await fn() };
    } catch (error) {
      return isTyped(error) ? { kind: 'typed', error } : { kind: 'raw', error };
    }
  })();
  try {
    return await Promise.race([run, hang]);
  } finally {
    clearTimeout(timer);
  }
}

/** Counts of the fuzz suite's outcomes, printed once at the end. */
export const tally = {
  inputs: 0, typed: 0, results: 0, raw: 0, hangs: 0,
  /** Raw errors and hangs not excused: failures of the suite. */
  rawFailures: 0, hangFailures: 0,
  /** Outcomes excused by a listed known defect. */
  knownDefect: 0,
  /** Plain Errors with a clear message where one is the contract (use after dispose, a user's callback error passed through). */
  clearErrors: 0,
};

/** Records an outcome; returns it. */
export function count(o: Outcome): Outcome {
  tally.inputs++;
  if (o.kind === 'result') tally.results++;
  else if (o.kind === 'typed') tally.typed++;
  else if (o.kind === 'raw') tally.raw++;
  else tally.hangs++;
  return o;
}

export function describeOutcome(o: Outcome): string {
  if (o.kind === 'raw') return `raw ${(o.error as Error)?.constructor?.name}: ${(o.error as Error)?.message ?? String(o.error)}`;
  if (o.kind === 'typed') return `${o.error.name}: ${o.error.message}`;
  return o.kind;
}

// Every live buffer of a Workspace (its private set, read for the digest).
function liveBuffers(ws: Workspace): Buf[] {
  return [...(ws as unknown as { live: Set<Buf> }).live];
}

/** SHA-256 of the bytes of every live buffer of `ws` (in allocation order). */
export function workspaceDigest(ws: Workspace): string {
  const h = createHash('sha256');
  for (const b of liveBuffers(ws)) {
    const v = b.view();
    h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  return h.digest('hex');
}

/** A live ask/tell problem on `module`, idle mid-iteration (an ask() pending): nothing may change
 *  its θ or any of its buffers while other problems on the module are fuzzed. */
export class Sentinel {
  private constructor(readonly problem: AskTell, private theta: string, private digest: string) {}

  static async create(module: EnkfModule): Promise<Sentinel> {
    const n = 5;
    const m = 7;
    const y = Float64Array.from({ length: m }, (_, i) => Math.cos(i));
    const problem = await createAskTell({ y, theta0: new Float64Array(n).fill(0.3), ensembleSize: 6, seed: 11, maxIterations: 1000, module });
    // Two iterations, then one ask left pending: every buffer of the problem holds live data.
    const A = (t: Float64Array, k: number) => Float64Array.from({ length: k * m }, (_, i) => t[Math.floor(i / m) * n + (i % n)] * (1 + (i % m)));
    while (problem.history.length < 2) {
      const rows = problem.ask();
      problem.tell(A(rows, rows.length / n));
    }
    problem.ask();
    const s = new Sentinel(problem, '', '');
    [s.theta, s.digest] = s.read();
    return s;
  }

  private read(): [string, string] {
    const theta = Buffer.from(this.problem.theta().buffer).toString('hex');
    return [theta, workspaceDigest((this.problem as unknown as { p: { ws: Workspace } }).p.ws)];
  }

  /** Asserts that θ and every buffer are bit for bit what they were. */
  check(what: string): void {
    const [theta, digest] = this.read();
    if (theta !== this.theta) assert.unreachable(`${what}: the sentinel problem's θ changed`);
    if (digest !== this.digest) assert.unreachable(`${what}: a buffer of the sentinel problem changed`);
  }
}
