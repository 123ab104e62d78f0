// seq kernel family, rank-r members: the NLB ensemble forward of a sequential network (seq.ts)
// whose layer 0 is an unquantized dense or conv2d layer, with the rank-r members of lowrank-core.ts.
// Layer 0 is linear in its weights, so member i (stream u, g = σ·s_i) has the pre-activation
//   Z0 + (g/√r)·Y_u·V_uᵀ + (b_0 + g·β_0),   Z0 = layer0(X; W_0),   Y_u = layer0(X; U_u)
// (Y_u: the r columns of U_u used as filters, or X·U_u for dense): Z0 once per call for all
// members, Y_u once per stream (an antithetic pair shares it), then per member a rank-r
// outer-product epilogue and its own layers ≥ 1 (its parameter row, written by lowRankMembers into
// the descriptor's P, packed and run by seq.ts on a view of the table without layer 0). The centre
// is the g = 0 case. Every column of Z0 and Y is summed in k order by a tile whose bits do not
// depend on the other columns (Y groups are a multiple of 4 wide: no dot tail), so a member's output
// depends on (θ, σ, seed, draw, i) only: a request split into calls gives the same bits.
// Memory: bounded by a block of samples (like seqForward) plus O(streams · layer-0 factors).
import {
  ACT_HARD_TANH, ACT_HEAVISIDE, ACT_IDENTITY, ACT_RELU, ACT_SIGMOID, ACT_SIGN, ACT_TANH, checkCoords, checkDisjoint,
  checkFinite, checkMemberRange, checkRegion, checkShapes, checkSize, checkWorkBytes,
} from "./checks";
import { act4, actScalar } from "./activations";
import { convBlock, Geom, paddedSize } from "./conv";
import { COPY_BYTES, dotTail, kBlock, packB, packedWidth, TILE_BYTES } from "./gemm-pack";
import { gemmBlock } from "./gemm-tile";
import { blockCoordCount, fanInAt, fanOutAt, fillRange, streamBound, up16 } from "./lowrank-core";
import { lowRankMembers, lowRankMembersWorkBytes } from "./lowrank-members";
import { signOf, streamOf } from "./perturb";
import { streamKey, TILE, XI } from "./rng-core";
import { checkSeqNet, packMember, plan as seqPlan, planBlock, runBlock, SeqNet } from "./seq";
import {
  checkTable, fanIn, inSize, LAYER_WORDS, OP_CONV, OP_DENSE, outSize, parametric, W_ACT, W_IN, W_LEVELS, W_OP, W_OUT, word,
} from "./seq-table";

// Samples per shared block: its widest region (Z0, H0 or a Y group) holds at most ACT_FLOATS floats.
const ACT_FLOATS: i32 = 65536;
const BLOCK_MAX: i32 = 512;
// Y columns computed together: one 8-wide panel of the conv / GEMM tiles.
const GROUP_COLS: i32 = 8;

// Geometry of layer 0 with outC = the columns of the running product (N0 for Z0, GW for Y).
const G0 = memory.data(48, 16);

// Work layout (byte offsets, 16-aligned), set by plan() below.
let oW0: u64 = 0;    // f32 K0 × packedWidth(N0): W_0 packed
let oUG: u64 = 0;    // f32 groups × K0 × GW: the streams' U_0 packed, group by group
let oSTAGE: u64 = 0; // f32 K0 × max(N0, GW): a matrix before packing
let oZERO: u64 = 0;  // f32 max(packedWidth(N0), GW): zero bias of the shared products
let oVB: u64 = 0;    // f64 streams × (N0·r + N0): each stream's V_0 and β_0
let oFAC: u64 = 0;   // f32 (r + 1) × N0: one member's (g/√r)·V_0ᵀ (r × N0) and b_0 + g·β_0
let oZ: u64 = 0;     // f32 block × outSize(0): Z0
let oY: u64 = 0;     // f32 block × positions × GW: one group's Y
let oH: u64 = 0;     // f32 block × outSize(0): one member's layer-0 activation
let oPAD: u64 = 0;   // f32 block × paddedSize: the zero-padded input of a padded conv
let oLRM: u64 = 0;   // lowRankMembers' work
let oREST: u64 = 0;  // seq.ts's work for layers ≥ 1 (its first bytes: the tiles' scratch)
let block: i32 = 1;  // samples per shared block
let perGroup: i32 = 1; // streams per Y group
let GW: i32 = 4;     // columns of a Y group (a multiple of 4)

