// EKI kernel family: the ensemble mean and the update of the persistent EKI ensemble (docs/method.md §3).
// Every array is f64 and row-major; a k×n matrix holds k member rows of n contiguous values.
// Column sums run over members in ascending order in both builds (vectorised over columns only),
// so both builds give the same bits.
import { checkArray, checkSize } from "./checks";

// Columns per tile of ekiUpdate; its ABI work size, n + J·256, is built on this value.
const ROW_TILE: i32 = 256;

// out(m) = (1/k)·Σ_i F_i. F: k×m; out: m.
export function meanRows(k: i32, m: i32, F: usize, out: usize): void {
  checkSize(k, "meanRows", "k");
  checkSize(m, "meanRows", "m");
  checkArray(F, <u64>k * <u64>m, 8, "meanRows", "F");
  checkArray(out, <u64>m, 8, "meanRows", "out");
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

// Θ_j += Σ_l Z_lj (Θ_l − θ̄) for the persistent EKI ensemble (docs/method.md §3), all members from the
// old Θ: per column tile θ̄ and the deviations are formed first (in work). Θ: J×n; Z: J×J;
// work: n (θ̄) + J·ROW_TILE (deviations of one tile).
export function ekiUpdate(J: i32, n: i32, Theta: usize, Z: usize, work: usize): void {
  checkSize(J, "ekiUpdate", "J");
  checkSize(n, "ekiUpdate", "n");
  checkArray(Theta, <u64>J * <u64>n, 8, "ekiUpdate", "Theta");
  checkArray(Z, <u64>J * <u64>J, 8, "ekiUpdate", "Z");
  checkArray(work, <u64>n + <u64>J * <u64>ROW_TILE, 8, "ekiUpdate", "work");
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
