// cholesky kernel family: the k×k SPD solve of method.md §2 step 4, (ΔFᵀHΔF + αI) z = −ΔFᵀg,
// in f64. Matrices are row-major n×n; right-hand sides B are n×nrhs row-major.
import { checkPtr, checkDim } from "./util";

// Aborts unless `count` f64 at ptr lie in memory, 8-aligned.
// @ts-ignore: decorator
@inline
function checkF64(ptr: usize, count: u64, what: string): void {
  const bytes = count << 3;
  if (bytes > <u64>0xFFFFFFFF) abort(what + ": buffer out of bounds");
  checkPtr(ptr, <usize>bytes, 8, what);
}

// Σ_{p<len} x_p·y_p.
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
  }
  for (; p < len; p++) s += load<f64>(x + (<usize>p << 3)) * load<f64>(y + (<usize>p << 3));
  return s;
}

// L = chol(A + shift·I): lower triangle, upper zeroed; reads only the lower triangle of A.
// Row by row (Cholesky–Banachiewicz): L_ij = (A_ij − L_i·L_j over p < j)/L_jj, so A_ij is read
// just before L_ij is written and A and L may alias. Returns 0, or p + 1 when pivot p is not
// positive (or NaN); then L is partial and must not be used. A, L: n×n.
export function cholesky(n: i32, shift: f64, A: usize, L: usize): i32 {
  checkDim(n, "cholesky: n");
  if (!isFinite(shift)) abort("cholesky: shift must be finite");
  checkF64(A, <u64>n * <u64>n, "cholesky: A");
  checkF64(L, <u64>n * <u64>n, "cholesky: L");
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
  checkDim(n, "cholSolve: n");
  checkDim(nrhs, "cholSolve: nrhs");
  checkF64(L, <u64>n * <u64>n, "cholSolve: L");
  checkF64(B, <u64>n * <u64>nrhs, "cholSolve: B");
  const ld = <usize>n << 3;
  const ldb = <usize>nrhs << 3;
  for (let i = 0; i < n; i++) {
    if (!(load<f64>(L + <usize>i * ld + (<usize>i << 3)) > 0)) {
      abort("cholSolve: L[" + i.toString() + "][" + i.toString() + "] is not positive; pass a factor from a successful cholesky()");
    }
  }
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
