// seq kernel family: the forward pass of a sequential network (dense / conv2d / maxPool2d /
// avgPool2d layers, channels-last f32) for an ensemble of parameter rows in one call.
// The network is a layer table (i32, LAYER_WORDS words per layer, below); seqNetwork writes a
// descriptor with the buffers once, seqForward runs `members` parameter rows over the batch.
// Per member every parametric layer's W is (quantized, quantize.ts, and) packed once for the GEMM
// engine; the batch then runs through all layers a block of samples at a time (conv.ts: im2col +
// GEMM with bias and activation in its epilogue; pooling; dense = the engine on the flattened
// activation), so the scratch is bounded by the block, never by members or rows.
//
// Layer table, word w of layer l at table[l·LAYER_WORDS + w]:
//   0 op (OP_*)  1 act (ACT_*; pools 0)  2 inH 3 inW 4 inC  5 outH 6 outW 7 outC (dense: 1, 1, units)
//   8 kh 9 kw 10 strideH 11 strideW (pools: the pool size and strides; dense: ignored)
//  12 padTop 13 padLeft (conv 'same': ⌊total/2⌋ of total = max((out − 1)·stride + k − in, 0);
//     'valid' and pools: 0; dense: ignored)
//  14 wOffset: float index of W in a parameter row (b follows W); −1 for pools
//  15 levels: 0 real weights, ≥ 2 quantized weights  16 range R (f32 bits; 0 when levels = 0)
//  17 … 19 reserved, 0
// Parameters: layer after layer, W (fanIn × fanOut row-major; conv: [kh, kw, inC, outC]) then b.
//
// Descriptor (SEQ_NET_BYTES = 32, 4-aligned; in the argument order of seqNetwork):
//   0 layers  4 table  8 rows  12 X: rows × inH·inW·inC (layer 0) f32
//  16 P: parameter rows f32, pStride floats apart   20 pStride
//  24 out: members × rows × outH·outW·outC (last layer) f32   28 work: seqWorkBytes bytes, 16-aligned
import {
  ACT_HARD_TANH, ACT_IDENTITY, checkAct, checkArray, checkDisjoint, checkFits, checkRegion, checkSize, checkStride, checkWorkBytes,
} from "./checks";
import { convBlock, convChunk, convPackDot, Geom, poolBlock } from "./conv";
import { COPY_BYTES, dotTail, kBlock, packB, packedWidth, TILE_BYTES } from "./gemm-pack";
import { gemmBlock } from "./gemm-tile";
import { up16 } from "./lowrank-core";
import { quantizeInto } from "./quantize";

export const LAYER_WORDS: i32 = 20;
export const OP_DENSE: i32 = 0;
export const OP_CONV: i32 = 1;
export const OP_MAX_POOL: i32 = 2;
export const OP_AVG_POOL: i32 = 3;

const W_OP = 0, W_ACT = 1, W_IN = 2, W_OUT = 5, W_KH = 8, W_KW = 9, W_SH = 10, W_SW = 11, W_PT = 12, W_PL = 13;
const W_OFFSET = 14, W_LEVELS = 15, W_RANGE = 16, W_RESERVED = 17;

// Largest levels: every level index is an exact f32 integer.
const LEVELS_MAX: i32 = 1 << 24;
// Samples per block: its widest activation holds at most ACT_FLOATS floats (2 × 256 KiB ping-pong,
// L2-sized), at least one sample and at most BLOCK_MAX.
const ACT_FLOATS: i32 = 65536;
const BLOCK_MAX: i32 = 512;
// im2col chunk: at most COL_FLOATS floats (128 KiB), at least 4 patch rows.
const COL_FLOATS: i32 = 32768;

// @ts-ignore: decorator
@unmanaged
class SeqNet {
  layers: i32;
  table: usize;
  rows: i32;
  X: usize;
  P: usize;
  pStride: i32;
  out: usize;
  work: usize;
}

const SEQ_NET_BYTES: i32 = 32;

