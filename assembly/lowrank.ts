// lowrank kernel family: the NLB ensemble forward with rank-r members (directions defined in
// lowrank-core.ts), f32, without ever storing the members' parameters. Per call:
//   P1 = [W_1 | U_1 of every stream]       (d_0 × (d_1 + S·r), f32; S = streams of the call)
//   C1 = X·P1 = [X·W_1 | X·U_1 …]          (rows × (d_1 + S·r)): ONE shared GEMM
// then per member i (stream u, scale g = σ·s_i):
//   layer 1:  H = act(X·W_1 + (X·U_u)·(g·V_uᵀ/√r) + (b_1 + g·β_1))      (a K = r GEMM onto C1's copy)
//   layer l:  H' = act(H·W'_l + (b_l + g·β_l)),  W'_l = W_l + g·U_l V_lᵀ/√r  (per member, f32 scratch)
// Layer 1 never forms its perturbed matrix: X·W_1 is shared and the rank-r term is rows·(d_1 + 1)·r
// work. For l ≥ 2 the GEMM packs W_l per member anyway (d_{l−1}·d_l), so forming W'_l in that pass
// costs the same order and saves two GEMM-engine passes per member and layer (H·U_l with N = r and
// (H·U_l)·Vᵀ with K = r, each a full sweep over the rows). Bias, activation and the rank-r
// term run in the GEMM epilogue (gemm-tile.ts). Memory O(d_0·(d_1 + S·r) + rows·(d_1 + S·r) +
// Σ_{l≥2} d_{l−1}·d_l + min(rows, 512)·width), never members × parameters.
// The centre (θ itself, output slice 0) is the same path with g = 0: g·V = 0 exactly and
// x + 0 = x, so its bits are those of act(H·W + b).
import { gemmBlock } from "./gemm-tile";
import { dotTail, engineWorkBytes, kBlock, packB, packedWidth } from "./gemm-pack";
import {
  ACT_IDENTITY, checkAct, checkAutoFlag, checkCoords, checkDisjoint, checkFinite, checkLayers, checkMemberRange,
  checkRegion, checkSize, checkWorkBytes,
} from "./checks";
import { streamKey, TILE, XI } from "./rng-core";
import { signOf, streamOf } from "./perturb";
import { coordCount, dimAt, fillRange, paramCount, streamBound, up16, widest } from "./lowrank-core";
import { countNonzeros, sparseProduct, SPARSE_MAX } from "./lowrank-sparse";

export { lowRankUpdate, lowRankGram, lowRankGramWorkBytes, lowRankUpdateWorkBytes } from "./lowrank-update";

// C(rows × N, ldc) = act(A(rows × K, lda)·op(B) [+ C] [+ bias]); op(B) = B (K × N, ldb) or, with
// transB, Bᵀ for B stored N × K. eng: engineWorkBytes(N, K) bytes, 16-aligned.
function product(rows: i32, N: i32, K: i32, A: usize, lda: i32, transB: bool, B: usize, ldb: i32,
  C: usize, ldc: i32, accumulate: bool, bias: usize, act: i32, eng: usize): void {
  const kc = kBlock(K);
  const tile = eng + <usize>kc * <usize>packedWidth(N) * 4;
  for (let k0 = 0; k0 < K; k0 += kc) {
    const kb = min(kc, K - k0);
    packB(transB, k0, kb, N, B, ldb, eng, dotTail(N, 4));
    const last = k0 + kb == K;
    gemmBlock(rows, N, kb, A + (<usize>k0 << 2), <usize>lda << 2, 4, eng, C, ldc, 1.0, 1.0,
      accumulate || k0 > 0, last ? bias : 0, last ? act : ACT_IDENTITY, tile);
  }
}

// Columns of P1 and C1: d_1 + S·r rounded up to a multiple of 4. Every column of the shared GEMM
// is then summed by a tile that adds over k in order (never the k-vectorized dot tile of a 1–2
// column remainder), so a member's bits do not depend on how many streams share the call:
// splitting the members across calls or workers gives the same logits.
function sharedWidth(d1: i32, S: i32, rank: i32): i32 {
  return (d1 + S * rank + 3) & ~3;
}

// A member runs through all layers ROW_BLOCK rows at a time (rows are independent: same bits), so
// the hidden scratch stays bounded for large batches. Blocks of 64 rows (hidden rows in L1) measured
// 3 % slower than 512 at batch 512: each block repacks the small operands.
const ROW_BLOCK: i32 = 512;