// The table without layer 0 (seq.ts runs the members' layers ≥ 1 on it; wOffset stays absolute).
// @ts-ignore: decorator
@inline
function rest(table: usize): usize {
  return table + (<usize>LAYER_WORDS << 2);
}

// Sets the work layout; returns its total bytes. S: streams of the call.
function plan(layers: i32, table: usize, rows: i32, rank: i32, S: i32, lrm: u64): u64 {
  const K0 = fanIn(table, 0), N0 = word(table, 0, W_OUT + 2), o0 = outSize(table, 0);
  const pos = word(table, 0, W_OUT) * word(table, 0, W_OUT + 1);
  perGroup = max(1, GROUP_COLS / rank);
  GW = (perGroup * rank + 3) & ~3;
  const groups = (S + perGroup - 1) / perGroup;
  let pad: u64 = 0;
  if (word(table, 0, W_OP) == OP_CONV) {
    geometry(table, G0, N0);
    pad = <u64>paddedSize(changetype<Geom>(G0));
  }
  block = min(rows, min(BLOCK_MAX, max(1, ACT_FLOATS / max(o0, pos * GW))));
  const restBytes = layers > 1 ? seqPlan(layers - 1, rest(table), block) : up16(<u64>TILE_BYTES + <u64>COPY_BYTES);
  const b = <u64>block;
  let at = up16(restBytes);
  oREST = 0;
  oW0 = at; at = up16(at + (<u64>K0 * <u64>packedWidth(N0) << 2));
  oUG = at; at = up16(at + (<u64>groups * <u64>K0 * <u64>GW << 2));
  oSTAGE = at; at = up16(at + (<u64>K0 * <u64>max(N0, GW) << 2));
  oZERO = at; at = up16(at + (<u64>max(packedWidth(N0), GW) << 2));
  oVB = at; at = up16(at + (<u64>S * <u64>(N0 * rank + N0) << 3));
  oFAC = at; at = up16(at + (<u64>(rank + 1) * <u64>N0 << 2));
  oZ = at; at = up16(at + (b * <u64>o0 << 2));
  oY = at; at = up16(at + (b * <u64>pos * <u64>GW << 2));
  oH = at; at = up16(at + (layers > 1 ? b * <u64>o0 << 2 : 0));
  oPAD = at; at = up16(at + (b * pad << 2));
  oLRM = at; at = up16(at + lrm);
  return at;
}

// Copies layer 0's geometry (inH … padLeft) to g with outC = cols.
function geometry(table: usize, g: usize, cols: i32): void {
  memory.copy(g, table + (<usize>W_IN << 2), 12 << 2);
  changetype<Geom>(g).outC = cols;
}

// Aborts unless layer 0 qualifies and shapes (2·blocks i32) are the table's weight blocks; returns blocks.
function checkModel(layers: i32, table: usize, shapes: usize, kernel: string): i32 {
  const op = word(table, 0, W_OP), levels = word(table, 0, W_LEVELS);
  if (op > OP_CONV || levels != 0) {
    abort(kernel + ": layer 0 must be a dense or conv2d layer with real weights (levels 0; else use seqForward with " +
      "explicit member rows); got op " + op.toString() + ", levels " + levels.toString());
  }
  let blocks = 0;
  for (let l = 0; l < layers; l++) if (parametric(table, l)) blocks++;
  checkShapes(blocks, shapes, kernel);
  let b = 1;
  for (let l = 0; l < layers; l++) {
    if (!parametric(table, l)) continue;
    const i = fanInAt(shapes, b), o = fanOutAt(shapes, b);
    if (i != fanIn(table, l) || o != word(table, l, W_OUT + 2)) {
      abort(kernel + ": shapes block " + b.toString() + " must be the fanIn × fanOut of layer " + l.toString() + " = " +
        fanIn(table, l).toString() + " × " + word(table, l, W_OUT + 2).toString() + " (the table's weight blocks); got " +
        i.toString() + " × " + o.toString());
    }
    b++;
  }
  return blocks;
}

