// Shared engine of the gemm kernel family, used by gemm.ts (sgemm) and dense.ts (fused layers).
// Not re-exported by index.ts: nothing here is part of the module's ABI.
//
// Row-major f32. One K block of C(M×N) = α·op(A)(M×kc)·Bp(kc×N) [+ β·C] is computed in register
// tiles of 4 rows × 8 columns (8 v128 accumulators + 2 B vectors + 1 A splat = 11 live):
// - op(B) is packed once per K block into panels of contiguous k-rows (packB);
// - op(A) is addressed through two byte strides, so every transpose is the same loop; 4 rows are
//   copied to scratch once per row block when that pays (a transposed A as a kc × 4 strip, rows
//   contiguous in k as 4 rows a fixed distance apart when N ≥ 16), so one pointer with immediate
//   offsets serves the tile; for small N the tile reads A in place;
// - the last 1–2 columns use a tile vectorized over k (tileDot) instead of a half-empty panel;
// - the epilogue fuses α, β·C, the bias and the activation, so no second pass touches C.
// The scalar build computes the same tiles as 2×4 blocks of scalar accumulators.
// Blocking and packing live in gemm-pack.ts, the activations in activations.ts.
import { ACT_IDENTITY } from "./checks";
import { act4, actScalar } from "./activations";
import { copyRows, dotTail, packStrip, ROW_GAP, TILE_BYTES } from "./gemm-pack";

// ---- epilogue ------------------------------------------------------------------------------------

// c = act(α·acc [+ β·c] [+ bias]); bias = 0 means none.
// @ts-ignore: decorator
@inline
function finish1(acc: f32, cp: usize, bias: usize, alpha: f32, beta: f32, readC: bool, act: i32): void {
  let v = acc * alpha;
  if (readC) v = v + load<f32>(cp) * beta;
  if (bias != 0) v = v + load<f32>(bias);
  store<f32>(cp, actScalar(v, act));
}

// The same for 4 adjacent columns.
// @ts-ignore: decorator
@inline
function finish4(acc: v128, cp: usize, bias: usize, alphaV: v128, betaV: v128, readC: bool, act: i32): void {
  let v = f32x4.mul(acc, alphaV);
  if (readC) v = f32x4.add(v, f32x4.mul(v128.load(cp), betaV));
  if (bias != 0) v = f32x4.add(v, v128.load(bias));
  v128.store(cp, act4(v, act));
}

// finish1 for one column of 4 rows (lane r = row r, ldcB bytes apart): gather, finish, scatter.
// @ts-ignore: decorator
@inline
function finishCol4(acc: v128, cp: usize, ldcB: usize, bias: usize, alphaV: v128, betaV: v128,
  readC: bool, act: i32): void {
  let v = f32x4.mul(acc, alphaV);
  if (readC) {
    let c = f32x4.splat(load<f32>(cp));
    c = f32x4.replace_lane(c, 1, load<f32>(cp + ldcB));
    c = f32x4.replace_lane(c, 2, load<f32>(cp + 2 * ldcB));
    c = f32x4.replace_lane(c, 3, load<f32>(cp + 3 * ldcB));
    v = f32x4.add(v, f32x4.mul(c, betaV));
  }
  if (bias != 0) v = f32x4.add(v, v128.load32_splat(bias));
  v = act4(v, act);
  store<f32>(cp, f32x4.extract_lane(v, 0));
  store<f32>(cp + ldcB, f32x4.extract_lane(v, 1));
  store<f32>(cp + 2 * ldcB, f32x4.extract_lane(v, 2));
  store<f32>(cp + 3 * ldcB, f32x4.extract_lane(v, 3));
}

// Epilogue of a partial tile held in the scratch (row stride 8 floats): rows × cols valid.
function finishTile(tile: usize, rows: i32, cols: i32, cp: usize, ldcB: usize, bias: usize,
  alpha: f32, beta: f32, readC: bool, act: i32): void {
  for (let r = 0; r < rows; r++) {
    const t = tile + (<usize>r << 5);
    const c = cp + <usize>r * ldcB;
    for (let j = 0; j < cols; j++) {
      const o = <usize>j << 2;
      finish1(load<f32>(t + o), c + o, bias != 0 ? bias + o : 0, alpha, beta, readC, act);
    }
  }
}

// ---- the block product ---------------------------------------------------------------------------

