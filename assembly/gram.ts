// The Gram block shared by the ensemble algebra (lsq.ts, crossentropy.ts) and the Tikhonov Gram
// of the rng family (drawGram, rng.ts): f64 sums Σ_j x_a(j)·y_b(j) over a column tile, in 4×2
// register blocks. Every sum is (Σ over even j) + (Σ over odd j), both in ascending j — the two
// f64x2 lanes of the SIMD build, which the scalar build reproduces — so every kernel built on it
// gives the same bits in both builds.
//
// The k×k Gram matrices (O(m k²), the expensive part of an iteration) are computed tile by tile
// over columns: each tile of ΔF (and of WΔF) is formed once in the static scratch below, where it
// stays in cache while 4×2 blocks of the upper triangle accumulate over it; the lower triangle is
// copied from the upper one at the end, so A is exactly symmetric.

// Target columns per Gram tile (measured best of 32…256 at k = 32: two 32 KiB tiles, L1/L2).
export const GRAM_TILE: i32 = 128;
// Static scratch of the Gram kernels (their ABI has no work buffer): two k × T tiles. Fixed size,
// so memory never grows; it bounds k·T, hence k ≤ SCRATCH_BYTES/16 and, for ceSystem, k·C.
export const SCRATCH_BYTES: i32 = 1 << 18;
export const SCRATCH: usize = memory.data(SCRATCH_BYTES, 16);
export const MAX_ROWS: i32 = SCRATCH_BYTES >> 4;

// Tile width for k rows: GRAM_TILE, or what fits two k-row tiles in the scratch (≥ 1).
// @ts-ignore: decorator
@inline
export function tileWidth(k: i32): i32 {
  return min(GRAM_TILE, (SCRATCH_BYTES >> 4) / k);
}

// out[a][b] += Σ_{j<len} x_a(j)·y_b(j) for a 4×2 block of rows x0..x3 and y0, y1 (pointers at the
// tile start); rows a < na and columns b < nb are written (out: row stride ldo bytes). Each sum
// is (Σ over even j) + (Σ over odd j), both in ascending j: the two f64x2 lanes, which the scalar
// path reproduces, so both builds give the same bits.
// @ts-ignore: decorator
@inline
export function gramBlock(len: i32, a0: usize, a1: usize, a2: usize, a3: usize, b0: usize, b1: usize,
  out: usize, ldo: usize, na: i32, nb: i32): void {
  let e00: f64 = 0, e01: f64 = 0, e10: f64 = 0, e11: f64 = 0, e20: f64 = 0, e21: f64 = 0, e30: f64 = 0, e31: f64 = 0;
  let o00: f64 = 0, o01: f64 = 0, o10: f64 = 0, o11: f64 = 0, o20: f64 = 0, o21: f64 = 0, o30: f64 = 0, o31: f64 = 0;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    let v00 = f64x2.splat(0), v01 = f64x2.splat(0), v10 = f64x2.splat(0), v11 = f64x2.splat(0);
    let v20 = f64x2.splat(0), v21 = f64x2.splat(0), v30 = f64x2.splat(0), v31 = f64x2.splat(0);
    for (; j + 1 < len; j += 2) {
      const o = <usize>j << 3;
      const y0 = v128.load(b0 + o), y1 = v128.load(b1 + o);
      const x0 = v128.load(a0 + o);
      v00 = f64x2.add(v00, f64x2.mul(x0, y0)); v01 = f64x2.add(v01, f64x2.mul(x0, y1));
      const x1 = v128.load(a1 + o);
      v10 = f64x2.add(v10, f64x2.mul(x1, y0)); v11 = f64x2.add(v11, f64x2.mul(x1, y1));
      const x2 = v128.load(a2 + o);
      v20 = f64x2.add(v20, f64x2.mul(x2, y0)); v21 = f64x2.add(v21, f64x2.mul(x2, y1));
      const x3 = v128.load(a3 + o);
      v30 = f64x2.add(v30, f64x2.mul(x3, y0)); v31 = f64x2.add(v31, f64x2.mul(x3, y1));
    }
    e00 = f64x2.extract_lane(v00, 0); o00 = f64x2.extract_lane(v00, 1);
    e01 = f64x2.extract_lane(v01, 0); o01 = f64x2.extract_lane(v01, 1);
    e10 = f64x2.extract_lane(v10, 0); o10 = f64x2.extract_lane(v10, 1);
    e11 = f64x2.extract_lane(v11, 0); o11 = f64x2.extract_lane(v11, 1);
    e20 = f64x2.extract_lane(v20, 0); o20 = f64x2.extract_lane(v20, 1);
    e21 = f64x2.extract_lane(v21, 0); o21 = f64x2.extract_lane(v21, 1);
    e30 = f64x2.extract_lane(v30, 0); o30 = f64x2.extract_lane(v30, 1);
    e31 = f64x2.extract_lane(v31, 0); o31 = f64x2.extract_lane(v31, 1);
  } else {
    for (; j + 1 < len; j += 2) {
      const o = <usize>j << 3;
      const y0 = load<f64>(b0 + o), y1 = load<f64>(b1 + o), z0 = load<f64>(b0 + o, 8), z1 = load<f64>(b1 + o, 8);
      const x0 = load<f64>(a0 + o), w0 = load<f64>(a0 + o, 8);
      e00 += x0 * y0; e01 += x0 * y1; o00 += w0 * z0; o01 += w0 * z1;
      const x1 = load<f64>(a1 + o), w1 = load<f64>(a1 + o, 8);
      e10 += x1 * y0; e11 += x1 * y1; o10 += w1 * z0; o11 += w1 * z1;
      const x2 = load<f64>(a2 + o), w2 = load<f64>(a2 + o, 8);
      e20 += x2 * y0; e21 += x2 * y1; o20 += w2 * z0; o21 += w2 * z1;
      const x3 = load<f64>(a3 + o), w3 = load<f64>(a3 + o, 8);
      e30 += x3 * y0; e31 += x3 * y1; o30 += w3 * z0; o31 += w3 * z1;
    }
  }
  if (j < len) {
    // The last, even position of an odd-length tile.
    const o = <usize>j << 3;
    const y0 = load<f64>(b0 + o), y1 = load<f64>(b1 + o);
    const x0 = load<f64>(a0 + o), x1 = load<f64>(a1 + o), x2 = load<f64>(a2 + o), x3 = load<f64>(a3 + o);
    e00 += x0 * y0; e01 += x0 * y1; e10 += x1 * y0; e11 += x1 * y1;
    e20 += x2 * y0; e21 += x2 * y1; e30 += x3 * y0; e31 += x3 * y1;
  }
  addAt(out, e00 + o00); if (nb > 1) addAt(out + 8, e01 + o01);
  if (na > 1) { addAt(out + ldo, e10 + o10); if (nb > 1) addAt(out + ldo + 8, e11 + o11); }
  if (na > 2) { addAt(out + 2 * ldo, e20 + o20); if (nb > 1) addAt(out + 2 * ldo + 8, e21 + o21); }
  if (na > 3) { addAt(out + 3 * ldo, e30 + o30); if (nb > 1) addAt(out + 3 * ldo + 8, e31 + o31); }
}

