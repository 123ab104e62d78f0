// dense kernel family: fused dense layers and whole-MLP forward passes for an ensemble, f32,
// row-major (method.md §4: one call per phase; per layer a fused GEMM + bias + activation).
// A member's parameters are one flat vector, per layer W (d_l × d_{l+1}, row-major) then
// b (d_{l+1}); members are pStride floats apart. act: 0 identity, 1 relu, 2 tanh, 3 sigmoid.
// Bias and activation run in the GEMM epilogue (gemm-tile.ts), while the tile is in registers.
import {
  ACT_IDENTITY, ACT_SIGMOID, checkDisjoint, checkRegion, checkSize, dotTail, engineWorkBytes, gemmBlock,
  kBlock, packB, packedWidth,
} from "./gemm-tile";

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

// Name of the export that called layerWork, for its error messages.
function caller(fromMlp: bool): string {
  if (fromMlp) return "mlpForward";
  return "mlpWorkBytes";
}

// Reads and checks dims (layers + 1 sizes ≥ 1); returns the work bytes the layers need.
// Error labels are literals or built only on the abort path: a kernel call allocates nothing.
function layerWork(layers: i32, dims: usize, fromMlp: bool): u64 {
  if (layers < 1) abort(caller(fromMlp) + ": layers must be ≥ 1; got " + layers.toString());
  checkRegion(dims, <u64>(layers + 1) << 2, 4, fromMlp ? "mlpForward: dims" : "mlpWorkBytes: dims");
  let bytes: u64 = 0;
  for (let l = 0; l <= layers; l++) {
    const d = load<i32>(dims + (<usize>l << 2));
    if (d < 1) {
      abort(caller(fromMlp) + ": dims[" + l.toString() + "] must be ≥ 1; got " + d.toString());
    }
    if (l > 0) {
      const b = engineWorkBytes(d, load<i32>(dims + (<usize>(l - 1) << 2)));
      if (b > bytes) bytes = b;
    }
  }
  return bytes;
}

// Bytes of scratch `work` that mlpForward (and denseEnsemble, with layers = 1) needs.
export function mlpWorkBytes(rows: i32, layers: i32, dims: usize): i32 {
  checkSize(rows, "mlpWorkBytes: rows");
  const bytes = layerWork(layers, dims, false);
  if (bytes > <u64>0x7FFFFFFF) abort("mlpWorkBytes: scratch exceeds 2 GiB; use narrower layers");
  return <i32>bytes;
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
  const sBytes = layerWork(layers, dims, true);
  let nParams: u64 = 0;
  let hidden: i32 = 0;
  for (let l = 0; l < layers; l++) {
    const din = load<i32>(dims + (<usize>l << 2));
    const dout = load<i32>(dims + (<usize>(l + 1) << 2));
    nParams += <u64>din * <u64>dout + <u64>dout;
    if (l < layers - 1 && dout > hidden) hidden = dout;
  }
  if (pStride < 0 || <u64>pStride < nParams) {
    abort("mlpForward: pStride must be ≥ the parameter count " + nParams.toString() + "; got " + pStride.toString());
  }
  const d0 = load<i32>(dims);
  const dL = load<i32>(dims + (<usize>layers << 2));
  const xBytes = (<u64>rows * <u64>d0) << 2;
  const pBytes = strided(members, pStride, nParams);
  const oBytes = (<u64>members * <u64>rows * <u64>dL) << 2;
  // members run one after another, so one member's ping-pong pair serves them all
  const hBytes = (<u64>rows * <u64>hidden) << 2;
  checkRegion(X, xBytes, 4, "mlpForward: X");
  checkRegion(P, pBytes, 4, "mlpForward: P");
  checkRegion(out, oBytes, 4, "mlpForward: out");
  checkRegion(work, sBytes, 16, "mlpForward: work (mlpWorkBytes bytes, 16-aligned)");
  checkDisjoint(out, oBytes, X, xBytes, "mlpForward: out and X");
  checkDisjoint(out, oBytes, P, pBytes, "mlpForward: out and P");
  checkDisjoint(work, sBytes, X, xBytes, "mlpForward: work and X");
  checkDisjoint(work, sBytes, P, pBytes, "mlpForward: work and P");
  checkDisjoint(work, sBytes, out, oBytes, "mlpForward: work and out");
  if (layers >= 2) {
    checkRegion(bufA, hBytes, 4, "mlpForward: bufA");
    checkDisjoint(bufA, hBytes, X, xBytes, "mlpForward: bufA and X");
    checkDisjoint(bufA, hBytes, P, pBytes, "mlpForward: bufA and P");
    checkDisjoint(bufA, hBytes, out, oBytes, "mlpForward: bufA and out");
    checkDisjoint(bufA, hBytes, work, sBytes, "mlpForward: bufA and work");
  }
  if (layers >= 3) {
    checkRegion(bufB, hBytes, 4, "mlpForward: bufB");
    checkDisjoint(bufB, hBytes, X, xBytes, "mlpForward: bufB and X");
    checkDisjoint(bufB, hBytes, P, pBytes, "mlpForward: bufB and P");
    checkDisjoint(bufB, hBytes, out, oBytes, "mlpForward: bufB and out");
    checkDisjoint(bufB, hBytes, work, sBytes, "mlpForward: bufB and work");
    checkDisjoint(bufB, hBytes, bufA, hBytes, "mlpForward: bufB and bufA");
  }

  const oSlice = <usize>rows * <usize>dL << 2;
  for (let j = 0; j < members; j++) {
    let inp = X;
    let p = P + (<usize>j * <usize>pStride << 2);
    for (let l = 0; l < layers; l++) {
      const din = load<i32>(dims + (<usize>l << 2));
      const dout = load<i32>(dims + (<usize>(l + 1) << 2));
      const W = p;
      const b = W + (<usize>din * <usize>dout << 2);
      p = b + (<usize>dout << 2);
      const isLast = l == layers - 1;
      const dst = isLast ? out + <usize>j * oSlice : (l & 1) == 0 ? bufA : bufB;
      denseOne(rows, din, dout, isLast ? outAct : act, inp, din, W, b, dst, dout, work);
      inp = dst;
    }
  }
}