// C(M×N) = act(α·op(A)·Bp + [β·C] + [bias]) for one K block of length kc.
//   A:    byte address of op(A)[0][k0]; aRow / aCol = bytes between rows / between k of op(A)
//   P:    packed B block from packB (kc × packedWidth(N))
//   C:    M × N, ldc floats per row; read only when readC
//   bias: N floats or 0; act: ACT_* (pass identity and 0 except on the last K block)
//   tile: TILE_BYTES + COPY_BYTES of scratch, 16-aligned (tile, then the copy area for A rows)
export function gemmBlock(M: i32, N: i32, kc: i32, A: usize, aRow: usize, aCol: usize, P: usize,
  C: usize, ldc: i32, alpha: f32, beta: f32, readC: bool, bias: usize, act: i32, tile: usize): void {
  const ldcB = <usize>ldc << 2;
  // Per row block, 4 rows of op(A) are first copied to scratch when that pays, so that one
  // pointer with immediate offsets serves all 4 rows (2 pointer increments per k, not 5):
  // a transposed A as a kc × 4 strip (the tiles then stream it instead of touching a new cache
  // line per k); rows contiguous in k as 4 rows ROW_GAP apart (a plain copy, cheaper than the
  // strip's transpose) when N ≥ 16. For N < 16 the copy costs more than the ≤ 2 tiles save
  // (measured: N = 10 falls from 0.82 to 0.78 of peak), so A is read in place.
  const strip = aCol > aRow;
  const rowsCopied = ASC_FEATURE_SIMD && !strip && aCol == 4 && N >= 16;
  const dot = dotTail(N, aCol);
  const copy = tile + TILE_BYTES;
  for (let i0 = 0; i0 < M; i0 += 4) {
    const rows = M - i0 < 4 ? M - i0 : 4;
    // Rows past M re-read the last valid row (computed, never stored): no separate edge kernel.
    const r0 = A + <usize>i0 * aRow;
    const r1 = rows > 1 ? r0 + aRow : r0;
    const r2 = rows > 2 ? r0 + 2 * aRow : r1;
    const r3 = rows > 3 ? r0 + 3 * aRow : r2;
    // a0..a3 / step: where the tiles read op(A).
    let a0 = r0, a1 = r1, a2 = r2, a3 = r3;
    let step = aCol;
    if (strip) {
      packStrip(kc, r0, r1, r2, r3, aCol, rows == 4 && aRow == 4, copy);
      a0 = copy;
      a1 = copy + 4;
      a2 = copy + 8;
      a3 = copy + 12;
      step = 16;
    } else if (rowsCopied) {
      copyRows(kc, r0, r1, r2, r3, copy);
      a0 = copy;
      a1 = copy + ROW_GAP;
      a2 = copy + 2 * ROW_GAP;
      a3 = copy + 3 * ROW_GAP;
    }
    const cRow = C + <usize>i0 * ldcB;
    for (let j0 = 0; j0 < N; ) {
      const rem = N - j0;
      const w = rem >= 8 ? 8 : rem <= 4 ? 4 : 8;
      const cols = rem < w ? rem : w;
      const bp = P + <usize>j0 * <usize>kc * 4;
      const cp = cRow + (<usize>j0 << 2);
      const bb = bias != 0 ? bias + (<usize>j0 << 2) : 0;
      if (ASC_FEATURE_SIMD) {
        if (dot && w == 4) {
          const b1 = cols > 1 ? bp + <usize>kc * 4 : bp;
          tileDot(kc, a0, a1, a2, a3, bp, b1, cp, ldcB, rows, cols, bb, alpha, beta, readC, act, tile);
        } else if (w == 8 && strip) tile4x8s(kc, copy, bp, cp, ldcB, rows, cols, bb, alpha, beta, readC, act, tile);
        else if (w == 8 && rowsCopied) tile4x8r(kc, copy, bp, cp, ldcB, rows, cols, bb, alpha, beta, readC, act, tile);
        else if (w == 8) tile4x8(kc, a0, a1, a2, a3, step, bp, cp, ldcB, rows, cols, bb, alpha, beta, readC, act, tile);
        else tile4x4(kc, a0, a1, a2, a3, step, bp, cp, ldcB, rows, cols, bb, alpha, beta, readC, act, tile);
      } else {
        for (let h = 0; h < w; h += 4) {
          tile2x4s(kc, a0, a1, step, bp + (<usize>h << 2), <usize>w << 2, tile + (<usize>h << 2));
          tile2x4s(kc, a2, a3, step, bp + (<usize>h << 2), <usize>w << 2, tile + 64 + (<usize>h << 2));
        }
        finishTile(tile, rows, cols, cp, ldcB, bb, alpha, beta, readC, act);
      }
      j0 += w;
    }
  }
}

