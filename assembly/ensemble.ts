// ensemble kernel family: the ensemble-space algebra of one NLB / EKI iteration (method.md §2
// step 4, §3). Every array is f64 and row-major, labels are i32; a k×m matrix holds k member rows
// of m contiguous values. ΔF_i = F_i − c (c = F_0, the centre's outputs); W = diag(w) when the
// pointer w ≠ 0, else wScalar·I (Γ⁻¹ of method.md §1). All sums accumulate in f64. Outputs must
// not overlap inputs (except Θ, updated in place by ekiUpdate).
//
// The k×k Gram matrices (O(m k²), the expensive part) are computed tile by tile over columns:
// each tile of ΔF (and of WΔF) is formed once in a static scratch area, where it stays in cache
// while 4×2 register blocks of the upper triangle accumulate over it; the lower triangle is copied
// from the upper one at the end, so A is exactly symmetric. Differences and weights are applied
// while the tile is formed, so the block kernel is pure multiply-adds on 14 live registers.
import { checkPtr, checkDim } from "./util";

// Target columns per Gram tile (measured best of 32…256 at k = 32: two 32 KiB tiles, L1/L2).
const GRAM_TILE: i32 = 128;
// Columns per tile of ekiUpdate; its ABI work size, n + J·256, is built on this value.
const ROW_TILE: i32 = 256;
// Static scratch of the Gram kernels (their ABI has no work buffer): two k × T tiles. Fixed size,
// so memory never grows; it bounds k·T, hence k ≤ SCRATCH_BYTES/16 and, for ceSystem, k·C.
const SCRATCH_BYTES: i32 = 1 << 18;
const SCRATCH: usize = memory.data(SCRATCH_BYTES, 16);
const MAX_ROWS: i32 = SCRATCH_BYTES >> 4;

// Tile width for k rows: GRAM_TILE, or what fits two k-row tiles in the scratch (≥ 1).
// @ts-ignore: decorator
@inline
function tileWidth(k: i32): i32 {
  return min(GRAM_TILE, (SCRATCH_BYTES >> 4) / k);
}

// Aborts unless `count` elements of `elem` bytes at ptr lie in memory, `elem`-aligned.
// @ts-ignore: decorator
@inline
function checkBuf(ptr: usize, count: u64, elem: u32, what: string): void {
  const bytes = count * <u64>elem;
  if (bytes > <u64>0xFFFFFFFF) abort(what + ": buffer out of bounds");
  checkPtr(ptr, <usize>bytes, <usize>elem, what);
}

// Aborts unless the scalar weight is finite and ≥ 0 (it is Γ⁻¹ = 1/γ²).
// @ts-ignore: decorator
@inline
function checkWeight(w: usize, wScalar: f64, what: string): void {
  if (w == 0 && !(isFinite(wScalar) && wScalar >= 0)) abort(what + ": wScalar must be finite and ≥ 0 when w = 0");
}

// Aborts unless every label is a class id in [0, C).
function checkLabels(B: i32, C: i32, labels: usize, what: string): void {
  for (let b = 0; b < B; b++) {
    const l = load<i32>(labels + (<usize>b << 2));
    if (l < 0 || l >= C) {
      abort(what + ": labels[" + b.toString() + "] = " + l.toString() + " is outside [0, C = " + C.toString() +
        "); labels must be class ids");
    }
  }
}

// out[a][b] += Σ_{j<len} x_a(j)·y_b(j) for a 4×2 block of rows x0..x3 and y0, y1 (pointers at the
// tile start). Only rows a < na and columns b < nb are written (out: row stride ldo bytes).
// @ts-ignore: decorator
@inline
function block42(len: i32, a0: usize, a1: usize, a2: usize, a3: usize, b0: usize, b1: usize,
  out: usize, ldo: usize, na: i32, nb: i32): void {
  let s00: f64 = 0, s01: f64 = 0, s10: f64 = 0, s11: f64 = 0;
  let s20: f64 = 0, s21: f64 = 0, s30: f64 = 0, s31: f64 = 0;
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
    s00 = f64x2.extract_lane(v00, 0) + f64x2.extract_lane(v00, 1);
    s01 = f64x2.extract_lane(v01, 0) + f64x2.extract_lane(v01, 1);
    s10 = f64x2.extract_lane(v10, 0) + f64x2.extract_lane(v10, 1);
    s11 = f64x2.extract_lane(v11, 0) + f64x2.extract_lane(v11, 1);
    s20 = f64x2.extract_lane(v20, 0) + f64x2.extract_lane(v20, 1);
    s21 = f64x2.extract_lane(v21, 0) + f64x2.extract_lane(v21, 1);
    s30 = f64x2.extract_lane(v30, 0) + f64x2.extract_lane(v30, 1);
    s31 = f64x2.extract_lane(v31, 0) + f64x2.extract_lane(v31, 1);
  }
  for (; j < len; j++) {
    const o = <usize>j << 3;
    const y0 = load<f64>(b0 + o), y1 = load<f64>(b1 + o);
    const x0 = load<f64>(a0 + o), x1 = load<f64>(a1 + o), x2 = load<f64>(a2 + o), x3 = load<f64>(a3 + o);
    s00 += x0 * y0; s01 += x0 * y1; s10 += x1 * y0; s11 += x1 * y1;
    s20 += x2 * y0; s21 += x2 * y1; s30 += x3 * y0; s31 += x3 * y1;
  }
  addOut(out, s00); if (nb > 1) addOut(out + 8, s01);
  if (na > 1) { addOut(out + ldo, s10); if (nb > 1) addOut(out + ldo + 8, s11); }
  if (na > 2) { addOut(out + 2 * ldo, s20); if (nb > 1) addOut(out + 2 * ldo + 8, s21); }
  if (na > 3) { addOut(out + 3 * ldo, s30); if (nb > 1) addOut(out + 3 * ldo + 8, s31); }
}