// Word w of layer l.
// @ts-ignore: decorator
@inline
function word(table: usize, l: i32, w: i32): i32 {
  return load<i32>(table + (<usize>(l * LAYER_WORDS + w) << 2));
}

// Per-sample sizes of layer l's input and output (checked to fit i32 by checkTable).
// @ts-ignore: decorator
@inline
function inSize(table: usize, l: i32): i32 {
  return word(table, l, W_IN) * word(table, l, W_IN + 1) * word(table, l, W_IN + 2);
}

// @ts-ignore: decorator
@inline
function outSize(table: usize, l: i32): i32 {
  return word(table, l, W_OUT) * word(table, l, W_OUT + 1) * word(table, l, W_OUT + 2);
}

// Whether layer l has parameters (dense or conv2d).
// @ts-ignore: decorator
@inline
function parametric(table: usize, l: i32): bool {
  return word(table, l, W_OP) <= OP_CONV;
}

// fanIn of a parametric layer: inH·inW·inC (dense) or kh·kw·inC (conv2d).
function fanIn(table: usize, l: i32): i32 {
  return word(table, l, W_OP) == OP_DENSE ? inSize(table, l) : word(table, l, W_KH) * word(table, l, W_KW) * word(table, l, W_IN + 2);
}

// Name of table word w (w < W_OFFSET: the geometry words), for messages.
function wordName(w: i32): string {
  switch (w) {
    case W_OP: return "op";
    case W_ACT: return "act";
    case W_IN: return "inH";
    case W_IN + 1: return "inW";
    case W_IN + 2: return "inC";
    case W_OUT: return "outH";
    case W_OUT + 1: return "outW";
    case W_OUT + 2: return "outC";
    case W_KH: return "kh";
    case W_KW: return "kw";
    case W_SH: return "strideH";
    case W_SW: return "strideW";
    case W_PT: return "padTop";
    case W_PL: return "padLeft";
    case W_OFFSET: return "wOffset";
    case W_LEVELS: return "levels";
    case W_RANGE: return "range";
  }
  return "word " + w.toString();
}

// The abort of a table word: "<kernel>: layer l <word> must be <what>; got <value>".
function badWord(table: usize, l: i32, w: i32, what: string, kernel: string): void {
  abort(kernel + ": layer " + l.toString() + " " + wordName(w) + " must be " + what + "; got " + word(table, l, w).toString());
}

// Aborts unless word w of layer l equals want; what says where want comes from.
function expectWord(table: usize, l: i32, w: i32, want: i32, what: string, kernel: string): void {
  if (word(table, l, w) != want) badWord(table, l, w, what + " = " + want.toString(), kernel);
}

// Aborts unless word w of layer l equals the constant want; why says why.
function expectConst(table: usize, l: i32, w: i32, want: i32, why: string, kernel: string): void {
  if (word(table, l, w) != want) badWord(table, l, w, want.toString() + " (" + why + ")", kernel);
}

// Aborts unless words w0 … w1 − 1 of layer l are ≥ 1.
function expectPositive(table: usize, l: i32, w0: i32, w1: i32, kernel: string): void {
  for (let w = w0; w < w1; w++) if (word(table, l, w) < 1) badWord(table, l, w, "≥ 1", kernel);
}

// Aborts unless the product of words w … w + 2 of layer l (a per-sample size) is ≤ 2^29 − 1.
function expectSize(table: usize, l: i32, w: i32, kernel: string): void {
  const size = <u64>word(table, l, w) * <u64>word(table, l, w + 1) * <u64>word(table, l, w + 2);
  if (size > 0x1FFFFFFF) {
    abort(kernel + ": layer " + l.toString() + " " + wordName(w) + "·" + wordName(w + 1) + "·" + wordName(w + 2) +
      " must be ≤ " + (0x1FFFFFFF).toString() + " (use a smaller layer); got " + size.toString());
  }
}

