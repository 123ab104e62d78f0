// lowrank kernel family, parameter rows: explicit f32 members θ + σ·s_i·D_{q_i} for weight blocks of
// any shapes (rank-r directions of lowrank-core.ts), for forwards that read parameter rows (conv
// filter banks and dense layers alike). A stream's factors are generated once per member, or once
// per antithetic pair (both rows from one pass). Entry (a, b) of a W-block is formed in f64 as
//   θ_ab + U_a0·(w·V_b0) + U_a1·(w·V_b1) + … (c ascending),  w = σ·s_i/√r,
// and a bias entry as θ_b + (σ·s_i)·β_b, then rounded once to f32: exactly the f64 value that
// lowRankUpdate adds for the single member (k = 1, z = [1], coef = σ·s_i), so a row is that value
// narrowed, in both builds (the SIMD path is lane-wise f64: same bits as the scalar loop).
import {
  checkCoords, checkDisjoint, checkFinite, checkMemberRange, checkRegion, checkShapes, checkSize, checkStride,
  checkWorkBytes,
} from "./checks";
import { signOf, streamOf } from "./perturb";
import { streamKey } from "./rng-core";
import { blockCoordCount, blockParamCount, fanInAt, fanOutAt, fillRange, up16, widestOut } from "./lowrank-core";

// Bytes of `work` lowRankMembers needs: one stream's m coordinates and w·Vᵀ of the widest block, f64.
export function lowRankMembersWorkBytes(layers: i32, shapes: usize, rank: i32): i32 {
  const K = "lowRankMembersWorkBytes";
  checkSize(rank, K, "rank");
  checkShapes(layers, shapes, K);
  checkCoords(blockCoordCount(layers, shapes, rank), K);
  const bytes = membersBytes(layers, shapes, rank);
  checkWorkBytes(bytes, K, "use a smaller rank or narrower blocks");
  return <i32>bytes;
}

function membersBytes(layers: i32, shapes: usize, rank: i32): u64 {
  return up16(blockCoordCount(layers, shapes, rank) << 3) + (<u64>rank * <u64>widestOut(layers, shapes) << 3);
}

// dst rows (f32, dstStride floats apart, the first n of each written): with center ≠ 0, row 0 = θ
// narrowed; then row center + j = θ + σ·s_i·D_{q_i} for member i = member0 + j, j < count (pairs:
// q_i = ⌊i/2⌋, s_i = (−1)^i). shapes: i32[2·layers] fanIn_l, fanOut_l pairs (lowrank-core.ts);
// theta: f64 n = Σ fanIn_l·fanOut_l + fanOut_l; work: lowRankMembersWorkBytes bytes, 16-aligned.
// No overlaps between theta, dst and work.
export function lowRankMembers(count: i32, layers: i32, shapes: usize, rank: i32, sigma: f64, seed: u32, draw: u32,
  member0: u32, antithetic: i32, center: i32, theta: usize, dst: usize, dstStride: i32, work: usize): void {
  const K = "lowRankMembers";
  checkSize(count, K, "count");
  checkSize(rank, K, "rank");
  checkMemberRange(count, member0, K);
  checkFinite(sigma, K, "sigma");
  checkShapes(layers, shapes, K);
  const m = blockCoordCount(layers, shapes, rank);
  checkCoords(m, K);
  const n = blockParamCount(layers, shapes);
  checkStride(dstStride, n, K, "dstStride", "the parameter count n");
  const rows = count + (center != 0 ? 1 : 0);
  const tBytes = n << 3;
  const dBytes = (<u64>(rows - 1) * <u64>dstStride + n) << 2;
  const wBytes = membersBytes(layers, shapes, rank);
  checkRegion(theta, tBytes, 8, K, "theta");
  checkRegion(dst, dBytes, 4, K, "dst");
  checkRegion(work, wBytes, 16, K, "work (lowRankMembersWorkBytes bytes, 16-aligned)");
  checkDisjoint(dst, dBytes, theta, tBytes, K, "dst", "theta");
  checkDisjoint(dst, dBytes, work, wBytes, K, "dst", "work");
  checkDisjoint(work, wBytes, theta, tBytes, K, "work", "theta");
  const rowB = <usize>dstStride << 2;
  let row = dst;
  if (center != 0) {
    for (let j: usize = 0; j < <usize>n; j++) store<f32>(row + (j << 2), <f32>load<f64>(theta + (j << 3)));
    row += rowB;
  }
  const anti = antithetic != 0;
  const coords = work; // f64 m: the stream's U_l, V_l, β_l, block by block
  const VT = work + <usize>up16(m << 3); // f64 r × fanOut_l: w·V_lᵀ
  const invSqrtR = 1.0 / Math.sqrt(<f64>rank);
  for (let j = 0; j < count; j++) {
    const i = member0 + <u32>j;
    // a pair wholly inside the call: rows θ ± … from one generation
    const pair = anti && (i & 1) == 0 && j + 1 < count;
    fillRange(streamKey(seed, draw, streamOf(i, anti)), 0, <i32>m, coords);
    memberRows(layers, shapes, rank, sigma * signOf(i, anti), invSqrtR, theta, coords, VT, row, pair ? row + rowB : 0);
    row += pair ? rowB << 1 : rowB;
    if (pair) j++;
  }
}