// @ts-ignore: decorator
@inline
function addOut(p: usize, v: f64): void {
  store<f64>(p, load<f64>(p) + v);
}

// OUT(ka × kb) += X·Yᵀ over one column tile of len values: rows of X start at xa (stride ldx
// bytes), rows of Y at yb (stride ldy bytes). upper: only blocks that touch the upper triangle
// (kb = ka), the rest is filled by symmetrize().
function tileProducts(len: i32, ka: i32, kb: i32, xa: usize, ldx: usize, yb: usize, ldy: usize,
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
      block42(len, p0, p1, p2, p3, q0, q1, out + <usize>a * ldo + (<usize>b << 3), ldo, na, min(2, kb - b));
    }
  }
}

// A(k×k): copies the upper triangle onto the lower one.
function symmetrize(k: i32, A: usize): void {
  for (let a = 1; a < k; a++) {
    for (let b = 0; b < a; b++) {
      store<f64>(A + ((<usize>a * k + b) << 3), load<f64>(A + ((<usize>b * k + a) << 3)));
    }
  }
}

// p[0, n) ← s·p.
function scale(n: i32, s: f64, p: usize): void {
  for (let i = 0; i < n; i++) store<f64>(p + (<usize>i << 3), s * load<f64>(p + (<usize>i << 3)));
}

// out(m) = (1/k)·Σ_i F_i. F: k×m; out: m.
export function meanRows(k: i32, m: i32, F: usize, out: usize): void {
  checkDim(k, "meanRows: k");
  checkDim(m, "meanRows: m");
  checkBuf(F, <u64>k * <u64>m, 8, "meanRows: F");
  checkBuf(out, <u64>m, 8, "meanRows: out");
  meanOf(k, m, F, <usize>m << 3, out);
}

// out(n) = (Σ_i X_i)/k for X: k rows of n, rowBytes apart, summed in ascending i (shared by
// meanRows and ekiUpdate).
function meanOf(k: i32, n: i32, X: usize, rowBytes: usize, out: usize): void {
  sumRows(k, n, X, rowBytes, out);
  const kf = <f64>k;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const kv = f64x2.splat(kf);
    for (; j + 1 < n; j += 2) v128.store(out + (<usize>j << 3), f64x2.div(v128.load(out + (<usize>j << 3)), kv));
  }
  for (; j < n; j++) store<f64>(out + (<usize>j << 3), load<f64>(out + (<usize>j << 3)) / kf);
}

// out(n) = Σ_i X_i for X: k rows of n, rowBytes apart, accumulated in ascending i.
function sumRows(k: i32, n: i32, X: usize, rowBytes: usize, out: usize): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    // Eight columns (one cache line of each row) per pass over the rows.
    for (; j + 7 < n; j += 8) {
      const o = <usize>j << 3;
      let s0 = v128.load(X + o), s1 = v128.load(X + o, 16), s2 = v128.load(X + o, 32), s3 = v128.load(X + o, 48);
      for (let i = 1; i < k; i++) {
        const row = X + <usize>i * rowBytes + o;
        s0 = f64x2.add(s0, v128.load(row));
        s1 = f64x2.add(s1, v128.load(row, 16));
        s2 = f64x2.add(s2, v128.load(row, 32));
        s3 = f64x2.add(s3, v128.load(row, 48));
      }
      v128.store(out + o, s0);
      v128.store(out + o, s1, 16);
      v128.store(out + o, s2, 32);
      v128.store(out + o, s3, 48);
    }
  }
  for (; j < n; j++) {
    const o = <usize>j << 3;
    let s = load<f64>(X + o);
    for (let i = 1; i < k; i++) s += load<f64>(X + <usize>i * rowBytes + o);
    store<f64>(out + o, s);
  }
}

