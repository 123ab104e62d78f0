// dense kernel family: fused dense layers and whole-MLP forward passes for an ensemble, f32,
// row-major (docs/method.md §4: one call per phase; per layer a fused GEMM + bias + activation).
// A member's parameters are one flat vector, per layer W (d_l × d_{l+1}, row-major) then
// b (d_{l+1}); members are pStride floats apart. act: 0 identity, 1 relu, 2 tanh, 3 sigmoid.
// Bias and activation run in the GEMM epilogue (gemm-tile.ts), while the tile is in registers.
// mlpForwardPerturbed draws NLB members with the generator of rng-core.ts (shared with rng.ts, so
// the bits equal perturb32's) one at a time, so their parameters are never stored together.
// The whole-MLP kernels take a network descriptor (net.ts) written once by mlpNetwork, plus only
// the values that change from call to call.
import {
  ACT_IDENTITY, checkAct, checkDisjoint, checkFinite, checkMemberRange, checkMemberStride, checkNonNegative,
  checkRegion, checkSize,
} from "./checks";
import { dotTail, engineWorkBytes, kBlock, packB, packedWidth } from "./gemm-pack";
import { gemmBlock } from "./gemm-tile";
import { checkBuffers, checkNet, Net } from "./net";
import { perturbRows, signOf, streamOf } from "./perturb";
import { streamKey } from "./rng-core";

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
  const K = "denseEnsemble";
  checkSize(members, K, "members");
  checkSize(rows, K, "rows");
  checkSize(inDim, K, "inDim");
  checkSize(outDim, K, "outDim");
  checkAct(act, K, "act");
  const xLen = <u64>rows * <u64>inDim;
  const yLen = <u64>rows * <u64>outDim;
  checkMemberStride(xStride, xLen, members, true, K, "xStride", "rows·inDim");
  // members may share parameters (pStride = 0), but outputs may not overlap
  checkNonNegative(pStride, K, "pStride");
  checkMemberStride(yStride, yLen, members, false, K, "yStride", "rows·outDim");
  const xBytes = strided(members, xStride, xLen);
  const wBytes = strided(members, pStride, <u64>inDim * <u64>outDim);
  const bBytes = strided(members, pStride, <u64>outDim);
  const yBytes = strided(members, yStride, yLen);
  const sBytes = engineWorkBytes(outDim, inDim);
  checkRegion(X, xBytes, 4, K, "X");
  checkRegion(W, wBytes, 4, K, "W");
  checkRegion(b, bBytes, 4, K, "b");
  checkRegion(Y, yBytes, 4, K, "Y");
  checkRegion(work, sBytes, 16, K, "work (mlpWorkBytes bytes, 16-aligned)");
  checkDisjoint(Y, yBytes, X, xBytes, K, "Y", "X");
  checkDisjoint(Y, yBytes, W, wBytes, K, "Y", "W");
  checkDisjoint(Y, yBytes, b, bBytes, K, "Y", "b");
  checkDisjoint(work, sBytes, X, xBytes, K, "work", "X");
  checkDisjoint(work, sBytes, W, wBytes, K, "work", "W");
  checkDisjoint(work, sBytes, b, bBytes, K, "work", "b");
  checkDisjoint(work, sBytes, Y, yBytes, K, "work", "Y");
  for (let j = 0; j < members; j++) {
    const pj = <usize>j * <usize>pStride << 2;
    denseOne(rows, inDim, outDim, act, X + (<usize>j * <usize>xStride << 2), inDim, W + pj, b + pj,
      Y + (<usize>j * <usize>yStride << 2), outDim, work);
  }
}

// One member through all layers (docs/method.md §4): p holds its parameters, layer l's W (d_l × d_{l+1})
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

