// least-squares kernel family: the ensemble-space algebra of a least-squares NLB / EKI iteration
// (docs/method.md §2.4, §3). W = diag(w) when the pointer w ≠ 0, else wScalar·I (Γ⁻¹ of
// docs/method.md §1). Outputs must not overlap inputs.
// Every array is f64 and row-major, labels are i32; a k×m matrix holds k member rows of m
// contiguous values. ΔF_i = F_i − c (c = F_0, the centre's outputs). All sums accumulate in f64;
// reductions run in the lane order of gram.ts, so both builds give the same bits.
import { checkArray, checkAtMost, checkSize, checkWeight } from "./checks";
import { addAt, MAX_ROWS, SCRATCH, scale, symmetrize, tileProducts, tileWidth } from "./gram";

// A(k×k) = ΔFᵀWΔF, r(k) = ΔFᵀW(y − c); returns ½(y − c)ᵀW(y − c) (docs/method.md §2.4, least
// squares). One pass over F: each column tile is read from memory once for A, r and the loss.
// F: k×m; c, y, w (or 0): m; A: k×k; r: k. k ≤ 16384 (the scratch holds two k-row tiles).
export function lsSystem(k: i32, m: i32, wScalar: f64, F: usize, c: usize, w: usize, y: usize,
  A: usize, r: usize): f64 {
  checkSize(k, "lsSystem", "k");
  checkSize(m, "lsSystem", "m");
  checkAtMost(k, MAX_ROWS, "lsSystem", "k", "Gram tile scratch; split the ensemble");
  checkWeight(w, wScalar, "lsSystem");
  checkArray(F, <u64>k * <u64>m, 8, "lsSystem", "F");
  checkArray(c, <u64>m, 8, "lsSystem", "c");
  if (w != 0) checkArray(w, <u64>m, 8, "lsSystem", "w");
  checkArray(y, <u64>m, 8, "lsSystem", "y");
  checkArray(A, <u64>k * <u64>k, 8, "lsSystem", "A");
  checkArray(r, <u64>k, 8, "lsSystem", "r");
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
    } else if (withR) {
      // r_i in the SIMD build's lane order: (Σ even j + Σ odd j) + the last element of an odd len.
      let se = 0.0, so = 0.0;
      for (; j + 1 < len; j += 2) {
        const o = <usize>j << 3;
        se += formOne(row + o, c + o, w + o, d + o, wd + o, y + o, weighted);
        so += formOne(row + o + 8, c + o + 8, w + o + 8, d + o + 8, wd + o + 8, y + o + 8, weighted);
      }
      s = se + so;
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
    if (withR) addAt(r + (<usize>i << 3), s);
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

// One element of formTile: d = f − c and wd = w·d stored; returns wd·(y − c).
// @ts-ignore: decorator
@inline
function formOne(f: usize, c: usize, w: usize, d: usize, wd: usize, y: usize, weighted: bool): f64 {
  const cv = load<f64>(c);
  const dv = load<f64>(f) - cv;
  store<f64>(d, dv);
  const wdv = weighted ? load<f64>(w) * dv : dv;
  if (weighted) store<f64>(wd, wdv);
  return wdv * (load<f64>(y) - cv);
}

// R(k×p): R_iq = ΔF_iᵀ W V_q. F: k×m; c, w (or 0): m; V: p×m; R: k×p. k ≤ 16384.
export function projectRows(k: i32, m: i32, p: i32, wScalar: f64, F: usize, c: usize, w: usize,
  V: usize, R: usize): void {
  checkSize(k, "projectRows", "k");
  checkSize(m, "projectRows", "m");
  checkSize(p, "projectRows", "p");
  checkAtMost(k, MAX_ROWS, "projectRows", "k", "Gram tile scratch; split the ensemble");
  checkWeight(w, wScalar, "projectRows");
  checkArray(F, <u64>k * <u64>m, 8, "projectRows", "F");
  checkArray(c, <u64>m, 8, "projectRows", "c");
  if (w != 0) checkArray(w, <u64>m, 8, "projectRows", "w");
  checkArray(V, <u64>p * <u64>m, 8, "projectRows", "V");
  checkArray(R, <u64>k * <u64>p, 8, "projectRows", "R");
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

// out(m) = Σ_i z_i ΔF_i (the predicted output change ΔF z, docs/method.md §2.5); returns
// max_j |out_j| for the trust region. F: k×m; c: m; z: k; out: m.
export function combineRows(k: i32, m: i32, F: usize, c: usize, z: usize, out: usize): f64 {
  checkSize(k, "combineRows", "k");
  checkSize(m, "combineRows", "m");
  checkArray(F, <u64>k * <u64>m, 8, "combineRows", "F");
  checkArray(c, <u64>m, 8, "combineRows", "c");
  checkArray(z, <u64>k, 8, "combineRows", "z");
  checkArray(out, <u64>m, 8, "combineRows", "out");
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

// out_i = ½(F_i − y)ᵀW(F_i − y) (docs/method.md §1). F: k×m; w (or 0), y: m; out: k.
export function lsLoss(k: i32, m: i32, wScalar: f64, F: usize, w: usize, y: usize, out: usize): void {
  checkSize(k, "lsLoss", "k");
  checkSize(m, "lsLoss", "m");
  checkWeight(w, wScalar, "lsLoss");
  checkArray(F, <u64>k * <u64>m, 8, "lsLoss", "F");
  if (w != 0) checkArray(w, <u64>m, 8, "lsLoss", "w");
  checkArray(y, <u64>m, 8, "lsLoss", "y");
  checkArray(out, <u64>k, 8, "lsLoss", "out");
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
  } else {
    // the SIMD build's lane order: (Σ even j + Σ odd j) + the last element of an odd m
    let se = 0.0, so = 0.0;
    for (; j + 1 < m; j += 2) {
      const o = <usize>j << 3;
      const d0 = load<f64>(x + o) - load<f64>(y + o);
      const d1 = load<f64>(x + o, 8) - load<f64>(y + o, 8);
      se += weighted ? load<f64>(w + o) * (d0 * d0) : d0 * d0;
      so += weighted ? load<f64>(w + o, 8) * (d1 * d1) : d1 * d1;
    }
    s = se + so;
  }
  for (; j < m; j++) {
    const o = <usize>j << 3;
    const d = load<f64>(x + o) - load<f64>(y + o);
    s += weighted ? load<f64>(w + o) * (d * d) : d * d;
  }
  return s;
}