// Work layout of lowRankForward (byte offsets into work, each region 16-aligned), set by plan().
let oP1: u64 = 0;   // f32 d_0 × N1: [W_1 | U_1 of each stream]
let oC1: u64 = 0;   // f32 rows × N1: X·P1
let oHA: u64 = 0;   // f32 ROW_BLOCK × widest hidden (ping)
let oHB: u64 = 0;   // f32 ROW_BLOCK × widest hidden (pong)
let oWS: u64 = 0;   // f32 Σ_{l≥2} d_{l−1}·d_l: one member's W'_l
let oDIR: u64 = 0;  // f64 m − d_0·r: one stream's coordinates past U_1
let oVS: u64 = 0;   // f32 d_1 × r: g·V_1/√r
let oBS: u64 = 0;   // f32 Σ_l d_l: one member's b_l + g·β_l
let oLIST: u64 = 0; // i32 d_0 + 4: one row's nonzero positions (sparse first layer)
let oACC: u64 = 0;  // f32 N1: a later K block's partial row (sparse first layer)

// Sets the offsets above for S streams and returns the total bytes (offset 0 is the GEMM engine).
function plan(rows: i32, layers: i32, dims: usize, rank: i32, S: i32): u64 {
  const d0 = dimAt(dims, 0);
  const d1 = dimAt(dims, 1);
  const N1 = sharedWidth(d1, S, rank);
  let eng = max(engineWorkBytes(N1, d0), engineWorkBytes(d1, rank));
  let ws: u64 = 1;
  for (let l = 2; l <= layers; l++) {
    const din = dimAt(dims, l - 1);
    const dout = dimAt(dims, l);
    eng = max(eng, engineWorkBytes(dout, din));
    ws += <u64>din * <u64>dout;
  }
  const hid = <u64>min(rows, ROW_BLOCK) * <u64>max(1, widest(layers - 1, dims, 1)) << 2;
  let bs: u64 = 0;
  for (let l = 1; l <= layers; l++) bs += <u64>dimAt(dims, l);
  let at = up16(eng);
  oP1 = at; at = up16(at + (<u64>d0 * <u64>N1 << 2));
  oC1 = at; at = up16(at + (<u64>rows * <u64>N1 << 2));
  oHA = at; at = up16(at + hid);
  oHB = at; at = up16(at + hid);
  oWS = at; at = up16(at + (ws << 2));
  oDIR = at; at = up16(at + ((coordCount(layers, dims, rank) - <u64>d0 * <u64>rank) << 3));
  oVS = at; at = up16(at + (<u64>d1 * <u64>rank << 2));
  oBS = at; at = up16(at + (bs << 2));
  oLIST = at; at = up16(at + (<u64>(d0 + 4) << 2));
  oACC = at; at = up16(at + (<u64>N1 << 2));
  return at;
}

// Bytes of `work` lowRankForward needs for these sizes (antithetic ≠ 0: pairs share a stream).
export function lowRankForwardWorkBytes(members: i32, rows: i32, layers: i32, dims: usize, rank: i32, antithetic: i32): i32 {
  const K = "lowRankForwardWorkBytes";
  checkSize(members, K, "members");
  checkSize(rows, K, "rows");
  checkSize(rank, K, "rank");
  checkLayers(layers, dims, K);
  checkCoords(coordCount(layers, dims, rank), K);
  const bytes = plan(rows, layers, dims, rank, streamBound(members, antithetic != 0));
  checkWorkBytes(bytes, K, "split the members or the batch");
  return <i32>bytes;
}

// scaled[b·r + c] = f32(g·src[b·r + c]), b < d, c < r (src f64); bias[b] = f32(θb[b] + h·β[b]).
function scaleFactor(len: i32, g: f64, src: usize, dst: usize): void {
  for (let j = 0; j < len; j++) store<f32>(dst + (<usize>j << 2), <f32>(g * load<f64>(src + (<usize>j << 3))));
}
function memberBias(d: i32, h: f64, thetaB: usize, beta: usize, dst: usize): void {
  for (let j = 0; j < d; j++) {
    store<f32>(dst + (<usize>j << 2), <f32>(load<f64>(thetaB + (<usize>j << 3)) + h * load<f64>(beta + (<usize>j << 3))));
  }
}