// Bytes of `work` seqLowRankForward needs for `count` members (antithetic ≠ 0: pairs share a stream)
// of rank `rank` over the table's network and `rows` samples.
export function seqLowRankWorkBytes(layers: i32, table: usize, rows: i32, shapes: usize, rank: i32, count: i32,
  antithetic: i32): i32 {
  const K = "seqLowRankWorkBytes";
  checkSize(rows, K, "rows");
  checkSize(rank, K, "rank");
  checkSize(count, K, "count");
  checkTable(layers, table, K);
  const blocks = checkModel(layers, table, shapes, K);
  checkCoords(blockCoordCount(blocks, shapes, rank), K);
  const lrm = <u64>lowRankMembersWorkBytes(blocks, shapes, rank);
  const bytes = plan(layers, table, rows, rank, streamBound(count, antithetic != 0), lrm);
  checkWorkBytes(bytes, K, "split the members or use a smaller rank");
  return <i32>bytes;
}

// out slice j = the forward of parameter row j over the batch: with center ≠ 0, row 0 = θ, then
// members i = member0 + j, θ + σ·s_i·D_{q_i} (rank-r directions over the weight blocks `shapes`).
//   net: seqNetwork's descriptor; its P (center + count rows, pStride floats apart) is overwritten
//     with the member rows (lowRankMembers), its out receives center + count slices
//     rows × outSize(last layer); layer 0 must be dense or conv2d with levels 0
//   shapes: i32[2·blocks], the table's weight blocks (fanIn, fanOut) in order; theta: f64 n
//   work: seqLowRankWorkBytes(layers, table, rows, shapes, rank, count, antithetic) bytes, 16-aligned
export function seqLowRankForward(net: usize, count: i32, rank: i32, shapes: usize, theta: usize, sigma: f64, seed: u32,
  draw: u32, member0: u32, antithetic: i32, center: i32, work: usize): void {
  const K = "seqLowRankForward";
  checkSize(count, K, "count");
  checkSize(rank, K, "rank");
  checkMemberRange(count, member0, K);
  checkFinite(sigma, K, "sigma");
  const lead = center != 0 ? 1 : 0;
  checkSeqNet(net, count + lead, K);
  const d = changetype<SeqNet>(net);
  const layers = d.layers, table = d.table, rows = d.rows, X = d.X, P = d.P, out = d.out;
  const blocks = checkModel(layers, table, shapes, K);
  checkCoords(blockCoordCount(blocks, shapes, rank), K);
  const anti = antithetic != 0;
  const first = streamOf(member0, anti);
  const S = <i32>(streamOf(member0 + <u32>(count - 1), anti) - first) + 1;
  const lrm = <u64>lowRankMembersWorkBytes(blocks, shapes, rank);
  const wBytes = plan(layers, table, rows, rank, S, lrm);
  let n: u64 = 0;
  for (let b = 1; b <= blocks; b++) n += <u64>fanInAt(shapes, b) * <u64>fanOutAt(shapes, b) + <u64>fanOutAt(shapes, b);
  const tBytes = n << 3;
  const pBytes = (<u64>(count + lead - 1) * <u64>d.pStride + n) << 2;
  const oBytes = <u64>(count + lead) * <u64>rows * <u64>outSize(table, layers - 1) << 2;
  const xBytes = <u64>rows * <u64>inSize(table, 0) << 2;
  checkRegion(theta, tBytes, 8, K, "theta");
  checkRegion(work, wBytes, 16, K, "work (seqLowRankWorkBytes bytes, 16-aligned)");
  checkDisjoint(theta, tBytes, P, pBytes, K, "theta", "P");
  checkDisjoint(theta, tBytes, out, oBytes, K, "theta", "out");
  checkDisjoint(work, wBytes, theta, tBytes, K, "work", "theta");
  checkDisjoint(work, wBytes, X, xBytes, K, "work", "X");
  checkDisjoint(work, wBytes, P, pBytes, K, "work", "P");
  checkDisjoint(work, wBytes, out, oBytes, K, "work", "out");
  checkDisjoint(work, wBytes, table, <u64>layers * <u64>LAYER_WORDS << 2, K, "work", "table");
  checkDisjoint(work, wBytes, net, 32, K, "work", "net");
  checkDisjoint(work, wBytes, shapes, <u64>blocks << 3, K, "work", "shapes");
  checkDisjoint(P, pBytes, shapes, <u64>blocks << 3, K, "P", "shapes");

  // every row (layers ≥ 1 are read from them), then the shared operands of layer 0
  lowRankMembers(count, blocks, shapes, rank, sigma, seed, draw, member0, antithetic, center, theta, P, d.pStride,
    work + <usize>oLRM);
  prepare(table, rank, first, S, seed, draw, theta, work);

  const K0 = fanIn(table, 0), N0 = word(table, 0, W_OUT + 2);
  const o0 = outSize(table, 0);
  const inB = <usize>inSize(table, 0) << 2;
  const outB = <usize>outSize(table, layers - 1) << 2;
  const slice = <usize>rows * outB;
  const pRow = <usize>d.pStride << 2;
  const invSqrtR = 1.0 / Math.sqrt(<f64>rank);
  const mStride = <usize>(N0 * rank + N0) << 3;
  const tb = theta + (<usize>K0 * <usize>N0 << 3); // θ's b_0
  const groups = (S + perGroup - 1) / perGroup;
  for (let s0 = 0; s0 < rows; s0 += block) {
    const samples = min(block, rows - s0);
    const x = X + <usize>s0 * inB;
    shared(table, samples, N0, x, work + <usize>oW0, work + <usize>oZ, work);
    if (lead != 0) {
      factors(N0, rank, 0, 0.0, tb, 0, work + <usize>oFAC);
      member(layers, table, samples, 0, rank, 0, work, P, out + <usize>s0 * outB);
    }
    let j = 0;
    for (let gi = 0; gi < groups; gi++) {
      shared(table, samples, GW, x, work + <usize>oUG + <usize>gi * <usize>K0 * <usize>GW * 4, work + <usize>oY, work);
      for (; j < count; j++) {
        const i = member0 + <u32>j;
        const u = <i32>(streamOf(i, anti) - first);
        if (u >= (gi + 1) * perGroup) break;
        const g = sigma * signOf(i, anti);
        factors(N0, rank, g, g * invSqrtR, tb, work + <usize>oVB + <usize>u * mStride, work + <usize>oFAC);
        member(layers, table, samples, rank, rank, (u - gi * perGroup) * rank, work, P + <usize>(lead + j) * pRow,
          out + <usize>(lead + j) * slice + <usize>s0 * outB);
      }
    }
  }
}