// SIMD 4×8 tile: 8 accumulators, B as two v128 per k, A as one splat per row and k.
// @ts-ignore: decorator
@inline
function tile4x8(kc: i32, a0: usize, a1: usize, a2: usize, a3: usize, aCol: usize, bp: usize,
  cp: usize, ldcB: usize, rows: i32, cols: i32, bias: usize, alpha: f32, beta: f32, readC: bool,
  act: i32, tile: usize): void {
  // v128 zero is V8's one-instruction xor idiom, not a materialized constant.
  let c00 = f32x4.splat(0.0);
  let c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  let p0 = a0, p1 = a1, p2 = a2, p3 = a3, pb = bp;
  const end = bp + (<usize>kc << 5);
  do {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(p0);
    c00 = f32x4.add(c00, f32x4.mul(a, b0));
    c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load32_splat(p1);
    c10 = f32x4.add(c10, f32x4.mul(a, b0));
    c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load32_splat(p2);
    c20 = f32x4.add(c20, f32x4.mul(a, b0));
    c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load32_splat(p3);
    c30 = f32x4.add(c30, f32x4.mul(a, b0));
    c31 = f32x4.add(c31, f32x4.mul(a, b1));
    p0 += aCol;
    p1 += aCol;
    p2 += aCol;
    p3 += aCol;
    pb += 32;
  } while (pb < end);
  finish4x8(c00, c01, c10, c11, c20, c21, c30, c31, cp, ldcB, rows, cols, bias, alpha, beta, readC, act, tile);
}

// SIMD 4×8 tile on a packed strip (kc × 4 floats): one A pointer with immediate row offsets, so
// the loop overhead is 2 pointer increments next to the 8 mul + 8 add. (Unrolling k by 2 was
// measured 35 % slower: V8 spills.)
// @ts-ignore: decorator
@inline
function tile4x8s(kc: i32, sp: usize, bp: usize, cp: usize, ldcB: usize, rows: i32, cols: i32,
  bias: usize, alpha: f32, beta: f32, readC: bool, act: i32, tile: usize): void {
  let c00 = f32x4.splat(0.0);
  let c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  let pa = sp, pb = bp;
  const end = bp + (<usize>kc << 5);
  do {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(a, b0));
    c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 4);
    c10 = f32x4.add(c10, f32x4.mul(a, b0));
    c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 8);
    c20 = f32x4.add(c20, f32x4.mul(a, b0));
    c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 12);
    c30 = f32x4.add(c30, f32x4.mul(a, b0));
    c31 = f32x4.add(c31, f32x4.mul(a, b1));
    pa += 16;
    pb += 32;
  } while (pb < end);
  finish4x8(c00, c01, c10, c11, c20, c21, c30, c31, cp, ldcB, rows, cols, bias, alpha, beta, readC, act, tile);
}

// SIMD 4×8 tile on 4 copied rows ROW_GAP bytes apart: as tile4x8s, with the row distance in the
// immediate offsets.
// @ts-ignore: decorator
@inline
function tile4x8r(kc: i32, sp: usize, bp: usize, cp: usize, ldcB: usize, rows: i32, cols: i32,
  bias: usize, alpha: f32, beta: f32, readC: bool, act: i32, tile: usize): void {
  let c00 = f32x4.splat(0.0);
  let c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  let pa = sp, pb = bp;
  const end = bp + (<usize>kc << 5);
  do {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(a, b0));
    c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, ROW_GAP);
    c10 = f32x4.add(c10, f32x4.mul(a, b0));
    c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 2 * ROW_GAP);
    c20 = f32x4.add(c20, f32x4.mul(a, b0));
    c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 3 * ROW_GAP);
    c30 = f32x4.add(c30, f32x4.mul(a, b0));
    c31 = f32x4.add(c31, f32x4.mul(a, b1));
    pa += 4;
    pb += 32;
  } while (pb < end);
  finish4x8(c00, c01, c10, c11, c20, c21, c30, c31, cp, ldcB, rows, cols, bias, alpha, beta, readC, act, tile);
}