// Checks the output size and padding of one spatial axis (a = 0: H, 1: W) of a conv / pool.
function checkAxis(table: usize, l: i32, a: i32, pooled: bool, kernel: string): void {
  const inS = word(table, l, W_IN + a), outS = word(table, l, W_OUT + a);
  const k = word(table, l, W_KH + a), st = word(table, l, W_SH + a), pad = word(table, l, W_PT + a);
  const valid = inS >= k ? (inS - k) / st + 1 : 0;
  if (pooled) {
    expectConst(table, l, W_PT + a, 0, "pools are 'valid'", kernel);
    if (valid < 1) badWord(table, l, W_KH + a, "≤ " + wordName(W_IN + a) + " = " + inS.toString() + " (the window must fit)", kernel);
    expectWord(table, l, W_OUT + a, valid, "⌊(in − k)/stride⌋ + 1", kernel);
    return;
  }
  const same = (inS + st - 1) / st;
  const sameTop = max((same - 1) * st + k - inS, 0) / 2;
  if (pad == 0 && outS == valid && valid >= 1) return;
  if (outS == same && pad == sameTop) return;
  abort(kernel + ": layer " + l.toString() + " " + wordName(W_OUT + a) + ", " + wordName(W_PT + a) + " must be " +
    (valid >= 1 ? valid.toString() + ", 0 ('valid') or " : "") + same.toString() + ", " + sameTop.toString() +
    " ('same'); got " + outS.toString() + ", " + pad.toString());
}

// Checks the words of a pooling layer l.
function checkPool(table: usize, l: i32, kernel: string): void {
  expectConst(table, l, W_ACT, 0, "pools have no activation", kernel);
  expectWord(table, l, W_OUT + 2, word(table, l, W_IN + 2), "inC", kernel);
  expectPositive(table, l, W_KH, W_PT, kernel);
  checkAxis(table, l, 0, true, kernel);
  checkAxis(table, l, 1, true, kernel);
  expectConst(table, l, W_OFFSET, -1, "pools have no parameters", kernel);
  expectConst(table, l, W_LEVELS, 0, "pools have no weights", kernel);
  expectConst(table, l, W_RANGE, 0, "pools have no weights", kernel);
}

// Checks the words of a dense / conv2d layer l whose W starts at float n; returns its parameter count.
function checkParametric(table: usize, l: i32, n: u64, kernel: string): u64 {
  const act = word(table, l, W_ACT);
  if (act < ACT_IDENTITY || act > ACT_HARD_TANH) checkAct(act, kernel, "layer " + l.toString() + " act");
  if (word(table, l, W_OP) == OP_DENSE) {
    expectConst(table, l, W_OUT, 1, "dense", kernel);
    expectConst(table, l, W_OUT + 1, 1, "dense", kernel);
  } else {
    expectPositive(table, l, W_KH, W_PT, kernel);
    checkAxis(table, l, 0, false, kernel);
    checkAxis(table, l, 1, false, kernel);
  }
  // W right after the previous layer's b
  if (n > 0x7FFFFFFF) checkFits(n, 0x7FFFFFFF, kernel, "the parameter count", "use fewer or smaller layers");
  expectWord(table, l, W_OFFSET, <i32>n, "the parameter count of the layers before it", kernel);
  const fanOut = <u64>word(table, l, W_OUT + 2);
  const K = word(table, l, W_OP) == OP_DENSE ? <u64>inSize(table, l)
    : <u64>word(table, l, W_KH) * <u64>word(table, l, W_KW) * <u64>word(table, l, W_IN + 2);
  if (K > 0x1FFFFFFF) checkFits(K, 0x1FFFFFFF, kernel, "a layer's fanIn", "use a smaller kernel or input");
  const levels = word(table, l, W_LEVELS);
  const R = reinterpret<f32>(word(table, l, W_RANGE));
  if (levels == 0) {
    expectConst(table, l, W_RANGE, 0, "the bits of +0.0 when levels = 0", kernel);
  } else if (levels < 2 || levels > LEVELS_MAX) {
    badWord(table, l, W_LEVELS, "0 (real weights) or in [2, " + LEVELS_MAX.toString() + "]", kernel);
  } else if (!(R > 0 && R < Infinity)) {
    abort(kernel + ": layer " + l.toString() + " range must be the f32 bits of a finite R > 0 with levels ≥ 2; got " +
      R.toString());
  }
  return K * fanOut + fanOut;
}