// Packs W_0 (θ narrowed) and, group by group, the streams' U_0 (exact in f32: ξ are f32 values);
// keeps each stream's V_0 and β_0 (f64).
function prepare(table: usize, rank: i32, first: u32, S: i32, seed: u32, draw: u32, theta: usize, work: usize): void {
  const K0 = fanIn(table, 0), N0 = word(table, 0, W_OUT + 2);
  const stage = work + <usize>oSTAGE;
  const kn = K0 * N0;
  for (let j = 0; j < kn; j++) store<f32>(stage + (<usize>j << 2), <f32>load<f64>(theta + (<usize>j << 3)));
  pack(table, K0, N0, stage, work + <usize>oW0);
  memory.fill(work + <usize>oZERO, 0, <usize>max(packedWidth(N0), GW) << 2);
  const uLen = K0 * rank;
  const rowB = <usize>GW << 2;
  const mLen = N0 * rank + N0;
  for (let g0 = 0; g0 < S; g0 += perGroup) {
    memory.fill(stage, 0, <usize>K0 * rowB);
    for (let u = g0; u < min(S, g0 + perGroup); u++) {
      const key = streamKey(seed, draw, first + <u32>u);
      const col = <usize>((u - g0) * rank) << 2;
      // U_0 (K0 × r) in TILE pieces, into its r columns of the stage
      for (let j0 = 0; j0 < uLen; j0 += TILE) {
        const len = min(TILE, uLen - j0);
        fillRange(key, <u64>j0, len, XI);
        let a = j0 / rank, c = j0 - a * rank;
        for (let j = 0; j < len; j++) {
          store<f32>(stage + <usize>a * rowB + col + (<usize>c << 2), <f32>load<f64>(XI + (<usize>j << 3)));
          if (++c == rank) { c = 0; a++; }
        }
      }
      fillRange(key, <u64>uLen, mLen, work + <usize>oVB + (<usize>u * <usize>mLen << 3));
    }
    pack(table, K0, GW, stage, work + <usize>oUG + <usize>(g0 / perGroup) * <usize>K0 * rowB);
  }
}

