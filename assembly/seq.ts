// seq kernel family: the forward pass of a sequential network (dense / conv2d / maxPool2d /
// avgPool2d layers, channels-last f32) for an ensemble of parameter rows in one call.
// The network is a layer table (i32, LAYER_WORDS words per layer, seq-table.ts); seqNetwork writes a
// descriptor with the buffers once, seqForward runs `members` parameter rows over the batch.
// Per member every parametric layer's W is (quantized, quantize.ts, and) packed once for the GEMM
// engine; the batch then runs through all layers a block of samples at a time (conv.ts: conv as a
// GEMM with bias and activation in its epilogue, pooling; dense = the engine on the flattened
// activation), so the scratch is bounded by the block, never by members or rows.
//
// Descriptor (SEQ_NET_BYTES = 32, 4-aligned; in the argument order of seqNetwork):
//   0 layers  4 table  8 rows  12 X: rows × inH·inW·inC (layer 0) f32
//  16 P: parameter rows f32, pStride floats apart   20 pStride
//  24 out: members × rows × outH·outW·outC (last layer) f32   28 work: seqWorkBytes bytes, 16-aligned
import { ACT_IDENTITY, checkDisjoint, checkRegion, checkSize, checkStride, checkWorkBytes } from "./checks";
import { convBlock, Geom, paddedSize, poolBlock } from "./conv";
import { COPY_BYTES, dotTail, kBlock, packB, packedWidth, TILE_BYTES } from "./gemm-pack";
import { gemmBlock } from "./gemm-tile";
import { up16 } from "./lowrank-core";
import { quantizeInto } from "./quantize";
import {
  checkTable, fanIn, inSize, LAYER_WORDS, OP_AVG_POOL, OP_CONV, OP_DENSE, OP_MAX_POOL, outSize, parametric, W_ACT, W_IN,
  W_KH, W_LEVELS, W_OFFSET, W_OP, W_OUT, W_RANGE, word,
} from "./seq-table";

// Samples per block: its widest activation holds at most ACT_FLOATS floats (2 × 256 KiB ping-pong,
// L2-sized), at least one sample and at most BLOCK_MAX.
const ACT_FLOATS: i32 = 65536;
const BLOCK_MAX: i32 = 512;

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

// The parameter count of the network in the table (checked).
export function seqParamCount(layers: i32, table: usize): i32 {
  return <i32>checkTable(layers, table, "seqParamCount");
}

// Work layout (byte offsets into work, each 16-aligned), set by plan() for a checked table.
let oPACK: u64 = 0;  // f32 Σ_l K_l·packedWidth(N_l): one member's packed W of every parametric layer
let oQ: u64 = 0;     // f32 max over quantized layers of fanIn·fanOut: Q(W) before packing
let oPING: u64 = 0;  // f32 block × widest activation
let oPONG: u64 = 0;  // f32 block × widest activation
let oTAPS: u64 = 0;  // i32 max kh·kw of the pools: a pool's tap offsets
let oPAD: u64 = 0;   // f32 block × the largest paddedSize: a padded conv's zero-padded input
let block: i32 = 1;  // samples per block

// Sets the work layout for rows samples; returns its total bytes (offset 0: the engine's tile).
function plan(layers: i32, table: usize, rows: i32): u64 {
  const g = changetype<Geom>(GEOM);
  let widest = 1, pack: u64 = 0, q: u64 = 0, taps: u64 = 0, pad: u64 = 0;
  for (let l = 0; l < layers; l++) {
    if (l < layers - 1) widest = max(widest, outSize(table, l));
    const op = word(table, l, W_OP);
    if (op == OP_MAX_POOL || op == OP_AVG_POOL) {
      taps = max(taps, <u64>word(table, l, W_KH) * <u64>word(table, l, W_KH + 1));
      continue;
    }
    const K = fanIn(table, l), N = word(table, l, W_OUT + 2);
    pack += <u64>K * <u64>packedWidth(N);
    if (word(table, l, W_LEVELS) != 0) q = max(q, <u64>K * <u64>N);
    if (op != OP_CONV) continue;
    geometry(table, l, g);
    pad = max(pad, <u64>paddedSize(g));
  }
  block = min(rows, min(BLOCK_MAX, max(1, ACT_FLOATS / widest)));
  const act = <u64>block * <u64>(layers > 1 ? widest : 0);
  let at = up16(<u64>TILE_BYTES + <u64>COPY_BYTES);
  oPACK = at; at = up16(at + (pack << 2));
  oQ = at; at = up16(at + (q << 2));
  oPING = at; at = up16(at + (act << 2));
  oPONG = at; at = up16(at + (act << 2));
  oTAPS = at; at = up16(at + (taps << 2));
  oPAD = at; at = up16(at + (<u64>block * pad << 2));
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
    // dense: gemmBlock's K blocks and dot tail; conv: one K block, no dot tail (conv-tile.ts)
    const dense = word(table, l, W_OP) == OP_DENSE;
    const kc = dense ? kBlock(K) : K;
    const pw = <usize>packedWidth(N);
    const dot = dense && dotTail(N, 4);
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
      poolBlock(g, samples, op == OP_MAX_POOL, inp, y, work + <usize>oTAPS);
    } else {
      const K = fanIn(table, l), N = word(table, l, W_OUT + 2), act = word(table, l, W_ACT);
      const bias = p + (<usize>word(table, l, W_OFFSET) << 2) + (<usize>K * <usize>N << 2);
      if (op == OP_DENSE) denseBlock(samples, K, N, act, inp, packed, bias, y, tile);
      else {
        geometry(table, l, g);
        convBlock(g, samples, act, inp, packed, bias, y, work + <usize>oPAD, tile);
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
