// Validation of option objects, shared by the optimizers, minimize / ask-tell and fit: unknown keys
// (with the nearest known name), renamed keys, and typed number / integer / boolean / enum options.
import { checkFiniteNumber, checkInt, checkNumber, describe } from '../errors.js';
import type { EnkfModule } from '../wasm.js';

/** Options that were renamed: the old name → the new one (passing the old name is a TypeError). */
export const RENAMED_OPTIONS: Readonly<Record<string, string>> = Object.freeze({ memberBatch: 'maxMembers' });

// Edit distance of two short strings (insertions, deletions, substitutions), case-insensitive.
function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** The known name closest to `key` (same letters up to case, or at most two edits away), if any. */
export function nearestName(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor(key.length / 3));
  for (const k of known) {
    const d = editDistance(key, k);
    if (d === 0) return k;
    if (d <= bestDistance && (best === undefined || d < bestDistance)) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** The TypeError for an option `key` that `where` does not take: renamed, misspelt, or unknown. */
export function unknownOptionError(where: string, key: string, known: readonly string[]): TypeError {
  const renamed = RENAMED_OPTIONS[key];
  if (renamed !== undefined && known.includes(renamed)) {
    return new TypeError(`Option '${key}' for ${where} was renamed to '${renamed}'; pass ${renamed} instead.`);
  }
  const near = nearestName(key, known);
  const hint = near !== undefined ? ` Did you mean '${near}'?` : ` Known options: ${known.join(', ')}.`;
  return new TypeError(`Unknown option '${key}' for ${where}.${hint}`);
}

/** Throws a TypeError naming the first key of `options` not in `allowed`. */
export function rejectUnknownOptions(where: string, options: object, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw unknownOptionError(where, key, allowed);
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
  for (let i = 0; i < t.length; i++) checkFiniteNumber(`theta0[${i}]`, t[i], 'every initial parameter must be a finite number.');
  return Float64Array.from(t);
}

/** `module` when it is a module from loadModule() (or undefined: the default one is loaded). */
export function checkModuleOption(name: string, module: unknown): EnkfModule | undefined {
  if (module === undefined) return undefined;
  const m = module as Partial<EnkfModule> | null;
  if (!m || typeof m !== 'object' || !(m.memory instanceof WebAssembly.Memory) || !m.exports || typeof m.exports !== 'object' ||
    typeof m.exports.alloc !== 'function' || typeof m.exports.perturb64 !== 'function') {
    throw new TypeError(`${name} must be a module from \`await loadModule()\` (or left out for the default one); got ` +
      `${describe(module)}${m && typeof m === 'object' ? ' without the module\'s WebAssembly memory and kernels' : ''}.`);
  }
  return m as EnkfModule;
}

/** Checks the counters shared by every optimizer state. */
export function checkStateCounters(state: { iteration: unknown; draws: unknown }): void {
  checkInt('state.iteration', state.iteration, 0);
  checkInt('state.draws', state.draws, 0, 0xffffffff);
}