// A(k×k) = ΔFᵀWΔF, r(k) = ΔFᵀW(y − c); returns ½(y − c)ᵀW(y − c) (method.md §2 step 4, least
// squares). One pass over F: each column tile is read from memory once for A, r and the loss.
// F: k×m; c, y, w (or 0): m; A: k×k; r: k. k ≤ 16384 (the scratch holds two k-row tiles).
export function lsSystem(k: i32, m: i32, wScalar: f64, F: usize, c: usize, w: usize, y: usize,
  A: usize, r: usize): f64 {
  checkDim(k, "lsSystem: k");
  checkDim(m, "lsSystem: m");
  if (k > MAX_ROWS) abort("lsSystem: k must be ≤ 16384 (Gram tile scratch); split the ensemble");
  checkWeight(w, wScalar, "lsSystem");
  checkBuf(F, <u64>k * <u64>m, 8, "lsSystem: F");
  checkBuf(c, <u64>m, 8, "lsSystem: c");
  if (w != 0) checkBuf(w, <u64>m, 8, "lsSystem: w");
  checkBuf(y, <u64>m, 8, "lsSystem: y");
  checkBuf(A, <u64>k * <u64>k, 8, "lsSystem: A");
  checkBuf(r, <u64>k, 8, "lsSystem: r");
  memory.fill(A, 0, (<usize>k * k) << 3);
  memory.fill(r, 0, <usize>k << 3);
  const T = tileWidth(k);
  const ldT = <usize>T << 3;
  const D = SCRATCH; // ΔF tile: k × T
  const WD = SCRATCH + <usize>k * ldT; // WΔF tile: k × T
  const ld = <usize>m << 3;
  const ldA = <usize>k << 3;
  let loss = 0.0;
  for (let j0 = 0; j0 < m; j0 += T) {
    const len = min(T, m - j0);
    const o = <usize>j0 << 3;
    if (w != 0) {
      loss += formTile(len, k, F + o, ld, c + o, w + o, y + o, D, WD, ldT, r, true, true);
      tileProducts(len, k, k, WD, ldT, D, ldT, true, A, ldA);
    } else {
      loss += formTile(len, k, F + o, ld, c + o, 0, y + o, D, 0, ldT, r, false, true);
      tileProducts(len, k, k, D, ldT, D, ldT, true, A, ldA);
    }
  }
  symmetrize(k, A);
  if (w == 0) {
    scale(k * k, wScalar, A);
    scale(k, wScalar, r);
    loss *= wScalar;
  }
  return 0.5 * loss;
}

// One column tile of len values: D_i = F_i − c and, when weighted, WD_i = w∘D_i (rows of stride
// ldT bytes); when withR, r_i += D_i·ω(y − c) and the return is Σ_j ω_j (y_j − c_j)² (ω = w or 1).
// @ts-ignore: decorator
@inline
function formTile(len: i32, k: i32, F: usize, ld: usize, c: usize, w: usize, y: usize,
  D: usize, WD: usize, ldT: usize, r: usize, weighted: bool, withR: bool): f64 {
  for (let i = 0; i < k; i++) {
    const row = F + <usize>i * ld;
    const d = D + <usize>i * ldT;
    const wd = WD + <usize>i * ldT;
    let s = 0.0;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      let sv = f64x2.splat(0);
      for (; j + 1 < len; j += 2) {
        const o = <usize>j << 3;
        const cv = v128.load(c + o);
        const dv = f64x2.sub(v128.load(row + o), cv);
        v128.store(d + o, dv);
        const wdv = weighted ? f64x2.mul(v128.load(w + o), dv) : dv;
        if (weighted) v128.store(wd + o, wdv);
        if (withR) sv = f64x2.add(sv, f64x2.mul(wdv, f64x2.sub(v128.load(y + o), cv)));
      }
      s = f64x2.extract_lane(sv, 0) + f64x2.extract_lane(sv, 1);
    }
    for (; j < len; j++) {
      const o = <usize>j << 3;
      const cv = load<f64>(c + o);
      const dv = load<f64>(row + o) - cv;
      store<f64>(d + o, dv);
      const wdv = weighted ? load<f64>(w + o) * dv : dv;
      if (weighted) store<f64>(wd + o, wdv);
      if (withR) s += wdv * (load<f64>(y + o) - cv);
    }
    if (withR) addOut(r + (<usize>i << 3), s);
  }
  let e = 0.0;
  if (withR) {
    for (let j = 0; j < len; j++) {
      const o = <usize>j << 3;
      const u = load<f64>(y + o) - load<f64>(c + o);
      e += weighted ? load<f64>(w + o) * u * u : u * u;
    }
  }
  return e;
}

// Softmax of one sample's C logits into p (C), stable (shifted by the max); returns log Σ exp.
// @ts-ignore: decorator
@inline
function softmax(C: i32, x: usize, p: usize): f64 {
  let mx = load<f64>(x);
  for (let j = 1; j < C; j++) mx = max(mx, load<f64>(x + (<usize>j << 3)));
  let s = 0.0;
  for (let j = 0; j < C; j++) {
    const e = Math.exp(load<f64>(x + (<usize>j << 3)) - mx);
    store<f64>(p + (<usize>j << 3), e);
    s += e;
  }
  const inv = 1.0 / s;
  for (let j = 0; j < C; j++) store<f64>(p + (<usize>j << 3), load<f64>(p + (<usize>j << 3)) * inv);
  return mx + Math.log(s);
}