// One member (or the centre, g = 0) through all layers into dst (rows × d_L). DIR holds its
// stream's coordinates past U_1; col = its first column of X·U_1 in C1. First its small operands
// (g·V_1/√r, every W'_l and bias), then the rows block by block.
function runMember(rows: i32, layers: i32, act: i32, outAct: i32, dims: usize, rank: i32, N1: i32,
  col: i32, g: f64, theta: usize, dst: usize, work: usize): void {
  const gv = g / Math.sqrt(<f64>rank);
  const d0 = dimAt(dims, 0);
  const d1 = dimAt(dims, 1);
  const dir = work + <usize>oDIR;
  const VS = work + <usize>oVS;
  scaleFactor(d1 * rank, gv, dir, VS);
  let c = d1 * rank; // coordinate offset in dir (U_1 is not stored there)
  let tb = theta + (<usize>d0 * <usize>d1 << 3);
  let bs = work + <usize>oBS;
  memberBias(d1, g, tb, dir + (<usize>c << 3), bs);
  c += d1;
  let tw = tb + (<usize>d1 << 3); // θ's W_2
  let ws = work + <usize>oWS;
  for (let l = 2; l <= layers; l++) {
    const din = dimAt(dims, l - 1);
    const dout = dimAt(dims, l);
    const U = dir + (<usize>c << 3);
    perturbedWeights(din, dout, rank, gv, tw, U, U + (<usize>(din * rank) << 3), ws);
    c += (din + dout) * rank;
    tb = tw + (<usize>din * <usize>dout << 3);
    bs += <usize>dimAt(dims, l - 1) << 2;
    memberBias(dout, g, tb, dir + (<usize>c << 3), bs);
    c += dout;
    ws += <usize>din * <usize>dout << 2;
    tw = tb + (<usize>dout << 3);
  }
  const dL = dimAt(dims, layers);
  const C1 = work + <usize>oC1;
  const c1Row = <usize>N1 << 2;
  for (let i0 = 0; i0 < rows; i0 += ROW_BLOCK) {
    const rb = min(ROW_BLOCK, rows - i0);
    const out = dst + (<usize>i0 * <usize>dL << 2);
    // layer 1: H = copy of X·W_1, then act(H + (X·U)(g·Vᵀ/√r) + bias)
    let H = layers == 1 ? out : work + <usize>oHA;
    const c1 = C1 + <usize>i0 * c1Row;
    const rowB = <usize>d1 << 2;
    for (let i = 0; i < rb; i++) memory.copy(H + <usize>i * rowB, c1 + <usize>i * c1Row, rowB);
    product(rb, d1, rank, c1 + (<usize>(d1 + col) << 2), N1, true, VS, rank, H, d1, true, work + <usize>oBS,
      layers == 1 ? outAct : act, work);
    // layers ≥ 2: act(H·W'_l + bias)
    ws = work + <usize>oWS;
    bs = work + <usize>oBS + (<usize>d1 << 2);
    for (let l = 2; l <= layers; l++) {
      const din = dimAt(dims, l - 1);
      const dout = dimAt(dims, l);
      const last = l == layers;
      const Y = last ? out : (l & 1) == 0 ? work + <usize>oHB : work + <usize>oHA;
      product(rb, dout, din, H, din, false, ws, dout, Y, dout, false, bs, last ? outAct : act, work);
      ws += <usize>din * <usize>dout << 2;
      bs += <usize>dout << 2;
      H = Y;
    }
  }
}

// W'(din × dout, f32) = W + gv·U Vᵀ, each entry f32(W_ab + gv·Σ_c U_ac·V_bc) (f64, rounded once).
// W: θ's f64 block; U (din × r), V (dout × r): f64 coordinates.
function perturbedWeights(din: i32, dout: i32, rank: i32, gv: f64, W: usize, U: usize, V: usize, dst: usize): void {
  for (let a = 0; a < din; a++) {
    const ua = U + (<usize>(a * rank) << 3);
    const wa = W + (<usize>(a * dout) << 3);
    const da = dst + (<usize>(a * dout) << 2);
    for (let b = 0; b < dout; b++) {
      const vb = V + (<usize>(b * rank) << 3);
      let s: f64 = 0;
      for (let c = 0; c < rank; c++) s += load<f64>(ua + (<usize>c << 3)) * load<f64>(vb + (<usize>c << 3));
      store<f32>(da + (<usize>b << 2), <f32>(load<f64>(wa + (<usize>b << 3)) + gv * s));
    }
  }
}

