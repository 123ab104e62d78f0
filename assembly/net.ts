// The network descriptor of the whole-MLP kernels (dense.ts): the arguments that stay the same
// from call to call — shape, activations, buffers — written once into module memory by
// mlpNetwork, so mlpForward / mlpForwardPerturbed take the descriptor plus the per-call values.
// Every call re-checks the descriptor (the host may have rewritten it): O(layers), no allocation.
//
// Layout (NET_BYTES = 48 bytes, 4-aligned; i32 / u32 words, in the argument order of mlpNetwork):
//   0 layers L    4 act     8 outAct   12 rows
//  16 dims: i32[L + 1]                    20 X: rows × d_0 f32, shared by all members
//  24 P: parameter rows, f32, pStride apart (mlpForward reads `members` rows; mlpForwardPerturbed
//     writes its members into 1 row, 2 with antithetic pairs)
//  28 pStride (floats)                    32 out: members × rows × d_L f32 (the logits)
//  36 bufA, 40 bufB: rows × max(d_1 … d_{L−1}) f32 each (bufA used from 2 layers, bufB from 3)
//  44 work: mlpWorkBytes(rows, L, dims) bytes, 16-aligned
import { checkAct, checkDisjoint, checkLayers, checkRegion, checkSize, checkStride, checkWorkBytes } from "./checks";
import { engineWorkBytes } from "./gemm-pack";

// @ts-ignore: decorator
@unmanaged
export class Net {
  layers: i32;
  act: i32;
  outAct: i32;
  rows: i32;
  dims: usize;
  X: usize;
  P: usize;
  pStride: i32;
  out: usize;
  bufA: usize;
  bufB: usize;
  work: usize;
}

export const NET_BYTES: i32 = 48;

// Bytes of a network descriptor (the host allocates them and passes the pointer to mlpNetwork).
export function mlpNetworkBytes(): i32 {
  return NET_BYTES;
}

// Reads and checks dims (layers + 1 sizes ≥ 1); returns the work bytes the layers need.
function layerWork(layers: i32, dims: usize, kernel: string): u64 {
  checkLayers(layers, dims, kernel);
  let bytes: u64 = 0;
  for (let l = 1; l <= layers; l++) {
    const b = engineWorkBytes(load<i32>(dims + (<usize>l << 2)), load<i32>(dims + (<usize>(l - 1) << 2)));
    if (b > bytes) bytes = b;
  }
  return bytes;
}

// Parameter count of the MLP: Σ_l d_l·d_{l+1} + d_{l+1} (dims checked by layerWork).
export function paramCount(layers: i32, dims: usize): u64 {
  let n: u64 = 0;
  for (let l = 0; l < layers; l++) {
    const dout = load<i32>(dims + (<usize>(l + 1) << 2));
    n += <u64>load<i32>(dims + (<usize>l << 2)) * <u64>dout + <u64>dout;
  }
  return n;
}

// Widest hidden layer max(d_1 … d_{L−1}), 0 without hidden layers: the ping-pong rows' width.
function widestHidden(layers: i32, dims: usize): i32 {
  let w = 0;
  for (let l = 1; l < layers; l++) w = max(w, load<i32>(dims + (<usize>l << 2)));
  return w;
}

// Bytes of scratch `work` that mlpForward (and denseEnsemble, with layers = 1) needs.
export function mlpWorkBytes(rows: i32, layers: i32, dims: usize): i32 {
  checkSize(rows, "mlpWorkBytes", "rows");
  const bytes = layerWork(layers, dims, "mlpWorkBytes");
  checkWorkBytes(bytes, "mlpWorkBytes", "use narrower layers");
  return <i32>bytes;
}

// Writes the descriptor at net (NET_BYTES, 4-aligned) and checks it as a one-member call would.
export function mlpNetwork(net: usize, layers: i32, act: i32, outAct: i32, rows: i32, dims: usize, X: usize,
  P: usize, pStride: i32, out: usize, bufA: usize, bufB: usize, work: usize): void {
  checkRegion(net, <u64>NET_BYTES, 4, "mlpNetwork", "net");
  const d = changetype<Net>(net);
  d.layers = layers;
  d.act = act;
  d.outAct = outAct;
  d.rows = rows;
  d.dims = dims;
  d.X = X;
  d.P = P;
  d.pStride = pStride;
  d.out = out;
  d.bufA = bufA;
  d.bufB = bufB;
  d.work = work;
  const n = checkNet(net, "mlpNetwork");
  const dL = load<i32>(dims + (<usize>layers << 2));
  checkBuffers(d, "mlpNetwork", "P", n << 2, (<u64>rows * <u64>dL) << 2, 0, 0);
}

