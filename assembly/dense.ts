// dense kernel family: fused dense layers and whole-MLP forward passes for an ensemble, f32,
// row-major (method.md §4: one call per phase; per layer a fused GEMM + bias + activation).
// A member's parameters are one flat vector, per layer W (d_l × d_{l+1}, row-major) then
// b (d_{l+1}); members are pStride floats apart. act: 0 identity, 1 relu, 2 tanh, 3 sigmoid.
// Bias and activation run in the GEMM epilogue (gemm-tile.ts), while the tile is in registers.
// mlpForwardPerturbed draws NLB members with the generator of rng-core.ts (shared with rng.ts, so
// the bits equal perturb32's) one at a time, so their parameters are never stored together.
import {
  ACT_IDENTITY, ACT_SIGMOID, checkDisjoint, checkRegion, checkSize, dotTail, engineWorkBytes, gemmBlock,
  kBlock, packB, packedWidth,
} from "./gemm-tile";
import { checkMemberRange, perturbRows32, signOf, streamKey, streamOf } from "./rng-core";

// Y(rows × N, ldy floats per row) = act(X(rows × K, ldx floats per row)·W(K × N) + b(N)).
function denseOne(rows: i32, K: i32, N: i32, act: i32, X: usize, ldx: i32, W: usize, b: usize,
  Y: usize, ldy: i32, work: usize): void {
  const kc = kBlock(K);
  const tile = work + <usize>kc * <usize>packedWidth(N) * 4;
  for (let k0 = 0; k0 < K; k0 += kc) {
    const kb = K - k0 < kc ? K - k0 : kc;
    packB(false, k0, kb, N, W, N, work, dotTail(N, 4));
    // Bias and activation only once the last K block has been summed in.
    const last = k0 + kb == K;
    gemmBlock(rows, N, kb, X + (<usize>k0 << 2), <usize>ldx << 2, 4, work, Y, ldy, 1.0, 1.0,
      k0 > 0, last ? b : 0, last ? act : ACT_IDENTITY, tile);
  }
}

function checkAct(act: i32, what: string): void {
  if (act < ACT_IDENTITY || act > ACT_SIGMOID) {
    abort(what + " must be 0 (identity), 1 (relu), 2 (tanh) or 3 (sigmoid); got " + act.toString());
  }
}

// f32 count (as u64) spanned by `members` blocks of `len` floats, `stride` floats apart.
// @ts-ignore: decorator
@inline
function strided(members: i32, stride: i32, len: u64): u64 {
  return (<u64>(members - 1) * <u64>stride + len) << 2;
}