// @ts-ignore: decorator
@inline
export function addAt(p: usize, v: f64): void {
  store<f64>(p, load<f64>(p) + v);
}

// OUT(ka × kb) += X·Yᵀ over one column tile of len values: rows of X start at xa (stride ldx
// bytes), rows of Y at yb (stride ldy bytes). upper: only blocks that touch the upper triangle
// (kb = ka), the rest is filled by symmetrize().
export function tileProducts(len: i32, ka: i32, kb: i32, xa: usize, ldx: usize, yb: usize, ldy: usize,
  upper: bool, out: usize, ldo: usize): void {
  const last = ka - 1;
  for (let a = 0; a < ka; a += 4) {
    // Rows past the end alias the last row: computed, never written (na < 4).
    const p0 = xa + <usize>a * ldx;
    const p1 = xa + <usize>min(a + 1, last) * ldx;
    const p2 = xa + <usize>min(a + 2, last) * ldx;
    const p3 = xa + <usize>min(a + 3, last) * ldx;
    const na = min(4, ka - a);
    for (let b = upper ? a : 0; b < kb; b += 2) {
      const q0 = yb + <usize>b * ldy;
      const q1 = yb + <usize>min(b + 1, kb - 1) * ldy;
      gramBlock(len, p0, p1, p2, p3, q0, q1, out + <usize>a * ldo + (<usize>b << 3), ldo, na, min(2, kb - b));
    }
  }
}

// A(k×k): copies the upper triangle onto the lower one.
export function symmetrize(k: i32, A: usize): void {
  for (let a = 1; a < k; a++) {
    for (let b = 0; b < a; b++) {
      store<f64>(A + ((<usize>a * k + b) << 3), load<f64>(A + ((<usize>b * k + a) << 3)));
    }
  }
}

// p[0, n) ← s·p.
export function scale(n: i32, s: f64, p: usize): void {
  for (let i = 0; i < n; i++) store<f64>(p + (<usize>i << 3), s * load<f64>(p + (<usize>i << 3)));
}