// Softmax cross-entropy, m = B·C logits, per sample b the block H_b = (diag(p_b) − p_b p_bᵀ)/B
// and g_b = (p_b − e_{c_b})/B at c (method.md §1, §2 step 4): A = ΔFᵀHΔF, r = −ΔFᵀg; returns the
// mean loss at c. H is applied, never formed: ΔF_aᵀH_bΔF_b = (1/B)Σ_j p_j (x_aj − s_a)(x_bj − s_b)
// with x = ΔF on sample b and s = pᵀx, so A is a p-weighted Gram of the p-centred ΔF.
// F: k×(B·C); c: B·C; labels: i32 B; A: k×k; r: k. (2k + 1)·C ≤ 32768 (scratch of one sample).
export function ceSystem(k: i32, B: i32, C: i32, F: usize, c: usize, labels: usize, A: usize, r: usize): f64 {
  checkDim(k, "ceSystem: k");
  checkDim(B, "ceSystem: B");
  checkDim(C, "ceSystem: C");
  const m64 = <u64>B * <u64>C;
  checkBuf(F, <u64>k * m64, 8, "ceSystem: F");
  checkBuf(c, m64, 8, "ceSystem: c");
  checkBuf(labels, <u64>B, 4, "ceSystem: labels");
  checkBuf(A, <u64>k * <u64>k, 8, "ceSystem: A");
  checkBuf(r, <u64>k, 8, "ceSystem: r");
  // One sample's weights and two k × C tiles must fit the scratch.
  if ((2 * <u64>k + 1) * <u64>C * 8 > <u64>SCRATCH_BYTES) {
    abort("ceSystem: (2k + 1)·C must be ≤ " + (SCRATCH_BYTES >> 3).toString() + "; use fewer members or classes per call");
  }
  checkLabels(B, C, labels, "ceSystem");
  const m = B * C;
  // Samples per tile: about GRAM_TILE columns, as many as the scratch holds, at least one.
  const G = min(B, max(1, min(GRAM_TILE / C, (SCRATCH_BYTES >> 3) / ((2 * k + 1) * C))));
  const T = G * C;
  const ldT = <usize>T << 3;
  const P = SCRATCH; // p of the tile's samples: T
  const X = SCRATCH + ldT; // p-centred ΔF: k × T
  const PX = X + <usize>k * ldT; // p∘X: k × T
  const ld = <usize>m << 3;
  const ldA = <usize>k << 3;
  const invB = 1.0 / <f64>B;
  memory.fill(A, 0, (<usize>k * k) << 3);
  memory.fill(r, 0, <usize>k << 3);
  let loss = 0.0;
  for (let b0 = 0; b0 < B; b0 += G) {
    const nb = min(G, B - b0);
    for (let t = 0; t < nb; t++) {
      const b = b0 + t;
      const cb = c + ((<usize>b * C) << 3);
      const pb = P + ((<usize>t * C) << 3);
      const label = load<i32>(labels + (<usize>b << 2));
      loss += softmax(C, cb, pb) - load<f64>(cb + (<usize>label << 3));
      for (let i = 0; i < k; i++) {
        const fb = F + <usize>i * ld + ((<usize>b * C) << 3);
        const xb = X + <usize>i * ldT + ((<usize>t * C) << 3);
        const pxb = PX + <usize>i * ldT + ((<usize>t * C) << 3);
        // s = pᵀΔF_ib; r_i −= ΔF_ibᵀ g_b with g_b = (p_b − e_label)/B.
        const s = centreSample(C, fb, cb, pb, xb, pxb);
        addOut(r + (<usize>i << 3), (load<f64>(fb + (<usize>label << 3)) - load<f64>(cb + (<usize>label << 3)) - s) * invB);
      }
    }
    tileProducts(nb * C, k, k, PX, ldT, X, ldT, true, A, ldA);
  }
  symmetrize(k, A);
  scale(k * k, invB, A);
  return loss * invB;
}