// Y_j(rows × outDim) = act(X_j(rows × inDim)·W_j(inDim × outDim) + b_j) for j < members.
//   X_j = X + j·xStride floats (xStride = 0: one X shared by all members)
//   W_j = W + j·pStride, b_j = b + j·pStride floats; Y_j = Y + j·yStride floats
//   work: mlpWorkBytes(rows, 1, [inDim, outDim]) bytes, 16-aligned
export function denseEnsemble(members: i32, rows: i32, inDim: i32, outDim: i32, act: i32,
  X: usize, xStride: i32, W: usize, b: usize, pStride: i32, Y: usize, yStride: i32, work: usize): void {
  checkSize(members, "denseEnsemble: members");
  checkSize(rows, "denseEnsemble: rows");
  checkSize(inDim, "denseEnsemble: inDim");
  checkSize(outDim, "denseEnsemble: outDim");
  checkAct(act, "denseEnsemble: act");
  const xLen = <u64>rows * <u64>inDim;
  const yLen = <u64>rows * <u64>outDim;
  if (xStride < 0 || (members > 1 && xStride != 0 && <u64>xStride < xLen)) {
    abort("denseEnsemble: xStride must be 0 (shared X) or ≥ rows·inDim = " + xLen.toString() + "; got " + xStride.toString());
  }
  if (pStride < 0) abort("denseEnsemble: pStride must be ≥ 0; got " + pStride.toString());
  if (yStride < 0 || (members > 1 && <u64>yStride < yLen)) {
    abort("denseEnsemble: yStride must be ≥ rows·outDim = " + yLen.toString() + " (outputs may not overlap); got " + yStride.toString());
  }
  const xBytes = strided(members, xStride, xLen);
  const wBytes = strided(members, pStride, <u64>inDim * <u64>outDim);
  const bBytes = strided(members, pStride, <u64>outDim);
  const yBytes = strided(members, yStride, yLen);
  const sBytes = engineWorkBytes(outDim, inDim);
  checkRegion(X, xBytes, 4, "denseEnsemble: X");
  checkRegion(W, wBytes, 4, "denseEnsemble: W");
  checkRegion(b, bBytes, 4, "denseEnsemble: b");
  checkRegion(Y, yBytes, 4, "denseEnsemble: Y");
  checkRegion(work, sBytes, 16, "denseEnsemble: work (mlpWorkBytes bytes, 16-aligned)");
  checkDisjoint(Y, yBytes, X, xBytes, "denseEnsemble: Y and X");
  checkDisjoint(Y, yBytes, W, wBytes, "denseEnsemble: Y and W");
  checkDisjoint(Y, yBytes, b, bBytes, "denseEnsemble: Y and b");
  checkDisjoint(work, sBytes, X, xBytes, "denseEnsemble: work and X");
  checkDisjoint(work, sBytes, W, wBytes, "denseEnsemble: work and W");
  checkDisjoint(work, sBytes, b, bBytes, "denseEnsemble: work and b");
  checkDisjoint(work, sBytes, Y, yBytes, "denseEnsemble: work and Y");
  for (let j = 0; j < members; j++) {
    const pj = <usize>j * <usize>pStride << 2;
    denseOne(rows, inDim, outDim, act, X + (<usize>j * <usize>xStride << 2), inDim, W + pj, b + pj,
      Y + (<usize>j * <usize>yStride << 2), outDim, work);
  }
}

// Callers of layerWork, for its error messages.
const WHO_WORK_BYTES = 0;
const WHO_FORWARD = 1;
const WHO_PERTURBED = 2;

// Name of the export that called layerWork (built only on the abort path).
function caller(who: i32): string {
  if (who == WHO_FORWARD) return "mlpForward";
  if (who == WHO_PERTURBED) return "mlpForwardPerturbed";
  return "mlpWorkBytes";
}

// Reads and checks dims (layers + 1 sizes ≥ 1); returns the work bytes the layers need.
// Error labels are literals or built only on the abort path: a kernel call allocates nothing.
function layerWork(layers: i32, dims: usize, who: i32): u64 {
  if (layers < 1) abort(caller(who) + ": layers must be ≥ 1; got " + layers.toString());
  checkRegion(dims, <u64>(layers + 1) << 2, 4,
    who == WHO_FORWARD ? "mlpForward: dims" : who == WHO_PERTURBED ? "mlpForwardPerturbed: dims" : "mlpWorkBytes: dims");
  let bytes: u64 = 0;
  for (let l = 0; l <= layers; l++) {
    const d = load<i32>(dims + (<usize>l << 2));
    if (d < 1) {
      abort(caller(who) + ": dims[" + l.toString() + "] must be ≥ 1; got " + d.toString());
    }
    if (l > 0) {
      const b = engineWorkBytes(d, load<i32>(dims + (<usize>(l - 1) << 2)));
      if (b > bytes) bytes = b;
    }
  }
  return bytes;
}

// Parameter count of the MLP: Σ_l d_l·d_{l+1} + d_{l+1} (dims checked by layerWork).
function paramCount(layers: i32, dims: usize): u64 {
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
  checkSize(rows, "mlpWorkBytes: rows");
  const bytes = layerWork(layers, dims, WHO_WORK_BYTES);
  if (bytes > <u64>0x7FFFFFFF) abort("mlpWorkBytes: scratch exceeds 2 GiB; use narrower layers");
  return <i32>bytes;
}