// Checks layers and the table (layers × LAYER_WORDS i32); returns the parameter count n.
export function checkTable(layers: i32, table: usize, kernel: string): u64 {
  checkSize(layers, kernel, "layers");
  checkArray(table, <u64>layers * <u64>LAYER_WORDS, 4, kernel, "table");
  let n: u64 = 0;
  for (let l = 0; l < layers; l++) {
    const op = word(table, l, W_OP);
    if (op < OP_DENSE || op > OP_AVG_POOL) badWord(table, l, W_OP, "0 (dense), 1 (conv2d), 2 (maxPool2d) or 3 (avgPool2d)", kernel);
    expectPositive(table, l, W_IN, W_OUT + 3, kernel);
    expectSize(table, l, W_IN, kernel);
    expectSize(table, l, W_OUT, kernel);
    // the shapes chain: layer l's input is layer l − 1's output
    if (l > 0) {
      for (let a = 0; a < 3; a++) {
        if (word(table, l, W_IN + a) != word(table, l - 1, W_OUT + a)) {
          badWord(table, l, W_IN + a, "layer " + (l - 1).toString() + "'s " + wordName(W_OUT + a) + " = " +
            word(table, l - 1, W_OUT + a).toString(), kernel);
        }
      }
    }
    for (let w = W_RESERVED; w < LAYER_WORDS; w++) expectConst(table, l, w, 0, "reserved", kernel);
    if (parametric(table, l)) n += checkParametric(table, l, n, kernel);
    else checkPool(table, l, kernel);
  }
  if (n > 0x7FFFFFFF) checkFits(n, 0x7FFFFFFF, kernel, "the parameter count", "use fewer or smaller layers");
  return n;
}

// The parameter count of the network in the table (checked).
export function seqParamCount(layers: i32, table: usize): i32 {
  return <i32>checkTable(layers, table, "seqParamCount");
}

// Work layout (byte offsets into work, each 16-aligned), set by plan() for a checked table.
let oPACK: u64 = 0;  // f32 Σ_l K_l·packedWidth(N_l): one member's packed W of every parametric layer
let oQ: u64 = 0;     // f32 max over quantized layers of fanIn·fanOut: Q(W) before packing
let oPING: u64 = 0;  // f32 block × widest activation
let oPONG: u64 = 0;  // f32 block × widest activation
let oCOL: u64 = 0;   // f32 COL_FLOATS (or less): im2col rows
let block: i32 = 1;  // samples per block

// Sets the work layout for rows samples; returns its total bytes (offset 0: the engine's tile).
function plan(layers: i32, table: usize, rows: i32): u64 {
  let widest = 1, pack: u64 = 0, q: u64 = 0, col: u64 = 0;
  for (let l = 0; l < layers; l++) {
    if (l < layers - 1) widest = max(widest, outSize(table, l));
    if (!parametric(table, l)) continue;
    const K = fanIn(table, l), N = word(table, l, W_OUT + 2);
    pack += <u64>K * <u64>packedWidth(N);
    if (word(table, l, W_LEVELS) != 0) q = max(q, <u64>K * <u64>N);
    if (word(table, l, W_OP) == OP_CONV) col = max(col, <u64>convChunk(K, 0x7FFFFFFF, COL_FLOATS) * <u64>K);
  }
  block = min(rows, min(BLOCK_MAX, max(1, ACT_FLOATS / widest)));
  const act = <u64>block * <u64>(layers > 1 ? widest : 0);
  let at = up16(<u64>TILE_BYTES + <u64>COPY_BYTES);
  oPACK = at; at = up16(at + (pack << 2));
  oQ = at; at = up16(at + (q << 2));
  oPING = at; at = up16(at + (act << 2));
  oPONG = at; at = up16(at + (act << 2));
  oCOL = at; at = up16(at + (col << 2));
  return at;
}