// Packs B (K × N f32, row-major) for layer 0's product: dense in the engine's K blocks, conv as one.
function pack(table: usize, K: i32, N: i32, B: usize, dst: usize): void {
  const dense = word(table, 0, W_OP) == OP_DENSE;
  const kc = dense ? kBlock(K) : K;
  const pw = <usize>packedWidth(N);
  const dot = dense && dotTail(N, 4);
  for (let k0 = 0; k0 < K; k0 += kc) packB(false, k0, min(kc, K - k0), N, B, N, dst + <usize>k0 * pw * 4, dot);
}

// dst(samples·positions × cols) = layer0(x; packed) without bias or activation.
function shared(table: usize, samples: i32, cols: i32, x: usize, packed: usize, dst: usize, work: usize): void {
  const tile = work + <usize>oREST;
  const zero = work + <usize>oZERO;
  if (word(table, 0, W_OP) == OP_CONV) {
    geometry(table, G0, cols);
    convBlock(changetype<Geom>(G0), samples, ACT_IDENTITY, x, packed, zero, dst, work + <usize>oPAD, tile);
    return;
  }
  const K = fanIn(table, 0);
  const kc = kBlock(K);
  const pw = <usize>packedWidth(cols);
  for (let k0 = 0; k0 < K; k0 += kc) {
    const kb = min(kc, K - k0);
    gemmBlock(samples, cols, kb, x + (<usize>k0 << 2), <usize>K << 2, 4, packed + <usize>k0 * pw * 4, dst, cols, 1.0, 1.0,
      k0 > 0, 0, ACT_IDENTITY, tile);
  }
}

// One member's layer-0 factors (f32): F[c][b] = f32(gv·V_0[b][c]) (r × N0), then the bias
// f32(θ_b + g·β_0[b]). vb: the stream's V_0 and β_0 (f64; ignored when gv = 0, the centre).
function factors(N0: i32, rank: i32, g: f64, gv: f64, tb: usize, vb: usize, F: usize): void {
  if (vb != 0) {
    for (let b = 0; b < N0; b++) {
      for (let c = 0; c < rank; c++) {
        store<f32>(F + (<usize>(c * N0 + b) << 2), <f32>(gv * load<f64>(vb + (<usize>(b * rank + c) << 3))));
      }
    }
  }
  const beta = vb + (<usize>(N0 * rank) << 3);
  const bias = F + (<usize>(rank * N0) << 2);
  for (let b = 0; b < N0; b++) {
    const t = load<f64>(tb + (<usize>b << 3));
    store<f32>(bias + (<usize>b << 2), <f32>(vb != 0 ? t + g * load<f64>(beta + (<usize>b << 3)) : t));
  }
}

// A member (row p) over the block: its layer-0 activation act(Z0 + Σ_{c<terms} Y[col + c]·F_c + bias)
// (terms = 0: the centre) then its layers ≥ 1 into dst (samples × outSize(last)).
function member(layers: i32, table: usize, samples: i32, terms: i32, rank: i32, col: i32, work: usize, p: usize,
  dst: usize): void {
  const N0 = word(table, 0, W_OUT + 2);
  const pos = word(table, 0, W_OUT) * word(table, 0, W_OUT + 1);
  const F = work + <usize>oFAC;
  const H = layers > 1 ? work + <usize>oH : dst;
  epilogue(samples * pos, N0, terms, work + <usize>oZ, work + <usize>oY + (<usize>col << 2), <usize>GW << 2, F,
    F + (<usize>(rank * N0) << 2), word(table, 0, W_ACT), H);
  if (layers == 1) return;
  const t = rest(table);
  const rw = work + <usize>oREST;
  packMember(layers - 1, t, p, rw);
  const o0B = <usize>outSize(table, 0) << 2;
  const outB = <usize>outSize(table, layers - 1) << 2;
  const rb = planBlock();
  for (let s = 0; s < samples; s += rb) {
    runBlock(layers - 1, t, min(rb, samples - s), H + <usize>s * o0B, p, dst + <usize>s * outB, rw);
  }
}