// Aborts unless the buffers both whole-MLP kernels share lie in memory, aligned, and nothing written
// overlaps anything else, the parameter region P (pBytes) included: read by mlpForward, written by
// mlpForwardPerturbed (its scratch). Labels are literals chosen by `fused`: nothing is allocated.
function checkRun(fused: bool, rows: i32, layers: i32, dims: usize, X: usize, P: usize, pBytes: u64,
  out: usize, oBytes: u64, bufA: usize, bufB: usize, work: usize, sBytes: u64): void {
  const xBytes = (<u64>rows * <u64>load<i32>(dims)) << 2;
  // members run one after another, so one member's ping-pong pair serves them all
  const hBytes = (<u64>rows * <u64>widestHidden(layers, dims)) << 2;
  checkRegion(X, xBytes, 4, fused ? "mlpForwardPerturbed: X" : "mlpForward: X");
  checkRegion(out, oBytes, 4, fused ? "mlpForwardPerturbed: out" : "mlpForward: out");
  checkRegion(work, sBytes, 16, fused ? "mlpForwardPerturbed: work (mlpWorkBytes bytes, 16-aligned)" : "mlpForward: work (mlpWorkBytes bytes, 16-aligned)");
  checkDisjoint(out, oBytes, X, xBytes, fused ? "mlpForwardPerturbed: out and X" : "mlpForward: out and X");
  checkDisjoint(out, oBytes, P, pBytes, fused ? "mlpForwardPerturbed: out and scratch" : "mlpForward: out and P");
  checkDisjoint(work, sBytes, X, xBytes, fused ? "mlpForwardPerturbed: work and X" : "mlpForward: work and X");
  checkDisjoint(work, sBytes, P, pBytes, fused ? "mlpForwardPerturbed: work and scratch" : "mlpForward: work and P");
  checkDisjoint(work, sBytes, out, oBytes, fused ? "mlpForwardPerturbed: work and out" : "mlpForward: work and out");
  if (fused) checkDisjoint(P, pBytes, X, xBytes, "mlpForwardPerturbed: scratch and X");
  if (layers >= 2) {
    checkRegion(bufA, hBytes, 4, fused ? "mlpForwardPerturbed: bufA" : "mlpForward: bufA");
    checkDisjoint(bufA, hBytes, X, xBytes, fused ? "mlpForwardPerturbed: bufA and X" : "mlpForward: bufA and X");
    checkDisjoint(bufA, hBytes, P, pBytes, fused ? "mlpForwardPerturbed: bufA and scratch" : "mlpForward: bufA and P");
    checkDisjoint(bufA, hBytes, out, oBytes, fused ? "mlpForwardPerturbed: bufA and out" : "mlpForward: bufA and out");
    checkDisjoint(bufA, hBytes, work, sBytes, fused ? "mlpForwardPerturbed: bufA and work" : "mlpForward: bufA and work");
  }
  if (layers >= 3) {
    checkRegion(bufB, hBytes, 4, fused ? "mlpForwardPerturbed: bufB" : "mlpForward: bufB");
    checkDisjoint(bufB, hBytes, X, xBytes, fused ? "mlpForwardPerturbed: bufB and X" : "mlpForward: bufB and X");
    checkDisjoint(bufB, hBytes, P, pBytes, fused ? "mlpForwardPerturbed: bufB and scratch" : "mlpForward: bufB and P");
    checkDisjoint(bufB, hBytes, out, oBytes, fused ? "mlpForwardPerturbed: bufB and out" : "mlpForward: bufB and out");
    checkDisjoint(bufB, hBytes, work, sBytes, fused ? "mlpForwardPerturbed: bufB and work" : "mlpForward: bufB and work");
    checkDisjoint(bufB, hBytes, bufA, hBytes, fused ? "mlpForwardPerturbed: bufB and bufA" : "mlpForward: bufB and bufA");
  }
}

