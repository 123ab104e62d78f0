// cholesky kernel family: the k×k SPD solve of docs/method.md §2.4, (ΔFᵀHΔF + αI) z = −ΔFᵀg,
// in f64. Matrices are row-major n×n; right-hand sides B are n×nrhs row-major.
import { checkArray, checkFactor, checkFinite, checkSize } from "./checks";

// Σ_{p<len} x_p·y_p as (Σ even p + Σ odd p) + the last element of an odd len: the two f64x2
// lanes, which the scalar build reproduces, so both builds give the same bits.
// @ts-ignore: decorator
@inline
function dot(len: i32, x: usize, y: usize): f64 {
  let s = 0.0;
  let p = 0;
  if (ASC_FEATURE_SIMD) {
    let v = f64x2.splat(0);
    for (; p + 1 < len; p += 2) {
      const o = <usize>p << 3;
      v = f64x2.add(v, f64x2.mul(v128.load(x + o), v128.load(y + o)));
    }
    s = f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
  } else {
    let e = 0.0, d = 0.0;
    for (; p + 1 < len; p += 2) {
      const o = <usize>p << 3;
      e += load<f64>(x + o) * load<f64>(y + o);
      d += load<f64>(x + o, 8) * load<f64>(y + o, 8);
    }
    s = e + d;
  }
  for (; p < len; p++) s += load<f64>(x + (<usize>p << 3)) * load<f64>(y + (<usize>p << 3));
  return s;
}

// L = chol(A + shift·I): lower triangle, upper zeroed; reads only the lower triangle of A.
// Row by row (Cholesky–Banachiewicz): L_ij = (A_ij − L_i·L_j over p < j)/L_jj, so A_ij is read
// just before L_ij is written and A and L may alias. Returns 0, or p + 1 when pivot p is not
// positive (or NaN); then L is partial and must not be used. A, L: n×n.
export function cholesky(n: i32, shift: f64, A: usize, L: usize): i32 {
  checkSize(n, "cholesky", "n");
  checkFinite(shift, "cholesky", "shift");
  checkArray(A, <u64>n * <u64>n, 8, "cholesky", "A");
  checkArray(L, <u64>n * <u64>n, 8, "cholesky", "L");
  const ld = <usize>n << 3;
  for (let i = 0; i < n; i++) {
    const ai = A + <usize>i * ld;
    const li = L + <usize>i * ld;
    for (let j = 0; j < i; j++) {
      const lj = L + <usize>j * ld;
      const v = (load<f64>(ai + (<usize>j << 3)) - dot(j, li, lj)) / load<f64>(lj + (<usize>j << 3));
      store<f64>(li + (<usize>j << 3), v);
    }
    const d = load<f64>(ai + (<usize>i << 3)) + shift - dot(i, li, li);
    if (!(d > 0)) return i + 1;
    store<f64>(li + (<usize>i << 3), Math.sqrt(d));
    for (let j = i + 1; j < n; j++) store<f64>(li + (<usize>j << 3), 0.0);
  }
  return 0;
}

// B(n×nrhs) ← (L·Lᵀ)⁻¹·B in place: forward substitution L Y = B, then back substitution Lᵀ X = Y,
// both on whole rows of B. L: n×n lower (as from cholesky); B: n×nrhs.
export function cholSolve(n: i32, nrhs: i32, L: usize, B: usize): void {
  checkSize(n, "cholSolve", "n");
  checkSize(nrhs, "cholSolve", "nrhs");
  checkArray(L, <u64>n * <u64>n, 8, "cholSolve", "L");
  checkArray(B, <u64>n * <u64>nrhs, 8, "cholSolve", "B");
  const ld = <usize>n << 3;
  const ldb = <usize>nrhs << 3;
  checkFactor(n, L, "cholSolve");
  for (let i = 0; i < n; i++) {
    const bi = B + <usize>i * ldb;
    for (let p = 0; p < i; p++) rowAxpy(nrhs, -load<f64>(L + <usize>i * ld + (<usize>p << 3)), B + <usize>p * ldb, bi);
    rowDiv(nrhs, load<f64>(L + <usize>i * ld + (<usize>i << 3)), bi);
  }
  for (let i = n - 1; i >= 0; i--) {
    const bi = B + <usize>i * ldb;
    for (let p = i + 1; p < n; p++) rowAxpy(nrhs, -load<f64>(L + <usize>p * ld + (<usize>i << 3)), B + <usize>p * ldb, bi);
    rowDiv(nrhs, load<f64>(L + <usize>i * ld + (<usize>i << 3)), bi);
  }
}

// y[0, len) += a·x.
// @ts-ignore: decorator
@inline
function rowAxpy(len: i32, a: f64, x: usize, y: usize): void {
  for (let q = 0; q < len; q++) {
    const o = <usize>q << 3;
    store<f64>(y + o, load<f64>(y + o) + a * load<f64>(x + o));
  }
}

// y[0, len) ← y / d (a division, not a reciprocal product: one rounding per element).
// @ts-ignore: decorator
@inline
function rowDiv(len: i32, d: f64, y: usize): void {
  for (let q = 0; q < len; q++) store<f64>(y + (<usize>q << 3), load<f64>(y + (<usize>q << 3)) / d);
}
