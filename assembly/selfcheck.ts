// Self-check family: one export with no arguments, so any WebAssembly host (a C program through
// wasm2c, an interpreter, a browser) can confirm that its translation of the module computes
// right before it calls real kernels. Each check is a known-answer computation whose expected
// result is exact (integers, or generator bits pinned by test/selfcheck.test.ts against the
// plain-TS definition of the generator).
import { cholesky, cholSolve } from "./cholesky";
import { sgemm, sgemmWorkBytes } from "./gemm";
import { alloc, free } from "./memory";
import { randn } from "./rng";

// Failure codes of selfCheck (also listed in include/enkf.h).
export const SELF_CHECK_OK: i32 = 0;
export const SELF_CHECK_RNG: i32 = 1; // randn's first values differ from the generator's definition
export const SELF_CHECK_CHOLESKY: i32 = 2; // the factor of a known SPD matrix is wrong
export const SELF_CHECK_SOLVE: i32 = 3; // cholSolve missed the known solution
export const SELF_CHECK_GEMM: i32 = 4; // sgemm differs from a plain triple loop

// ξ(seed 42, draw 0, member 0, index 0…3) as f64 bits; index 2 is a tail draw (|ξ| > 1.97).
const RNG_SEED: u32 = 42;
const RNG_BITS0: u64 = 0x3FD50A2D20000000;
const RNG_BITS1: u64 = 0xBFD4311420000000;
const RNG_BITS2: u64 = 0xC0053C9080000000;
const RNG_BITS3: u64 = 0x3FEC6C13C0000000;

// Returns 0 when every known-answer check passes, else the code of the first that failed.
export function selfCheck(): i32 {
  if (!rngCheck()) return SELF_CHECK_RNG;
  const chol = choleskyCheck();
  if (chol != SELF_CHECK_OK) return chol;
  if (!gemmCheck()) return SELF_CHECK_GEMM;
  return SELF_CHECK_OK;
}

// randn(4, 42, 0, 0, 0) equals the pinned bits.
function rngCheck(): bool {
  const out = alloc(4 << 3);
  randn(4, RNG_SEED, 0, 0, 0, out);
  const ok = load<u64>(out) == RNG_BITS0 && load<u64>(out, 8) == RNG_BITS1 &&
    load<u64>(out, 16) == RNG_BITS2 && load<u64>(out, 24) == RNG_BITS3;
  free(out);
  return ok;
}

// A = L·Lᵀ with L = [[2,0,0,0],[1,3,0,0],[-1,2,4,0],[3,-2,1,5]]; B = A·X with X = [[1,-2],[0,3],
// [2,1],[-1,4]]. Every intermediate is a small integer (the divisions are exact), so the factor
// and the solution must come back exactly. A, L: f64 4×4; X, B: f64 4×2.
function choleskyCheck(): i32 {
  const n = 4;
  const L0 = alloc(n * n << 3);
  const A = alloc(n * n << 3);
  const L = alloc(n * n << 3);
  const X = alloc(n * 2 << 3);
  const B = alloc(n * 2 << 3);
  setRow4(L0, 0, 2, 0, 0, 0);
  setRow4(L0, 1, 1, 3, 0, 0);
  setRow4(L0, 2, -1, 2, 4, 0);
  setRow4(L0, 3, 3, -2, 1, 5);
  setRow2(X, 0, 1, -2);
  setRow2(X, 1, 0, 3);
  setRow2(X, 2, 2, 1);
  setRow2(X, 3, -1, 4);
  // A_ij = Σ_p L_ip·L_jp; B = A·X.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0.0;
      for (let p = 0; p < n; p++) s += at(L0, n, i, p) * at(L0, n, j, p);
      store<f64>(A + (<usize>(i * n + j) << 3), s);
    }
  }
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 2; c++) {
      let s = 0.0;
      for (let p = 0; p < n; p++) s += at(A, n, i, p) * at(X, 2, p, c);
      store<f64>(B + (<usize>(i * 2 + c) << 3), s);
    }
  }
  let code = SELF_CHECK_OK;
  if (cholesky(n, 0.0, A, L) != 0 || !sameF64(n * n, L, L0)) code = SELF_CHECK_CHOLESKY;
  else {
    cholSolve(n, 2, L, B);
    if (!sameF64(n * 2, B, X)) code = SELF_CHECK_SOLVE;
  }
  free(B);
  free(X);
  free(L);
  free(A);
  free(L0);
  return code;
}

// C(5×9) = A(5×7)·B(7×9) with integer entries (exact in f32): sizes off the 4×8 register tile,
// so full tiles and both edge paths run. Compared with a plain triple loop.
function gemmCheck(): bool {
  const M = 5, N = 9, K = 7;
  const A = alloc(M * K << 2);
  const B = alloc(K * N << 2);
  const C = alloc(M * N << 2);
  const work = alloc(sgemmWorkBytes(M, N, K));
  for (let i = 0; i < M * K; i++) store<f32>(A + (<usize>i << 2), <f32>((i * 7) % 11 - 5));
  for (let i = 0; i < K * N; i++) store<f32>(B + (<usize>i << 2), <f32>((i * 5) % 13 - 6));
  sgemm(0, 0, M, N, K, 1.0, A, K, B, N, 0.0, C, N, work);
  let ok = true;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s: f32 = 0;
      for (let p = 0; p < K; p++) s += load<f32>(A + (<usize>(i * K + p) << 2)) * load<f32>(B + (<usize>(p * N + j) << 2));
      if (load<f32>(C + (<usize>(i * N + j) << 2)) != s) ok = false;
    }
  }
  free(work);
  free(C);
  free(B);
  free(A);
  return ok;
}

// Element (i, j) of a row-major f64 matrix with `cols` columns.
// @ts-ignore: decorator
@inline
function at(M: usize, cols: i32, i: i32, j: i32): f64 {
  return load<f64>(M + (<usize>(i * cols + j) << 3));
}

function setRow4(M: usize, i: i32, a: f64, b: f64, c: f64, d: f64): void {
  const r = M + (<usize>(i * 4) << 3);
  store<f64>(r, a);
  store<f64>(r, b, 8);
  store<f64>(r, c, 16);
  store<f64>(r, d, 24);
}

function setRow2(M: usize, i: i32, a: f64, b: f64): void {
  const r = M + (<usize>(i * 2) << 3);
  store<f64>(r, a);
  store<f64>(r, b, 8);
}

// Bitwise equality of n f64 values (−0 and +0 differ: the checks expect exact results).
function sameF64(n: i32, x: usize, y: usize): bool {
  for (let i = 0; i < n; i++) {
    if (load<u64>(x + (<usize>i << 3)) != load<u64>(y + (<usize>i << 3))) return false;
  }
  return true;
}