// rowP = θ + g·D and, when rowM ≠ 0, rowM = θ − g·D (f32 n), D from the stream's coordinates.
function memberRows(layers: i32, shapes: usize, rank: i32, g: f64, invSqrtR: f64, theta: usize, coords: usize,
  VT: usize, rowP: usize, rowM: usize): void {
  const w = g * invSqrtR;
  let U = coords;
  let tw = theta;
  let p = rowP;
  let q = rowM;
  for (let l = 1; l <= layers; l++) {
    const din = fanInAt(shapes, l);
    const dout = fanOutAt(shapes, l);
    const V = U + (<usize>din * <usize>rank << 3);
    const beta = V + (<usize>dout * <usize>rank << 3);
    // VT[c][b] = w·V[b][c]
    for (let b = 0; b < dout; b++) {
      for (let c = 0; c < rank; c++) {
        store<f64>(VT + (<usize>(c * dout + b) << 3), w * load<f64>(V + (<usize>(b * rank + c) << 3)));
      }
    }
    const wRow = <usize>dout << 3;
    for (let a = 0; a < din; a++) {
      const ua = U + (<usize>(a * rank) << 3);
      const th = tw + <usize>a * wRow;
      const o = <usize>(a * dout) << 2;
      if (rowM != 0) weightRowPair(dout, rank, ua, VT, th, p + o, q + o);
      else weightRow(dout, rank, ua, VT, th, p + o);
    }
    const tb = tw + <usize>din * wRow;
    const pb = p + (<usize>din * <usize>dout << 2);
    const qb = q + (<usize>din * <usize>dout << 2);
    for (let b = 0; b < dout; b++) {
      const t = load<f64>(tb + (<usize>b << 3));
      const x = g * load<f64>(beta + (<usize>b << 3));
      store<f32>(pb + (<usize>b << 2), <f32>(t + x));
      if (rowM != 0) store<f32>(qb + (<usize>b << 2), <f32>(t - x));
    }
    U = beta + (<usize>dout << 3);
    tw = tb + wRow;
    p = pb + (<usize>dout << 2);
    q = qb + (<usize>dout << 2);
  }
}

// dst[b] = f32(th[b] + Σ_c ua[c]·VT[c][b]), c ascending, b < dout (f64 sums, lane-wise in SIMD).
function weightRow(dout: i32, rank: i32, ua: usize, VT: usize, th: usize, dst: usize): void {
  const vtRow = <usize>dout << 3;
  let b = 0;
  if (ASC_FEATURE_SIMD) {
    for (; b + 3 < dout; b += 4) {
      const o = <usize>b << 3;
      let t0 = v128.load(th + o), t1 = v128.load(th + o, 16);
      let vt = VT + o;
      for (let c = 0; c < rank; c++) {
        const u = f64x2.splat(load<f64>(ua + (<usize>c << 3)));
        t0 = f64x2.add(t0, f64x2.mul(u, v128.load(vt)));
        t1 = f64x2.add(t1, f64x2.mul(u, v128.load(vt, 16)));
        vt += vtRow;
      }
      v128.store(dst + (<usize>b << 2), v128.shuffle<u32>(f32x4.demote_f64x2_zero(t0), f32x4.demote_f64x2_zero(t1), 0, 1, 4, 5));
    }
  }
  for (; b < dout; b++) {
    let t = load<f64>(th + (<usize>b << 3));
    let vt = VT + (<usize>b << 3);
    for (let c = 0; c < rank; c++) {
      t += load<f64>(ua + (<usize>c << 3)) * load<f64>(vt);
      vt += vtRow;
    }
    store<f32>(dst + (<usize>b << 2), <f32>t);
  }
}

// weightRow for a pair: dp[b] = f32(th[b] + Σ_c x_c), dm[b] = f32(th[b] − Σ_c x_c) term by term,
// x_c = ua[c]·VT[c][b] (t − x is t + (−x) exactly: the minus member's own sums).
function weightRowPair(dout: i32, rank: i32, ua: usize, VT: usize, th: usize, dp: usize, dm: usize): void {
  const vtRow = <usize>dout << 3;
  let b = 0;
  if (ASC_FEATURE_SIMD) {
    for (; b + 3 < dout; b += 4) {
      const o = <usize>b << 3;
      let p0 = v128.load(th + o), p1 = v128.load(th + o, 16);
      let m0 = p0, m1 = p1;
      let vt = VT + o;
      for (let c = 0; c < rank; c++) {
        const u = f64x2.splat(load<f64>(ua + (<usize>c << 3)));
        const x0 = f64x2.mul(u, v128.load(vt));
        const x1 = f64x2.mul(u, v128.load(vt, 16));
        p0 = f64x2.add(p0, x0);
        p1 = f64x2.add(p1, x1);
        m0 = f64x2.sub(m0, x0);
        m1 = f64x2.sub(m1, x1);
        vt += vtRow;
      }
      const s = <usize>b << 2;
      v128.store(dp + s, v128.shuffle<u32>(f32x4.demote_f64x2_zero(p0), f32x4.demote_f64x2_zero(p1), 0, 1, 4, 5));
      v128.store(dm + s, v128.shuffle<u32>(f32x4.demote_f64x2_zero(m0), f32x4.demote_f64x2_zero(m1), 0, 1, 4, 5));
    }
  }
  for (; b < dout; b++) {
    let tp = load<f64>(th + (<usize>b << 3));
    let tm = tp;
    let vt = VT + (<usize>b << 3);
    for (let c = 0; c < rank; c++) {
      const x = load<f64>(ua + (<usize>c << 3)) * load<f64>(vt);
      tp += x;
      tm -= x;
      vt += vtRow;
    }
    store<f32>(dp + (<usize>b << 2), <f32>tp);
    store<f32>(dm + (<usize>b << 2), <f32>tm);
  }
}