// One member on one sample (C values): d = f − c, s = pᵀd, x = d − s into xb and p∘x into pxb;
// returns s.
// @ts-ignore: decorator
@inline
function centreSample(C: i32, fb: usize, cb: usize, pb: usize, xb: usize, pxb: usize): f64 {
  let s = 0.0;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    let sv = f64x2.splat(0);
    for (; j + 1 < C; j += 2) {
      const o = <usize>j << 3;
      const d = f64x2.sub(v128.load(fb + o), v128.load(cb + o));
      v128.store(xb + o, d);
      sv = f64x2.add(sv, f64x2.mul(v128.load(pb + o), d));
    }
    s = f64x2.extract_lane(sv, 0) + f64x2.extract_lane(sv, 1);
  }
  for (; j < C; j++) {
    const d = load<f64>(fb + (<usize>j << 3)) - load<f64>(cb + (<usize>j << 3));
    store<f64>(xb + (<usize>j << 3), d);
    s += load<f64>(pb + (<usize>j << 3)) * d;
  }
  j = 0;
  if (ASC_FEATURE_SIMD) {
    const sv = f64x2.splat(s);
    for (; j + 1 < C; j += 2) {
      const o = <usize>j << 3;
      const x = f64x2.sub(v128.load(xb + o), sv);
      v128.store(xb + o, x);
      v128.store(pxb + o, f64x2.mul(v128.load(pb + o), x));
    }
  }
  for (; j < C; j++) {
    const x = load<f64>(xb + (<usize>j << 3)) - s;
    store<f64>(xb + (<usize>j << 3), x);
    store<f64>(pxb + (<usize>j << 3), load<f64>(pb + (<usize>j << 3)) * x);
  }
  return s;
}

// R(k×p): R_iq = ΔF_iᵀ W V_q. F: k×m; c, w (or 0): m; V: p×m; R: k×p. k ≤ 16384.
export function projectRows(k: i32, m: i32, p: i32, wScalar: f64, F: usize, c: usize, w: usize,
  V: usize, R: usize): void {
  checkDim(k, "projectRows: k");
  checkDim(m, "projectRows: m");
  checkDim(p, "projectRows: p");
  if (k > MAX_ROWS) abort("projectRows: k must be ≤ 16384 (Gram tile scratch); split the ensemble");
  checkWeight(w, wScalar, "projectRows");
  checkBuf(F, <u64>k * <u64>m, 8, "projectRows: F");
  checkBuf(c, <u64>m, 8, "projectRows: c");
  if (w != 0) checkBuf(w, <u64>m, 8, "projectRows: w");
  checkBuf(V, <u64>p * <u64>m, 8, "projectRows: V");
  checkBuf(R, <u64>k * <u64>p, 8, "projectRows: R");
  memory.fill(R, 0, (<usize>k * p) << 3);
  const T = tileWidth(k);
  const ldT = <usize>T << 3;
  const D = SCRATCH;
  const WD = SCRATCH + <usize>k * ldT;
  const ld = <usize>m << 3;
  const ldR = <usize>p << 3;
  for (let j0 = 0; j0 < m; j0 += T) {
    const len = min(T, m - j0);
    const o = <usize>j0 << 3;
    if (w != 0) {
      formTile(len, k, F + o, ld, c + o, w + o, 0, D, WD, ldT, 0, true, false);
      tileProducts(len, k, p, WD, ldT, V + o, ld, false, R, ldR);
    } else {
      formTile(len, k, F + o, ld, c + o, 0, 0, D, 0, ldT, 0, false, false);
      tileProducts(len, k, p, D, ldT, V + o, ld, false, R, ldR);
    }
  }
  if (w == 0) scale(k * p, wScalar, R);
}

// out(m) = Σ_i z_i ΔF_i (the predicted output change ΔF z, method.md §2 step 5); returns
// max_j |out_j| for the trust region. F: k×m; c: m; z: k; out: m.
export function combineRows(k: i32, m: i32, F: usize, c: usize, z: usize, out: usize): f64 {
  checkDim(k, "combineRows: k");
  checkDim(m, "combineRows: m");
  checkBuf(F, <u64>k * <u64>m, 8, "combineRows: F");
  checkBuf(c, <u64>m, 8, "combineRows: c");
  checkBuf(z, <u64>k, 8, "combineRows: z");
  checkBuf(out, <u64>m, 8, "combineRows: out");
  const ld = <usize>m << 3;
  let mx = 0.0;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    // Eight columns (one cache line of each row) per pass over the members.
    let vm = f64x2.splat(0);
    for (; j + 7 < m; j += 8) {
      const o = <usize>j << 3;
      const c0 = v128.load(c + o), c1 = v128.load(c + o, 16), c2 = v128.load(c + o, 32), c3 = v128.load(c + o, 48);
      let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0), s3 = f64x2.splat(0);
      for (let i = 0; i < k; i++) {
        const zi = f64x2.splat(load<f64>(z + (<usize>i << 3)));
        const row = F + <usize>i * ld + o;
        s0 = f64x2.add(s0, f64x2.mul(zi, f64x2.sub(v128.load(row), c0)));
        s1 = f64x2.add(s1, f64x2.mul(zi, f64x2.sub(v128.load(row, 16), c1)));
        s2 = f64x2.add(s2, f64x2.mul(zi, f64x2.sub(v128.load(row, 32), c2)));
        s3 = f64x2.add(s3, f64x2.mul(zi, f64x2.sub(v128.load(row, 48), c3)));
      }
      v128.store(out + o, s0);
      v128.store(out + o, s1, 16);
      v128.store(out + o, s2, 32);
      v128.store(out + o, s3, 48);
      vm = f64x2.max(vm, f64x2.max(f64x2.max(f64x2.abs(s0), f64x2.abs(s1)), f64x2.max(f64x2.abs(s2), f64x2.abs(s3))));
    }
    mx = max(f64x2.extract_lane(vm, 0), f64x2.extract_lane(vm, 1));
  }
  for (; j < m; j++) {
    const o = <usize>j << 3;
    const cj = load<f64>(c + o);
    let s = 0.0;
    for (let i = 0; i < k; i++) s += load<f64>(z + (<usize>i << 3)) * (load<f64>(F + <usize>i * ld + o) - cj);
    store<f64>(out + o, s);
    mx = max(mx, Math.abs(s));
  }
  return mx;
}