// One member through all layers (method.md §4): p holds its parameters, layer l's W (d_l × d_{l+1})
// then b (d_{l+1}); X: rows × d_0; dst: rows × d_L; hidden layers ping-pong between bufA and bufB.
function forwardMember(rows: i32, layers: i32, act: i32, outAct: i32, dims: usize, X: usize, p: usize,
  dst: usize, bufA: usize, bufB: usize, work: usize): void {
  let inp = X;
  for (let l = 0; l < layers; l++) {
    const din = load<i32>(dims + (<usize>l << 2));
    const dout = load<i32>(dims + (<usize>(l + 1) << 2));
    const W = p;
    const b = W + (<usize>din * <usize>dout << 2);
    p = b + (<usize>dout << 2);
    const isLast = l == layers - 1;
    const y = isLast ? dst : (l & 1) == 0 ? bufA : bufB;
    denseOne(rows, din, dout, isLast ? outAct : act, inp, din, W, b, y, dout, work);
    inp = y;
  }
}

// The whole MLP for all members in one call (method.md §4). Member by member through all layers,
// so a member's hidden activations stay in cache between layers; bufA/bufB ping-pong.
//   dims: i32[layers + 1]; X: rows × d_0, shared by all members
//   P: members × pStride f32, member j's layer l at its running offset: W (d_l × d_{l+1}), b (d_{l+1})
//   out: members × rows × d_L; bufA, bufB: rows × max(d_1 … d_{L−1}), reused by every member (bufA
//   used from 2 layers, bufB from 3); work: mlpWorkBytes(rows, layers, dims), 16-aligned
export function mlpForward(members: i32, rows: i32, layers: i32, act: i32, outAct: i32, dims: usize,
  X: usize, P: usize, pStride: i32, out: usize, bufA: usize, bufB: usize, work: usize): void {
  checkSize(members, "mlpForward: members");
  checkSize(rows, "mlpForward: rows");
  checkAct(act, "mlpForward: act");
  checkAct(outAct, "mlpForward: outAct");
  const sBytes = layerWork(layers, dims, WHO_FORWARD);
  const nParams = paramCount(layers, dims);
  if (pStride < 0 || <u64>pStride < nParams) {
    abort("mlpForward: pStride must be ≥ the parameter count " + nParams.toString() + "; got " + pStride.toString());
  }
  const dL = load<i32>(dims + (<usize>layers << 2));
  const pBytes = strided(members, pStride, nParams);
  const oBytes = (<u64>members * <u64>rows * <u64>dL) << 2;
  checkRegion(P, pBytes, 4, "mlpForward: P");
  checkRun(false, rows, layers, dims, X, P, pBytes, out, oBytes, bufA, bufB, work, sBytes);
  const oSlice = <usize>rows * <usize>dL << 2;
  for (let j = 0; j < members; j++) {
    forwardMember(rows, layers, act, outAct, dims, X, P + (<usize>j * <usize>pStride << 2), out + <usize>j * oSlice,
      bufA, bufB, work);
  }
}