// Checks the descriptor's sizes, activations, dims and pStride; returns the parameter count n.
export function checkNet(net: usize, kernel: string): u64 {
  checkRegion(net, <u64>NET_BYTES, 4, kernel, "net");
  const d = changetype<Net>(net);
  checkSize(d.rows, kernel, "rows");
  checkAct(d.act, kernel, "act");
  checkAct(d.outAct, kernel, "outAct");
  layerWork(d.layers, d.dims, kernel);
  const n = paramCount(d.layers, d.dims);
  checkStride(d.pStride, n, kernel, "pStride", "the parameter count");
  return n;
}

// Aborts unless the buffers lie in memory, aligned, and nothing written overlaps anything else:
// P (pBytes; read by mlpForward, written by mlpForwardPerturbed), out (oBytes), bufA, bufB, work,
// and θ (tBytes, 0 = none; read only). pLabel names P in messages.
export function checkBuffers(d: Net, kernel: string, pLabel: string, pBytes: u64, oBytes: u64,
  theta: usize, tBytes: u64): void {
  const layers = d.layers;
  const X = d.X, P = d.P, out = d.out, bufA = d.bufA, bufB = d.bufB, work = d.work;
  const xBytes = (<u64>d.rows * <u64>load<i32>(d.dims)) << 2;
  const sBytes = layerWork(layers, d.dims, kernel);
  // members run one after another, so one member's ping-pong pair serves them all
  const hBytes = (<u64>d.rows * <u64>widestHidden(layers, d.dims)) << 2;
  checkRegion(X, xBytes, 4, kernel, "X");
  checkRegion(P, pBytes, 4, kernel, pLabel);
  checkRegion(out, oBytes, 4, kernel, "out");
  checkRegion(work, sBytes, 16, kernel, "work (mlpWorkBytes bytes, 16-aligned)");
  checkDisjoint(out, oBytes, X, xBytes, kernel, "out", "X");
  checkDisjoint(out, oBytes, P, pBytes, kernel, "out", "P");
  checkDisjoint(work, sBytes, X, xBytes, kernel, "work", "X");
  checkDisjoint(work, sBytes, P, pBytes, kernel, "work", "P");
  checkDisjoint(work, sBytes, out, oBytes, kernel, "work", "out");
  // P is written by mlpForwardPerturbed only (the one with θ)
  if (tBytes != 0) checkDisjoint(P, pBytes, X, xBytes, kernel, "P", "X");
  if (layers >= 2) {
    checkRegion(bufA, hBytes, 4, kernel, "bufA");
    checkDisjoint(bufA, hBytes, X, xBytes, kernel, "bufA", "X");
    checkDisjoint(bufA, hBytes, P, pBytes, kernel, "bufA", "P");
    checkDisjoint(bufA, hBytes, out, oBytes, kernel, "bufA", "out");
    checkDisjoint(bufA, hBytes, work, sBytes, kernel, "bufA", "work");
  }
  if (layers >= 3) {
    checkRegion(bufB, hBytes, 4, kernel, "bufB");
    checkDisjoint(bufB, hBytes, X, xBytes, kernel, "bufB", "X");
    checkDisjoint(bufB, hBytes, P, pBytes, kernel, "bufB", "P");
    checkDisjoint(bufB, hBytes, out, oBytes, kernel, "bufB", "out");
    checkDisjoint(bufB, hBytes, work, sBytes, kernel, "bufB", "work");
    checkDisjoint(bufB, hBytes, bufA, hBytes, kernel, "bufB", "bufA");
  }
  if (tBytes == 0) return;
  // θ is read by every member: nothing written may overlap it
  checkRegion(theta, tBytes, 8, kernel, "theta (f64, 8-aligned)");
  checkDisjoint(theta, tBytes, P, pBytes, kernel, "theta", "P");
  checkDisjoint(theta, tBytes, out, oBytes, kernel, "theta", "out");
  checkDisjoint(theta, tBytes, work, sBytes, kernel, "theta", "work");
  if (layers >= 2) checkDisjoint(theta, tBytes, bufA, hBytes, kernel, "theta", "bufA");
  if (layers >= 3) checkDisjoint(theta, tBytes, bufB, hBytes, kernel, "theta", "bufB");
}