// out_i = ½(F_i − y)ᵀW(F_i − y) (method.md §1). F: k×m; w (or 0), y: m; out: k.
export function lsLoss(k: i32, m: i32, wScalar: f64, F: usize, w: usize, y: usize, out: usize): void {
  checkDim(k, "lsLoss: k");
  checkDim(m, "lsLoss: m");
  checkWeight(w, wScalar, "lsLoss");
  checkBuf(F, <u64>k * <u64>m, 8, "lsLoss: F");
  if (w != 0) checkBuf(w, <u64>m, 8, "lsLoss: w");
  checkBuf(y, <u64>m, 8, "lsLoss: y");
  checkBuf(out, <u64>k, 8, "lsLoss: out");
  for (let i = 0; i < k; i++) {
    const row = F + <usize>i * (<usize>m << 3);
    const e = w != 0 ? weightedSquares(m, row, y, w, true) : weightedSquares(m, row, y, 0, false);
    store<f64>(out + (<usize>i << 3), 0.5 * (w != 0 ? e : wScalar * e));
  }
}

// Σ_j ω_j (x_j − y_j)² with ω = w (or 1 when !weighted).
// @ts-ignore: decorator
@inline
function weightedSquares(m: i32, x: usize, y: usize, w: usize, weighted: bool): f64 {
  let s = 0.0;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    let v = f64x2.splat(0);
    for (; j + 1 < m; j += 2) {
      const o = <usize>j << 3;
      const d = f64x2.sub(v128.load(x + o), v128.load(y + o));
      const e = f64x2.mul(d, d);
      v = f64x2.add(v, weighted ? f64x2.mul(v128.load(w + o), e) : e);
    }
    s = f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
  }
  for (; j < m; j++) {
    const o = <usize>j << 3;
    const d = load<f64>(x + o) - load<f64>(y + o);
    s += weighted ? load<f64>(w + o) * (d * d) : d * d;
  }
  return s;
}

// out_i = mean over samples of −log softmax(F_ib)[label_b]; correct_i = #samples whose first
// argmax is the label (skipped when correct = 0). F: k×(B·C); labels: i32 B; out: k; correct: i32 k.
export function ceLoss(k: i32, B: i32, C: i32, F: usize, labels: usize, out: usize, correct: usize): void {
  checkDim(k, "ceLoss: k");
  checkDim(B, "ceLoss: B");
  checkDim(C, "ceLoss: C");
  checkBuf(F, <u64>k * <u64>B * <u64>C, 8, "ceLoss: F");
  checkBuf(labels, <u64>B, 4, "ceLoss: labels");
  checkBuf(out, <u64>k, 8, "ceLoss: out");
  if (correct != 0) checkBuf(correct, <u64>k, 4, "ceLoss: correct");
  checkLabels(B, C, labels, "ceLoss");
  for (let i = 0; i < k; i++) {
    let loss = 0.0;
    let hits = 0;
    for (let b = 0; b < B; b++) {
      const x = F + ((<usize>i * B + b) * C << 3);
      const label = load<i32>(labels + (<usize>b << 2));
      let mx = load<f64>(x);
      let arg = 0;
      for (let j = 1; j < C; j++) {
        const v = load<f64>(x + (<usize>j << 3));
        if (v > mx) { mx = v; arg = j; }
      }
      let s = 0.0;
      for (let j = 0; j < C; j++) s += Math.exp(load<f64>(x + (<usize>j << 3)) - mx);
      loss += mx + Math.log(s) - load<f64>(x + (<usize>label << 3));
      if (arg == label) hits++;
    }
    store<f64>(out + (<usize>i << 3), loss / <f64>B);
    if (correct != 0) store<i32>(correct + (<usize>i << 2), hits);
  }
}