// dst[q][b] = act(Z[q][b] + Σ_{c<terms} Y[q][c]·F[c][b] + bias[b]) for q < positions, b < N; Z, dst:
// positions × N; Y rows yRow bytes apart; F: terms × N. SIMD, N ≥ 4: 4 channels at a time, the last
// vector at N − 4 (overlapping lanes get the same values); each lane does the scalar loop's
// operations in its order, so both builds give the same bits.
function epilogue(positions: i32, N: i32, terms: i32, Z: usize, Y: usize, yRow: usize, F: usize, bias: usize, act: i32,
  dst: usize): void {
  const rowB = <usize>N << 2;
  if (ASC_FEATURE_SIMD && N >= 4 && terms <= 1) {
    // rank 1 and the centre (the fit's case): one loop nest per activation (a constant inside)
    switch (act) {
      case ACT_RELU: rank1(positions, rowB, terms, Z, Y, yRow, F, bias, ACT_RELU, dst); break;
      case ACT_TANH: rank1(positions, rowB, terms, Z, Y, yRow, F, bias, ACT_TANH, dst); break;
      case ACT_SIGMOID: rank1(positions, rowB, terms, Z, Y, yRow, F, bias, ACT_SIGMOID, dst); break;
      case ACT_SIGN: rank1(positions, rowB, terms, Z, Y, yRow, F, bias, ACT_SIGN, dst); break;
      case ACT_HEAVISIDE: rank1(positions, rowB, terms, Z, Y, yRow, F, bias, ACT_HEAVISIDE, dst); break;
      case ACT_HARD_TANH: rank1(positions, rowB, terms, Z, Y, yRow, F, bias, ACT_HARD_TANH, dst); break;
      default: rank1(positions, rowB, terms, Z, Y, yRow, F, bias, ACT_IDENTITY, dst);
    }
    return;
  }
  if (ASC_FEATURE_SIMD && N >= 4) {
    const last = rowB - 16;
    for (let q = 0; q < positions; q++) {
      const z = Z + <usize>q * rowB, y = Y + <usize>q * yRow, o = dst + <usize>q * rowB;
      for (let b: usize = 0; b < rowB; b += 16) {
        const at = min(b, last);
        let v = v128.load(z + at);
        let f = F + at;
        for (let c = 0; c < terms; c++) {
          v = f32x4.add(v, f32x4.mul(v128.load32_splat(y + (<usize>c << 2)), v128.load(f)));
          f += rowB;
        }
        v128.store(o + at, act4(f32x4.add(v, v128.load(bias + at)), act));
      }
    }
    return;
  }
  for (let q = 0; q < positions; q++) {
    const z = Z + <usize>q * rowB, y = Y + <usize>q * yRow, o = dst + <usize>q * rowB;
    for (let b: usize = 0; b < rowB; b += 4) {
      let v = load<f32>(z + b);
      let f = F + b;
      for (let c = 0; c < terms; c++) {
        v = v + load<f32>(y + (<usize>c << 2)) * load<f32>(f);
        f += rowB;
      }
      store<f32>(o + b, actScalar(v + load<f32>(bias + b), act));
    }
  }
}

// The epilogue for terms ≤ 1 (SIMD, rowB ≥ 16 bytes): per channel vector, its factor and bias held
// over all positions.
// @ts-ignore: decorator
@inline
function rank1(positions: i32, rowB: usize, terms: i32, Z: usize, Y: usize, yRow: usize, F: usize, bias: usize,
  act: i32, dst: usize): void {
  const end = <usize>positions * rowB;
  const last = rowB - 16;
  for (let b: usize = 0; b < rowB; b += 16) {
    const at = min(b, last);
    const bv = v128.load(bias + at);
    if (terms == 1) {
      const f = v128.load(F + at);
      let y = Y;
      for (let o: usize = at; o < end; o += rowB) {
        const v = f32x4.add(v128.load(Z + o), f32x4.mul(v128.load32_splat(y), f));
        v128.store(dst + o, act4(f32x4.add(v, bv), act));
        y += yRow;
      }
    } else {
      for (let o: usize = at; o < end; o += rowB) v128.store(dst + o, act4(f32x4.add(v128.load(Z + o), bv), act));
    }
  }
}