// Bytes of scratch `work` that seqForward needs for this table and rows.
export function seqWorkBytes(layers: i32, table: usize, rows: i32): i32 {
  checkSize(rows, "seqWorkBytes", "rows");
  checkTable(layers, table, "seqWorkBytes");
  const bytes = plan(layers, table, rows);
  checkWorkBytes(bytes, "seqWorkBytes", "use narrower layers");
  return <i32>bytes;
}

// Bytes of a descriptor (the host allocates them and passes the pointer to seqNetwork).
export function seqNetworkBytes(): i32 {
  return SEQ_NET_BYTES;
}

// Writes the descriptor at net (SEQ_NET_BYTES, 4-aligned) and checks it as a one-member call would.
export function seqNetwork(net: usize, layers: i32, table: usize, rows: i32, X: usize, P: usize, pStride: i32,
  out: usize, work: usize): void {
  checkRegion(net, <u64>SEQ_NET_BYTES, 4, "seqNetwork", "net");
  const d = changetype<SeqNet>(net);
  d.layers = layers;
  d.table = table;
  d.rows = rows;
  d.X = X;
  d.P = P;
  d.pStride = pStride;
  d.out = out;
  d.work = work;
  checkSeqNet(net, 1, "seqNetwork");
}

// Checks the descriptor, its table and its buffers for `members` parameter rows.
function checkSeqNet(net: usize, members: i32, kernel: string): void {
  checkRegion(net, <u64>SEQ_NET_BYTES, 4, kernel, "net");
  const d = changetype<SeqNet>(net);
  const layers = d.layers, table = d.table, rows = d.rows, pStride = d.pStride;
  checkSize(rows, kernel, "rows");
  const n = checkTable(layers, table, kernel);
  checkStride(pStride, n, kernel, "pStride", "the parameter count");
  if ((pStride & 3) != 0) abort(kernel + ": pStride must be a multiple of 4; got " + pStride.toString());
  const X = d.X, P = d.P, out = d.out, work = d.work;
  const tBytes = <u64>layers * <u64>LAYER_WORDS << 2;
  const xBytes = <u64>rows * <u64>inSize(table, 0) << 2;
  const pBytes = (<u64>(members - 1) * <u64>pStride + n) << 2;
  const oBytes = <u64>members * <u64>rows * <u64>outSize(table, layers - 1) << 2;
  const wBytes = plan(layers, table, rows);
  checkRegion(X, xBytes, 4, kernel, "X");
  checkRegion(P, pBytes, 4, kernel, "P");
  checkRegion(out, oBytes, 4, kernel, "out");
  checkRegion(work, wBytes, 16, kernel, "work (seqWorkBytes bytes, 16-aligned)");
  checkDisjoint(out, oBytes, X, xBytes, kernel, "out", "X");
  checkDisjoint(out, oBytes, P, pBytes, kernel, "out", "P");
  checkDisjoint(out, oBytes, table, tBytes, kernel, "out", "table");
  checkDisjoint(work, wBytes, X, xBytes, kernel, "work", "X");
  checkDisjoint(work, wBytes, P, pBytes, kernel, "work", "P");
  checkDisjoint(work, wBytes, out, oBytes, kernel, "work", "out");
  checkDisjoint(work, wBytes, table, tBytes, kernel, "work", "table");
}

// Packs (after quantizing, for levels ≥ 2) every parametric layer's W of parameter row p.
function packMember(layers: i32, table: usize, p: usize, work: usize): void {
  let dst = work + <usize>oPACK;
  for (let l = 0; l < layers; l++) {
    if (!parametric(table, l)) continue;
    const K = fanIn(table, l), N = word(table, l, W_OUT + 2);
    let W = p + (<usize>word(table, l, W_OFFSET) << 2);
    const levels = word(table, l, W_LEVELS);
    if (levels != 0) {
      const Q = work + <usize>oQ;
      quantizeInto(K * N, levels, reinterpret<f32>(word(table, l, W_RANGE)), W, Q);
      W = Q;
    }
    const kc = kBlock(K);
    const pw = <usize>packedWidth(N);
    let dot = dotTail(N, 4);
    if (word(table, l, W_OP) == OP_CONV) {
      const g = changetype<Geom>(GEOM);
      geometry(table, l, g);
      dot = convPackDot(g);
    }
    for (let k0 = 0; k0 < K; k0 += kc) {
      const kb = min(kc, K - k0);
      packB(false, k0, kb, N, W, N, dst + <usize>k0 * pw * 4, dot);
    }
    dst += <usize>K * pw * 4;
  }
}