// Epilogue of a 4×8 tile: vector stores for a full tile, the scratch + scalar path at edges.
// @ts-ignore: decorator
@inline
function finish4x8(c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128,
  c31: v128, cp: usize, ldcB: usize, rows: i32, cols: i32, bias: usize, alpha: f32, beta: f32,
  readC: bool, act: i32, tile: usize): void {
  if (rows == 4 && cols == 8) {
    const alphaV = f32x4.splat(alpha);
    const betaV = f32x4.splat(beta);
    const b1 = bias != 0 ? bias + 16 : 0;
    finish4(c00, cp, bias, alphaV, betaV, readC, act);
    finish4(c01, cp + 16, b1, alphaV, betaV, readC, act);
    finish4(c10, cp + ldcB, bias, alphaV, betaV, readC, act);
    finish4(c11, cp + ldcB + 16, b1, alphaV, betaV, readC, act);
    finish4(c20, cp + 2 * ldcB, bias, alphaV, betaV, readC, act);
    finish4(c21, cp + 2 * ldcB + 16, b1, alphaV, betaV, readC, act);
    finish4(c30, cp + 3 * ldcB, bias, alphaV, betaV, readC, act);
    finish4(c31, cp + 3 * ldcB + 16, b1, alphaV, betaV, readC, act);
  } else {
    v128.store(tile, c00);
    v128.store(tile, c01, 16);
    v128.store(tile, c10, 32);
    v128.store(tile, c11, 48);
    v128.store(tile, c20, 64);
    v128.store(tile, c21, 80);
    v128.store(tile, c30, 96);
    v128.store(tile, c31, 112);
    finishTile(tile, rows, cols, cp, ldcB, bias, alpha, beta, readC, act);
  }
}

// SIMD 4×4 tile for a narrow last panel (N mod 8 ≤ 4): 4 accumulators, B as one v128 per k.
// @ts-ignore: decorator
@inline
function tile4x4(kc: i32, a0: usize, a1: usize, a2: usize, a3: usize, aCol: usize, bp: usize,
  cp: usize, ldcB: usize, rows: i32, cols: i32, bias: usize, alpha: f32, beta: f32, readC: bool,
  act: i32, tile: usize): void {
  let c0 = f32x4.splat(0.0);
  let c1 = c0, c2 = c0, c3 = c0;
  let p0 = a0, p1 = a1, p2 = a2, p3 = a3, pb = bp;
  const end = bp + (<usize>kc << 4);
  do {
    const b = v128.load(pb);
    c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(p0), b));
    c1 = f32x4.add(c1, f32x4.mul(v128.load32_splat(p1), b));
    c2 = f32x4.add(c2, f32x4.mul(v128.load32_splat(p2), b));
    c3 = f32x4.add(c3, f32x4.mul(v128.load32_splat(p3), b));
    p0 += aCol;
    p1 += aCol;
    p2 += aCol;
    p3 += aCol;
    pb += 16;
  } while (pb < end);
  if (rows == 4 && cols == 4) {
    const alphaV = f32x4.splat(alpha);
    const betaV = f32x4.splat(beta);
    finish4(c0, cp, bias, alphaV, betaV, readC, act);
    finish4(c1, cp + ldcB, bias, alphaV, betaV, readC, act);
    finish4(c2, cp + 2 * ldcB, bias, alphaV, betaV, readC, act);
    finish4(c3, cp + 3 * ldcB, bias, alphaV, betaV, readC, act);
  } else {
    v128.store(tile, c0);
    v128.store(tile, c1, 32);
    v128.store(tile, c2, 64);
    v128.store(tile, c3, 96);
    finishTile(tile, rows, cols, cp, ldcB, bias, alpha, beta, readC, act);
  }
}

// [Σx0, Σx1, Σx2, Σx3]: the lane sums of four vectors.
// @ts-ignore: decorator
@inline
function hsum4(x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  const y01 = f32x4.add(v128.shuffle<f32>(x0, x1, 0, 1, 4, 5), v128.shuffle<f32>(x0, x1, 2, 3, 6, 7));
  const y23 = f32x4.add(v128.shuffle<f32>(x2, x3, 0, 1, 4, 5), v128.shuffle<f32>(x2, x3, 2, 3, 6, 7));
  return f32x4.add(v128.shuffle<f32>(y01, y23, 0, 2, 4, 6), v128.shuffle<f32>(y01, y23, 1, 3, 5, 7));
}