// G_i = ∇ of the mean cross-entropy at F_i: per sample (softmax(F_ib) − e_label)/B.
// F, G: k×(B·C); labels: i32 B.
export function ceGrad(k: i32, B: i32, C: i32, F: usize, labels: usize, G: usize): void {
  checkDim(k, "ceGrad: k");
  checkDim(B, "ceGrad: B");
  checkDim(C, "ceGrad: C");
  const total = <u64>k * <u64>B * <u64>C;
  checkBuf(F, total, 8, "ceGrad: F");
  checkBuf(labels, <u64>B, 4, "ceGrad: labels");
  checkBuf(G, total, 8, "ceGrad: G");
  checkLabels(B, C, labels, "ceGrad");
  const invB = 1.0 / <f64>B;
  for (let i = 0; i < k; i++) {
    for (let b = 0; b < B; b++) {
      const off = (<usize>i * B + b) * C << 3;
      const g = G + off;
      softmax(C, F + off, g);
      for (let j = 0; j < C; j++) store<f64>(g + (<usize>j << 3), load<f64>(g + (<usize>j << 3)) * invB);
      const gl = g + (<usize>load<i32>(labels + (<usize>b << 2)) << 3);
      store<f64>(gl, load<f64>(gl) - invB);
    }
  }
}

// Θ_j += Σ_l Z_lj (Θ_l − θ̄) for the persistent EKI ensemble (method.md §3), all members from the
// old Θ: per column tile θ̄ and the deviations are formed first (in work). Θ: J×n; Z: J×J;
// work: n (θ̄) + J·ROW_TILE (deviations of one tile).
export function ekiUpdate(J: i32, n: i32, Theta: usize, Z: usize, work: usize): void {
  checkDim(J, "ekiUpdate: J");
  checkDim(n, "ekiUpdate: n");
  checkBuf(Theta, <u64>J * <u64>n, 8, "ekiUpdate: Theta");
  checkBuf(Z, <u64>J * <u64>J, 8, "ekiUpdate: Z");
  checkBuf(work, <u64>n + <u64>J * <u64>ROW_TILE, 8, "ekiUpdate: work");
  const mean = work;
  const D = work + (<usize>n << 3); // J × ROW_TILE
  const ld = <usize>n << 3;
  const ldD = <usize>ROW_TILE << 3;
  for (let j0 = 0; j0 < n; j0 += ROW_TILE) {
    const len = min(ROW_TILE, n - j0);
    const o = <usize>j0 << 3;
    // θ̄ of this tile's columns: the tile is read from memory once, then mean, copy and update
    // find it in cache.
    meanOf(J, len, Theta + o, ld, mean + o);
    const mo = mean + o;
    for (let l = 0; l < J; l++) {
      const src = Theta + <usize>l * ld + o;
      const dst = D + <usize>l * ldD;
      let j = 0;
      if (ASC_FEATURE_SIMD) {
        for (; j + 3 < len; j += 4) {
          const q = <usize>j << 3;
          v128.store(dst + q, f64x2.sub(v128.load(src + q), v128.load(mo + q)));
          v128.store(dst + q, f64x2.sub(v128.load(src + q, 16), v128.load(mo + q, 16)), 16);
        }
      }
      for (; j < len; j++) {
        store<f64>(dst + (<usize>j << 3), load<f64>(src + (<usize>j << 3)) - load<f64>(mo + (<usize>j << 3)));
      }
    }
    let i = 0;
    for (; i + 3 < J; i += 4) combineDeviations4(J, len, Z + (<usize>i << 3), D, ldD, Theta + <usize>i * ld + o, ld);
    for (; i < J; i++) combineDeviations(J, len, Z + (<usize>i << 3), D, ldD, Theta + <usize>i * ld + o);
  }
}