// Reads layer l's geometry into g.
function geometry(table: usize, l: i32, g: Geom): void {
  memory.copy(changetype<usize>(g), table + (<usize>(l * LAYER_WORDS + W_IN) << 2), 12 << 2);
}

// Dense layer on `samples` rows: dst(samples × N) = act(inp(samples × K)·W + b).
function denseBlock(samples: i32, K: i32, N: i32, act: i32, inp: usize, packed: usize, bias: usize, dst: usize,
  tile: usize): void {
  const kc = kBlock(K);
  const pw = <usize>packedWidth(N);
  for (let k0 = 0; k0 < K; k0 += kc) {
    const kb = min(kc, K - k0);
    const last = k0 + kb == K;
    gemmBlock(samples, N, kb, inp + (<usize>k0 << 2), <usize>K << 2, 4, packed + <usize>k0 * pw * 4, dst, N, 1.0, 1.0,
      k0 > 0, last ? bias : 0, last ? act : ACT_IDENTITY, tile);
  }
}

// Geometry scratch of the running layer (12 words, in the table's order inH … padLeft).
const GEOM = memory.data(48, 16);

// One member's forward of `samples` rows starting at row s0 (its W already packed in work).
function runBlock(layers: i32, table: usize, samples: i32, inp: usize, p: usize, dst: usize, work: usize): void {
  const g = changetype<Geom>(GEOM);
  const tile = work;
  let packed = work + <usize>oPACK;
  for (let l = 0; l < layers; l++) {
    const op = word(table, l, W_OP);
    const y = l == layers - 1 ? dst : (l & 1) == 0 ? work + <usize>oPING : work + <usize>oPONG;
    if (op == OP_MAX_POOL || op == OP_AVG_POOL) {
      geometry(table, l, g);
      poolBlock(g, samples, op == OP_MAX_POOL, inp, y);
    } else {
      const K = fanIn(table, l), N = word(table, l, W_OUT + 2), act = word(table, l, W_ACT);
      const bias = p + (<usize>word(table, l, W_OFFSET) << 2) + (<usize>K * <usize>N << 2);
      if (op == OP_DENSE) denseBlock(samples, K, N, act, inp, packed, bias, y, tile);
      else {
        geometry(table, l, g);
        convBlock(g, samples, act, inp, packed, bias, y, work + <usize>oCOL, COL_FLOATS, tile);
      }
      packed += <usize>K * <usize>packedWidth(N) << 2;
    }
    inp = y;
  }
}

// out[m] = the network's forward of parameter row m over the batch X, for m < members.
//   net: the descriptor (seqNetwork); out: members × rows × (last layer's outH·outW·outC) f32
export function seqForward(net: usize, members: i32): void {
  const K = "seqForward";
  checkSize(members, K, "members");
  checkSeqNet(net, members, K);
  const d = changetype<SeqNet>(net);
  // the descriptor read once (plan() above set the work layout for it)
  const layers = d.layers, table = d.table, rows = d.rows, X = d.X, P = d.P, out = d.out, work = d.work;
  const pRow = <usize>d.pStride << 2;
  const inB = <usize>inSize(table, 0) << 2;
  const outB = <usize>outSize(table, layers - 1) << 2;
  for (let m = 0; m < members; m++) {
    const p = P + <usize>m * pRow;
    packMember(layers, table, p, work);
    const slice = out + <usize>m * <usize>rows * outB;
    for (let s0 = 0; s0 < rows; s0 += block) {
      const samples = min(block, rows - s0);
      runBlock(layers, table, samples, X + <usize>s0 * inB, p, slice + <usize>s0 * outB, work);
    }
  }
}
