// Plain-TS oracles and test problems for the optimizer suites: a seeded PRNG, dense least squares
// by normal equations, and forward models (linear, Rosenbrock residuals, oscillatory residuals)
// as Evaluators over wasm buffers.
import type { Buf, Evaluator } from '../bindings/internal.js';
import { mulberry32 } from './oracles.js';

export { mulberry32 };

/** Seeded N(0, 1) by Box–Muller over mulberry32. */
export function gaussian(seed: number): () => number {
  const u = mulberry32(seed);
  return () => {
    const u1 = Math.max(u(), 1e-300);
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u());
  };
}

/** A random m × n matrix (row-major) with N(0, 1/m) entries. */
export function randomMatrix(m: number, n: number, seed: number): Float64Array {
  const g = gaussian(seed);
  const A = new Float64Array(m * n);
  const s = 1 / Math.sqrt(m);
  for (let i = 0; i < A.length; i++) A[i] = g() * s;
  return A;
}

/** y = A x for A m × n row-major. */
export function matVec(A: Float64Array, m: number, n: number, x: ArrayLike<number>, out = new Float64Array(m), xOff = 0, outOff = 0): Float64Array {
  for (let i = 0; i < m; i++) {
    let s = 0;
    const row = i * n;
    for (let j = 0; j < n; j++) s += A[row + j] * x[xOff + j];
    out[outOff + i] = s;
  }
  return out;
}

/** Solves the SPD system M x = b (M n × n row-major) by a plain Cholesky factorization. */
export function solveSpd(M: Float64Array, n: number, b: Float64Array): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = M[i * n + j];
      for (let p = 0; p < j; p++) s -= L[i * n + p] * L[j * n + p];
      if (i === j) {
        if (!(s > 0)) throw new Error(`oracle: matrix not SPD at ${i}`);
        L[i * n + i] = Math.sqrt(s);
      } else {
        L[i * n + j] = s / L[j * n + j];
      }
    }
  }
  const x = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    let s = x[i];
    for (let p = 0; p < i; p++) s -= L[i * n + p] * x[p];
    x[i] = s / L[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i];
    for (let p = i + 1; p < n; p++) s -= L[p * n + i] * x[p];
    x[i] = s / L[i * n + i];
  }
  return x;
}

/** θ* = argmin ½‖Aθ − y‖² + (λ/2)‖θ‖² by the normal equations (AᵀA + λI)θ = Aᵀy. */
export function leastSquares(A: Float64Array, m: number, n: number, y: Float64Array, lambda = 0): Float64Array {
  const M = new Float64Array(n * n);
  const b = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let p = 0; p < n; p++) {
      const a = A[row + p];
      if (a === 0) continue;
      b[p] += a * y[i];
      for (let q = 0; q < n; q++) M[p * n + q] += a * A[row + q];
    }
  }
  for (let p = 0; p < n; p++) M[p * n + p] += lambda;
  return solveSpd(M, n, b);
}

/** ‖a − b‖ / ‖b‖. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** An Evaluator from a per-row function f(θ, out) in plain TS. Counts rows evaluated. */
export class RowEvaluator implements Evaluator {
  rowsEvaluated = 0;
  constructor(readonly n: number, readonly m: number, private readonly f: (theta: Float64Array, out: Float64Array) => void) {}
  evaluate(rows: Buf<'f64'>, count: number, out: Buf<'f64'>): void {
    const r = rows.view();
    const o = out.view();
    for (let i = 0; i < count; i++) {
      this.f(r.subarray(i * this.n, (i + 1) * this.n), o.subarray(i * this.m, (i + 1) * this.m));
    }
    this.rowsEvaluated += count;
  }
}

/** F(θ) = Aθ. */
export function linearModel(A: Float64Array, m: number, n: number): RowEvaluator {
  return new RowEvaluator(n, m, (t, o) => { matVec(A, m, n, t, o); });
}

/** Rosenbrock as 2(n − 1) residuals: 10(x_{i+1} − x_i²), 1 − x_i; Φ = ½‖r‖². */
export function rosenbrockResiduals(x: ArrayLike<number>, out: Float64Array): void {
  const n = x.length;
  for (let i = 0; i < n - 1; i++) {
    out[2 * i] = 10 * (x[i + 1] - x[i] * x[i]);
    out[2 * i + 1] = 1 - x[i];
  }
}

/**
 * Φ(x) = ‖x‖² + a Σ(1 − cos(2πωx_i)) written as 2n residuals with Φ = ½‖r‖² exactly:
 * r_i = √2·x_i and r_{n+i} = √(2a(1 − cos(2πωx_i))) = 2√a·|sin(πωx_i)|.
 */
export function oscillatoryResiduals(a: number, omega: number) {
  return (x: ArrayLike<number>, out: Float64Array): void => {
    const n = x.length;
    for (let i = 0; i < n; i++) {
      out[i] = Math.SQRT2 * x[i];
      out[n + i] = 2 * Math.sqrt(a) * Math.abs(Math.sin(Math.PI * omega * x[i]));
    }
  };
}

/** The oscillatory Φ itself and its gradient (analytic). */
export function oscillatory(a: number, omega: number, x: ArrayLike<number>): { phi: number; grad: Float64Array } {
  let phi = 0;
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const w = 2 * Math.PI * omega;
    phi += x[i] * x[i] + a * (1 - Math.cos(w * x[i]));
    grad[i] = 2 * x[i] + a * w * Math.sin(w * x[i]);
  }
  return { phi, grad };
}

export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}
