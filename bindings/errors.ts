// Typed errors raised at the TypeScript boundary. Every message says what was expected, what
// came, and what to do.

/** A kernel inside WebAssembly called `abort`: carries the kernel's message and source location. */
export class KernelError extends Error {
  readonly kernelMessage: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  constructor(message: string, file: string, line: number, column: number) {
    super(`WebAssembly kernel aborted: ${message} (at ${file}:${line}:${column})`);
    this.name = 'KernelError';
    this.kernelMessage = message;
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** A k×k ensemble-space matrix that should be symmetric positive definite is not. */
export class NotPositiveDefiniteError extends Error {
  readonly pivot: number;
  constructor(what: string, pivot: number) {
    super(`${what} is not positive definite: Cholesky failed at pivot ${pivot}. ` +
      'Increase the damping (alpha) or check the ensemble outputs for duplicates.');
    this.name = 'NotPositiveDefiniteError';
    this.pivot = pivot;
  }
}

/** An optimization could not continue (e.g. every member failed); θ stays at its last good value. */
export class OptimizationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptimizationError';
  }
}

/** A saved model or optimizer state could not be read. */
export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

/** Throws a RangeError unless `value` is an integer in [min, max]. */
export function checkInt(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in [${min}, ${max}]`;
    throw new RangeError(`${name} must be ${range}; got ${describe(value)}.`);
  }
  return value;
}

/** Throws a RangeError unless `value` is a finite number in [min, max]. */
export function checkNumber(name: string, value: unknown, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(`${name} must be a finite number in [${min}, ${max}]; got ${describe(value)}.`);
  }
  return value;
}

/** `value` when it is a finite number; else a TypeError for a non-number ("name must be a number;
 *  got string "1"") or a RangeError for NaN/±Infinity ("name is NaN; <advice>"). */
export function checkFiniteNumber(name: string, value: unknown, advice: string): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number; got ${describeTyped(value)}. ${advice}`);
  if (!Number.isFinite(value)) throw new RangeError(`${name} is ${value}; ${advice}`);
  return value;
}

/** A value with its type for error messages: string "1", boolean true, undefined, object, … */
export function describeTyped(value: unknown): string {
  if (typeof value === 'string') return `string ${describe(value)}`;
  if (typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  return describe(value);
}

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<number>).length})`;
  if (Array.isArray(value)) return `Array(${value.length})`;
  return typeof value;
}