// The whole MLP for all members in one call (docs/method.md §4). Member by member through all layers,
// so a member's hidden activations stay in cache between layers; bufA/bufB ping-pong.
//   net: the descriptor (net.ts); P holds `members` parameter rows, member j's layer l at its
//   running offset: W (d_l × d_{l+1}), b (d_{l+1}); out: members × rows × d_L
export function mlpForward(net: usize, members: i32): void {
  const K = "mlpForward";
  const n = checkNet(net, K);
  checkSize(members, K, "members");
  const d = changetype<Net>(net);
  const rows = d.rows, layers = d.layers, pStride = d.pStride;
  const dL = load<i32>(d.dims + (<usize>layers << 2));
  const pBytes = strided(members, pStride, n);
  const oBytes = (<u64>members * <u64>rows * <u64>dL) << 2;
  checkBuffers(d, K, "P", pBytes, oBytes, 0, 0);
  // the descriptor read once: the call's own writes cannot change it midway
  const act = d.act, outAct = d.outAct, dims = d.dims, X = d.X, P = d.P, out = d.out, bufA = d.bufA, bufB = d.bufB, work = d.work;
  const oSlice = <usize>rows * <usize>dL << 2;
  for (let j = 0; j < members; j++) {
    forwardMember(rows, layers, act, outAct, dims, X, P + (<usize>j * <usize>pStride << 2), out + <usize>j * oSlice,
      bufA, bufB, work);
  }
}

// mlpForward of the NLB members θ + σ·s_i·ξ_{q_i}, i = member0 + r, r < members (docs/method.md
// §2.2–2.3), without storing their parameters: each member's f32 parameters are generated into
// the descriptor's P (an antithetic pair ±ξ wholly inside the call from one pass of the stream,
// as perturb32 does, so the bits equal perturb32 + mlpForward) and run through all layers before
// the next member's are drawn. Memory O(n + rows·width), not O(members·n). With center ≠ 0, θ
// itself (rounded to f32) runs first as output slice 0.
//   theta: f64 n (n = the parameter count, layout of mlpForward's P rows)
//   P: 1 row, or 2 rows pStride apart with antithetic pairs and members ≥ 2
//   out: (center + members) × rows × d_L; draw: the RNG draw counter of ξ(seed, draw, member, ·)
export function mlpForwardPerturbed(net: usize, members: i32, theta: usize, sigma: f64, seed: u32, draw: u32,
  member0: u32, antithetic: i32, center: i32): void {
  const K = "mlpForwardPerturbed";
  const nParams = checkNet(net, K);
  checkSize(members, K, "members");
  checkMemberRange(members, member0, K);
  checkFinite(sigma, K, "sigma");
  const d = changetype<Net>(net);
  const rows = d.rows, layers = d.layers, pStride = d.pStride;
  const n = <i32>nParams;
  const anti = antithetic != 0;
  // a pair ±ξ needs two rows, and can only occur with two members or more
  const pairs = anti && members > 1;
  const first = center != 0 ? 1 : 0;
  const dL = load<i32>(d.dims + (<usize>layers << 2));
  const pBytes = strided(pairs ? 2 : 1, pStride, nParams);
  const oBytes = (<u64>(members + first) * <u64>rows * <u64>dL) << 2;
  checkBuffers(d, K, pairs ? "P (2 × pStride f32 with antithetic pairs)" : "P (pStride f32)", pBytes, oBytes,
    theta, nParams << 3);

  // the descriptor read once: the call's own writes cannot change it midway
  const act = d.act, outAct = d.outAct, dims = d.dims, X = d.X, P = d.P, bufA = d.bufA, bufB = d.bufB, work = d.work;
  const oSlice = <usize>rows * <usize>dL << 2;
  const rowBytes = <usize>pStride << 2;
  let dst = d.out;
  if (first != 0) {
    // θ rounded to nearest, as narrow writes it
    for (let j = 0; j < n; j++) store<f32>(P + (<usize>j << 2), <f32>load<f64>(theta + (<usize>j << 3)));
    forwardMember(rows, layers, act, outAct, dims, X, P, dst, bufA, bufB, work);
    dst += oSlice;
  }
  for (let r = 0; r < members; r++) {
    const i = member0 + <u32>r;
    // An antithetic pair wholly inside this call shares one pass of the generator (as in perturb32).
    const pair = pairs && (i & 1) == 0 && r + 1 < members;
    perturbRows<f32>(n, signOf(i, anti) * sigma, streamKey(seed, draw, streamOf(i, anti)), theta, P,
      pair ? P + rowBytes : 0);
    forwardMember(rows, layers, act, outAct, dims, X, P, dst, bufA, bufB, work);
    dst += oSlice;
    if (pair) {
      forwardMember(rows, layers, act, outAct, dims, X, P + rowBytes, dst, bufA, bufB, work);
      dst += oSlice;
      r++;
    }
  }
}