// SIMD dot tile for the last 1–2 columns: 4 rows × 2 columns, vectorized over k (A rows and the
// column-packed B are both contiguous in k): 8 accumulators, lane sums at the end, then the
// k tail and the epilogue vectorized over the 4 rows of a column.
// b0, b1: the two columns (b1 = b0 when only one is valid).
// @ts-ignore: decorator
@inline
function tileDot(kc: i32, a0: usize, a1: usize, a2: usize, a3: usize, b0: usize, b1: usize,
  cp: usize, ldcB: usize, rows: i32, cols: i32, bias: usize, alpha: f32, beta: f32, readC: bool,
  act: i32, tile: usize): void {
  let s00 = f32x4.splat(0.0);
  let s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00, s31 = s00;
  const n4 = <usize>(kc & ~3) << 2;
  for (let o: usize = 0; o < n4; o += 16) {
    const x0 = v128.load(b0 + o);
    const x1 = v128.load(b1 + o);
    let a = v128.load(a0 + o);
    s00 = f32x4.add(s00, f32x4.mul(a, x0));
    s01 = f32x4.add(s01, f32x4.mul(a, x1));
    a = v128.load(a1 + o);
    s10 = f32x4.add(s10, f32x4.mul(a, x0));
    s11 = f32x4.add(s11, f32x4.mul(a, x1));
    a = v128.load(a2 + o);
    s20 = f32x4.add(s20, f32x4.mul(a, x0));
    s21 = f32x4.add(s21, f32x4.mul(a, x1));
    a = v128.load(a3 + o);
    s30 = f32x4.add(s30, f32x4.mul(a, x0));
    s31 = f32x4.add(s31, f32x4.mul(a, x1));
  }
  // Column j for rows 0..3 = hsum4 of the rows' accumulators; the k tail adds a(·, k)·b_j(k).
  let v0 = hsum4(s00, s10, s20, s30);
  let v1 = hsum4(s01, s11, s21, s31);
  for (let o = n4; o < (<usize>kc << 2); o += 4) {
    let a = f32x4.splat(load<f32>(a0 + o));
    a = f32x4.replace_lane(a, 1, load<f32>(a1 + o));
    a = f32x4.replace_lane(a, 2, load<f32>(a2 + o));
    a = f32x4.replace_lane(a, 3, load<f32>(a3 + o));
    v0 = f32x4.add(v0, f32x4.mul(a, v128.load32_splat(b0 + o)));
    v1 = f32x4.add(v1, f32x4.mul(a, v128.load32_splat(b1 + o)));
  }
  if (rows == 4) {
    const alphaV = f32x4.splat(alpha);
    const betaV = f32x4.splat(beta);
    finishCol4(v0, cp, ldcB, bias, alphaV, betaV, readC, act);
    if (cols > 1) finishCol4(v1, cp + 4, ldcB, bias != 0 ? bias + 4 : 0, alphaV, betaV, readC, act);
  } else {
    // Lane r of v_j is tile[r][j] (row-major scratch, 8 floats per row).
    store<f32>(tile, f32x4.extract_lane(v0, 0));
    store<f32>(tile, f32x4.extract_lane(v1, 0), 4);
    store<f32>(tile, f32x4.extract_lane(v0, 1), 32);
    store<f32>(tile, f32x4.extract_lane(v1, 1), 36);
    store<f32>(tile, f32x4.extract_lane(v0, 2), 64);
    store<f32>(tile, f32x4.extract_lane(v1, 2), 68);
    store<f32>(tile, f32x4.extract_lane(v0, 3), 96);
    store<f32>(tile, f32x4.extract_lane(v1, 3), 100);
    finishTile(tile, rows, cols, cp, ldcB, bias, alpha, beta, readC, act);
  }
}

// Scalar build: a 2×4 block of the tile (8 accumulators) from a panel of row stride bRow bytes,
// written to the tile scratch (row stride 32 bytes).
// @ts-ignore: decorator
@inline
function tile2x4s(kc: i32, a0: usize, a1: usize, aCol: usize, bp: usize, bRow: usize, t: usize): void {
  let c00: f32 = 0, c01: f32 = 0, c02: f32 = 0, c03: f32 = 0;
  let c10: f32 = 0, c11: f32 = 0, c12: f32 = 0, c13: f32 = 0;
  let p0 = a0, p1 = a1, pb = bp;
  for (let kk = 0; kk < kc; kk++) {
    const b0 = load<f32>(pb);
    const b1 = load<f32>(pb, 4);
    const b2 = load<f32>(pb, 8);
    const b3 = load<f32>(pb, 12);
    const x = load<f32>(p0);
    const y = load<f32>(p1);
    c00 += x * b0;
    c01 += x * b1;
    c02 += x * b2;
    c03 += x * b3;
    c10 += y * b0;
    c11 += y * b1;
    c12 += y * b2;
    c13 += y * b3;
    p0 += aCol;
    p1 += aCol;
    pb += bRow;
  }
  store<f32>(t, c00);
  store<f32>(t, c01, 4);
  store<f32>(t, c02, 8);
  store<f32>(t, c03, 12);
  store<f32>(t, c10, 32);
  store<f32>(t, c11, 36);
  store<f32>(t, c12, 40);
  store<f32>(t, c13, 44);
}