// mlpForward of the NLB members θ + σ·s_i·ξ_{q_i}, i = member0 + r, r < members (method.md §2
// steps 2–3), without storing their parameters: each member's f32 parameters are generated into
// scratch (an antithetic pair ±ξ wholly inside the call from one pass of the stream, as perturb32
// does, so the bits equal perturb32 + mlpForward) and run through all layers before the next
// member's are drawn. Memory O(n + rows·width), not O(members·n). With center ≠ 0, θ itself
// (rounded to f32) runs first as output slice 0.
//   theta: f64 n (n = the parameter count, layout of mlpForward's P rows)
//   scratch: f32 pStride, or 2 × pStride with antithetic pairs and members ≥ 2 (rows pStride apart)
//   out: (center + members) × rows × d_L; dims, X, bufA, bufB, work as in mlpForward
export function mlpForwardPerturbed(members: i32, rows: i32, layers: i32, act: i32, outAct: i32, dims: usize,
  X: usize, theta: usize, sigma: f64, seed: u32, iter: u32, member0: u32, antithetic: i32, center: i32,
  scratch: usize, pStride: i32, out: usize, bufA: usize, bufB: usize, work: usize): void {
  checkSize(members, "mlpForwardPerturbed: members");
  checkSize(rows, "mlpForwardPerturbed: rows");
  checkAct(act, "mlpForwardPerturbed: act");
  checkAct(outAct, "mlpForwardPerturbed: outAct");
  checkMemberRange(members, member0, "mlpForwardPerturbed");
  if (!isFinite(sigma)) abort("mlpForwardPerturbed: sigma must be finite; got " + sigma.toString());
  const sBytes = layerWork(layers, dims, WHO_PERTURBED);
  const nParams = paramCount(layers, dims);
  if (pStride < 0 || <u64>pStride < nParams) {
    abort("mlpForwardPerturbed: pStride must be ≥ the parameter count " + nParams.toString() + "; got " + pStride.toString());
  }
  const n = <i32>nParams;
  const anti = antithetic != 0;
  // a pair ±ξ needs two rows, and can only occur with two members or more
  const pairs = anti && members > 1;
  const first = center != 0 ? 1 : 0;
  const dL = load<i32>(dims + (<usize>layers << 2));
  const tBytes = nParams << 3;
  const pBytes = strided(pairs ? 2 : 1, pStride, nParams);
  const oBytes = (<u64>(members + first) * <u64>rows * <u64>dL) << 2;
  checkRegion(theta, tBytes, 8, "mlpForwardPerturbed: theta (f64, 8-aligned)");
  checkRegion(scratch, pBytes, 4, pairs ? "mlpForwardPerturbed: scratch (2 × pStride f32 with antithetic pairs)" : "mlpForwardPerturbed: scratch (pStride f32)");
  checkRun(true, rows, layers, dims, X, scratch, pBytes, out, oBytes, bufA, bufB, work, sBytes);
  // θ is read by every member: nothing written may overlap it
  checkDisjoint(theta, tBytes, scratch, pBytes, "mlpForwardPerturbed: theta and scratch");
  checkDisjoint(theta, tBytes, out, oBytes, "mlpForwardPerturbed: theta and out");
  checkDisjoint(theta, tBytes, work, sBytes, "mlpForwardPerturbed: theta and work");
  const hBytes = (<u64>rows * <u64>widestHidden(layers, dims)) << 2;
  if (layers >= 2) checkDisjoint(theta, tBytes, bufA, hBytes, "mlpForwardPerturbed: theta and bufA");
  if (layers >= 3) checkDisjoint(theta, tBytes, bufB, hBytes, "mlpForwardPerturbed: theta and bufB");

  const oSlice = <usize>rows * <usize>dL << 2;
  const rowBytes = <usize>pStride << 2;
  let dst = out;
  if (first != 0) {
    // θ rounded to nearest, as narrow writes it
    for (let j = 0; j < n; j++) store<f32>(scratch + (<usize>j << 2), <f32>load<f64>(theta + (<usize>j << 3)));
    forwardMember(rows, layers, act, outAct, dims, X, scratch, dst, bufA, bufB, work);
    dst += oSlice;
  }
  for (let r = 0; r < members; r++) {
    const i = member0 + <u32>r;
    // An antithetic pair wholly inside this call shares one pass of the generator (as in perturb32).
    const pair = pairs && (i & 1) == 0 && r + 1 < members;
    perturbRows32(n, signOf(i, anti) * sigma, streamKey(seed, iter, streamOf(i, anti)), theta, scratch,
      pair ? scratch + rowBytes : 0);
    forwardMember(rows, layers, act, outAct, dims, X, scratch, dst, bufA, bufB, work);
    dst += oSlice;
    if (pair) {
      forwardMember(rows, layers, act, outAct, dims, X, scratch + rowBytes, dst, bufA, bufB, work);
      dst += oSlice;
      r++;
    }
  }
}