// Four rows at once: row_u[0, len) += Σ_l Z_l,u·D_l for u < 4, Z_l,u = zc[l·J + u] (four adjacent
// columns of Z), rows ld bytes apart. A 4-row × 4-column block of sums stays in eight registers
// over all l, so each deviation vector loaded feeds four rows (the (n×J)·(J×J) product is
// register-blocked); per element the sum runs over l in ascending order and is added to the row
// once, exactly as combineDeviations does, so the bits do not depend on the blocking.
function combineDeviations4(J: i32, len: i32, zc: usize, D: usize, ldD: usize, row: usize, ld: usize): void {
  const ldZ = <usize>J << 3;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 3 < len; j += 4) {
      const o = <usize>j << 3;
      let s00 = f64x2.splat(0), s01 = f64x2.splat(0), s10 = f64x2.splat(0), s11 = f64x2.splat(0);
      let s20 = f64x2.splat(0), s21 = f64x2.splat(0), s30 = f64x2.splat(0), s31 = f64x2.splat(0);
      let z = zc;
      let d = D + o;
      for (let l = 0; l < J; l++) {
        const d0 = v128.load(d);
        const d1 = v128.load(d, 16);
        const z0 = v128.load64_splat(z);
        s00 = f64x2.add(s00, f64x2.mul(z0, d0)); s01 = f64x2.add(s01, f64x2.mul(z0, d1));
        const z1 = v128.load64_splat(z, 8);
        s10 = f64x2.add(s10, f64x2.mul(z1, d0)); s11 = f64x2.add(s11, f64x2.mul(z1, d1));
        const z2 = v128.load64_splat(z, 16);
        s20 = f64x2.add(s20, f64x2.mul(z2, d0)); s21 = f64x2.add(s21, f64x2.mul(z2, d1));
        const z3 = v128.load64_splat(z, 24);
        s30 = f64x2.add(s30, f64x2.mul(z3, d0)); s31 = f64x2.add(s31, f64x2.mul(z3, d1));
        z += ldZ;
        d += ldD;
      }
      const p0 = row + o;
      v128.store(p0, f64x2.add(v128.load(p0), s00));
      v128.store(p0, f64x2.add(v128.load(p0, 16), s01), 16);
      const p1 = p0 + ld;
      v128.store(p1, f64x2.add(v128.load(p1), s10));
      v128.store(p1, f64x2.add(v128.load(p1, 16), s11), 16);
      const p2 = p1 + ld;
      v128.store(p2, f64x2.add(v128.load(p2), s20));
      v128.store(p2, f64x2.add(v128.load(p2, 16), s21), 16);
      const p3 = p2 + ld;
      v128.store(p3, f64x2.add(v128.load(p3), s30));
      v128.store(p3, f64x2.add(v128.load(p3, 16), s31), 16);
    }
  }
  // Remaining columns (all of them in the scalar build), row by row.
  for (let u = 0; u < 4; u++) {
    const zu = zc + (<usize>u << 3);
    const r = row + <usize>u * ld;
    for (let jj = j; jj < len; jj++) {
      const o = <usize>jj << 3;
      let s = 0.0;
      for (let l = 0; l < J; l++) s += load<f64>(zu + <usize>l * ldZ) * load<f64>(D + <usize>l * ldD + o);
      store<f64>(r + o, load<f64>(r + o) + s);
    }
  }
}

// row[0, len) += Σ_l z_l·D_l with z_l = zc[l·J] (a column of Z) and D: J rows of stride ldD bytes.
// Eight columns are accumulated in registers over all l, so the row is read and written once.
function combineDeviations(J: i32, len: i32, zc: usize, D: usize, ldD: usize, row: usize): void {
  const ldZ = <usize>J << 3;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 7 < len; j += 8) {
      const o = <usize>j << 3;
      let s0 = f64x2.splat(0), s1 = f64x2.splat(0), s2 = f64x2.splat(0), s3 = f64x2.splat(0);
      for (let l = 0; l < J; l++) {
        const z = f64x2.splat(load<f64>(zc + <usize>l * ldZ));
        const d = D + <usize>l * ldD + o;
        s0 = f64x2.add(s0, f64x2.mul(z, v128.load(d)));
        s1 = f64x2.add(s1, f64x2.mul(z, v128.load(d, 16)));
        s2 = f64x2.add(s2, f64x2.mul(z, v128.load(d, 32)));
        s3 = f64x2.add(s3, f64x2.mul(z, v128.load(d, 48)));
      }
      const p = row + o;
      v128.store(p, f64x2.add(v128.load(p), s0));
      v128.store(p, f64x2.add(v128.load(p, 16), s1), 16);
      v128.store(p, f64x2.add(v128.load(p, 32), s2), 32);
      v128.store(p, f64x2.add(v128.load(p, 48), s3), 48);
    }
  }
  for (; j < len; j++) {
    const o = <usize>j << 3;
    let s = 0.0;
    for (let l = 0; l < J; l++) s += load<f64>(zc + <usize>l * ldZ) * load<f64>(D + <usize>l * ldD + o);
    store<f64>(row + o, load<f64>(row + o) + s);
  }
}

// dst(f64 n) = src(f32 n), exact.
export function widen(n: i32, src: usize, dst: usize): void {
  checkDim(n, "widen: n");
  checkBuf(src, <u64>n, 4, "widen: src");
  checkBuf(dst, <u64>n, 8, "widen: dst");
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 1 < n; j += 2) {
      v128.store(dst + (<usize>j << 3), f64x2.promote_low_f32x4(v128.load64_zero(src + (<usize>j << 2))));
    }
  }
  for (; j < n; j++) store<f64>(dst + (<usize>j << 3), <f64>load<f32>(src + (<usize>j << 2)));
}

// dst(f32 n) = src(f64 n), rounded to nearest even.
export function narrow(n: i32, src: usize, dst: usize): void {
  checkDim(n, "narrow: n");
  checkBuf(src, <u64>n, 8, "narrow: src");
  checkBuf(dst, <u64>n, 4, "narrow: dst");
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 1 < n; j += 2) {
      v128.store64_lane(dst + (<usize>j << 2), f32x4.demote_f64x2_zero(v128.load(src + (<usize>j << 3))), 0);
    }
  }
  for (; j < n; j++) store<f32>(dst + (<usize>j << 2), <f32>load<f64>(src + (<usize>j << 3)));
}