// The NLB ensemble forward with rank-r members θ + σ·e_i, i = member0 + j, j < members
// (e_i per lowrank-core.ts), all members in one call; with center ≠ 0, θ first as slice 0.
//   dims: i32[layers + 1]; X: f32 rows × d_0; theta: f64 n (n = Σ d_{l−1}·d_l + d_l)
//   out: f32 (center + members) × rows × d_L (the layout of mlpForwardPerturbed)
//   work: lowRankForwardWorkBytes(members, rows, layers, dims, rank, antithetic) bytes, 16-aligned
// Hidden layers apply act, the last outAct (0 identity, 1 relu, 2 tanh, 3 sigmoid).
// sparse: 1 computes X·P1 over X's nonzeros only (lowrank-sparse.ts), 0 with the dense GEMM, −1
// chooses by X's nonzero fraction (≤ SPARSE_MAX: sparse). Both give the same bits.
export function lowRankForward(members: i32, rows: i32, layers: i32, act: i32, outAct: i32, dims: usize,
  rank: i32, X: usize, theta: usize, sigma: f64, seed: u32, iter: u32, member0: u32, antithetic: i32,
  center: i32, sparse: i32, out: usize, work: usize): void {
  const K = "lowRankForward";
  checkSize(members, K, "members");
  checkSize(rows, K, "rows");
  checkSize(rank, K, "rank");
  checkAct(act, K, "act");
  checkAct(outAct, K, "outAct");
  checkMemberRange(members, member0, K);
  checkAutoFlag(sparse, K, "sparse", "dense", "sparse");
  checkFinite(sigma, K, "sigma");
  checkLayers(layers, dims, K);
  checkCoords(coordCount(layers, dims, rank), K);
  const anti = antithetic != 0;
  const first = streamOf(member0, anti);
  const S = <i32>(streamOf(member0 + <u32>(members - 1), anti) - first) + 1;
  const wBytes = plan(rows, layers, dims, rank, streamBound(members, anti));
  const lead = center != 0 ? 1 : 0;
  const d0 = dimAt(dims, 0);
  const d1 = dimAt(dims, 1);
  const dL = dimAt(dims, layers);
  const xBytes = <u64>rows * <u64>d0 << 2;
  const tBytes = paramCount(layers, dims) << 3;
  const oBytes = <u64>(members + lead) * <u64>rows * <u64>dL << 2;
  checkRegion(X, xBytes, 4, K, "X");
  checkRegion(theta, tBytes, 8, K, "theta");
  checkRegion(out, oBytes, 4, K, "out");
  checkRegion(work, wBytes, 16, K, "work (lowRankForwardWorkBytes bytes, 16-aligned)");
  checkDisjoint(out, oBytes, X, xBytes, K, "out", "X");
  checkDisjoint(out, oBytes, theta, tBytes, K, "out", "theta");
  checkDisjoint(out, oBytes, work, wBytes, K, "out", "work");
  checkDisjoint(work, wBytes, X, xBytes, K, "work", "X");
  checkDisjoint(work, wBytes, theta, tBytes, K, "work", "theta");

  // P1 = [W_1 | U_1 of streams first … first + S − 1 | 0 padding], narrowed to f32 (U exact: ξ
  // are f32 values)
  const N1 = sharedWidth(d1, S, rank);
  const used = d1 + S * rank;
  const P1 = work + <usize>oP1;
  const p1Row = <usize>N1 << 2;
  for (let a = 0; a < d0; a++) {
    const src = theta + (<usize>a * <usize>d1 << 3);
    const row = P1 + <usize>a * p1Row;
    for (let b = 0; b < d1; b++) store<f32>(row + (<usize>b << 2), <f32>load<f64>(src + (<usize>b << 3)));
    for (let b = used; b < N1; b++) store<f32>(row + (<usize>b << 2), 0.0);
  }
  const u1Len = d0 * rank;
  for (let u = 0; u < S; u++) {
    const key = streamKey(seed, iter, first + <u32>u);
    const colB = <usize>(d1 + u * rank) << 2;
    // U_1 (d_0 × r) in TILE pieces, scattered into its r columns of P1
    for (let j0 = 0; j0 < u1Len; j0 += TILE) {
      const len = min(TILE, u1Len - j0);
      fillRange(key, <u64>j0, len, XI);
      let a = j0 / rank, c = j0 - a * rank;
      for (let j = 0; j < len; j++) {
        store<f32>(P1 + <usize>a * p1Row + colB + (<usize>c << 2), <f32>load<f64>(XI + (<usize>j << 3)));
        if (++c == rank) { c = 0; a++; }
      }
    }
  }
  // the shared GEMM: C1 = X·P1 = [X·W_1 | X·U_1 …]
  const cells = rows * d0;
  const useSparse = sparse == 1 || (sparse == -1 && <f64>countNonzeros(cells, X) <= SPARSE_MAX * <f64>cells);
  if (useSparse) sparseProduct(rows, N1, d0, X, P1, work + <usize>oC1, work + <usize>oLIST, work + <usize>oACC);
  else product(rows, N1, d0, X, d0, false, P1, N1, work + <usize>oC1, N1, false, 0, ACT_IDENTITY, work);

  const dirLen = <i32>(coordCount(layers, dims, rank) - <u64>u1Len);
  const dir = work + <usize>oDIR;
  const slice = <usize>rows * <usize>dL << 2;
  let dst = out;
  let loaded = -1;
  for (let j = -lead; j < members; j++) {
    const i = member0 + <u32>max(j, 0);
    const u = <i32>(streamOf(i, anti) - first);
    if (u != loaded) {
      fillRange(streamKey(seed, iter, first + <u32>u), <u64>u1Len, dirLen, dir);
      loaded = u;
    }
    const g = j < 0 ? 0.0 : sigma * signOf(i, anti);
    runMember(rows, layers, act, outAct, dims, rank, N1, u * rank, g, theta, dst, work);
    dst += slice;
  }
}
