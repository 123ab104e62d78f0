// low-rank core: the definition of the rank-r NLB directions, shared by the forward (lowrank.ts),
// the update and Gram kernels (lowrank-update.ts) and the member rows (lowrank-members.ts). Not
// exported by index.ts.
//
// The direction contract (the TS side and the test oracle follow it):
//   L weight blocks with shapes i32[2L] = [fanIn_1, fanOut_1, fanIn_2, fanOut_2, …], rank r ≥ 1,
//   parameters block by block: W_l (fanIn_l × fanOut_l, row-major) then b_l (fanOut_l). An MLP with
//   dims d_0 … d_L is shapes [d_0, d_1, d_1, d_2, …]; a conv filter bank [kh, kw, c_in, c_out] is
//   the block (kh·kw·c_in) × c_out. Stream q of draw (seed, iter) is the counter generator of
//   rng-core.ts, ξ_j = ξ(seed, iter, q, j). Its coordinate vector of length
//   m = Σ_l [(fanIn_l + fanOut_l)·r + fanOut_l] is laid out block by block, block l at offset o_l:
//     U_l (fanIn_l × r, row-major)  U_l[a][c] = ξ_{o_l + a·r + c}
//     V_l (fanOut_l × r, row-major) V_l[b][c] = ξ_{o_l + fanIn_l·r + b·r + c}
//     β_l (fanOut_l)                β_l[b]    = ξ_{o_l + (fanIn_l + fanOut_l)·r + b}
//   and o_{l+1} = o_l + (fanIn_l + fanOut_l)·r + fanOut_l. The direction D_q of stream q (a
//   parameter vector) is, per block, W-block U_l V_lᵀ/√r (entry Σ_c U_l[a][c]·V_l[b][c]/√r) and
//   b-block β_l. Member i uses stream q_i with sign s_i (q_i = i, s_i = 1; or with antithetic pairs
//   q_i = ⌊i/2⌋, s_i = (−1)^i): e_i = s_i·D_{q_i}, and the NLB member is θ + σ·e_i.
//   E[vec(D) vec(D)ᵀ] = I: entries of U_l V_lᵀ/√r are sums of r products of independent N(0,1)
//   over √r (variance 1), distinct entries uncorrelated (they differ in a U row or a V row).
//   lowRankForward takes the MLP's dims (i32[L + 1]) instead: the helpers below come in both forms.
import { fillNormals, TILE } from "./rng-core";

// ---- layout -----------------------------------------------------------------------------------------

// @ts-ignore: decorator
@inline
export function dimAt(dims: usize, l: i32): i32 {
  return load<i32>(dims + (<usize>l << 2));
}

// m = Σ_l (d_{l−1} + d_l)·r + d_l: the coordinates of one stream (dims form).
export function coordCount(layers: i32, dims: usize, rank: i32): u64 {
  let m: u64 = 0;
  for (let l = 1; l <= layers; l++) {
    m += <u64>(dimAt(dims, l - 1) + dimAt(dims, l)) * <u64>rank + <u64>dimAt(dims, l);
  }
  return m;
}

// n = Σ_l d_{l−1}·d_l + d_l: the parameter count (dims form).
export function paramCount(layers: i32, dims: usize): u64 {
  let n: u64 = 0;
  for (let l = 1; l <= layers; l++) n += <u64>dimAt(dims, l - 1) * <u64>dimAt(dims, l) + <u64>dimAt(dims, l);
  return n;
}

// Largest d_l over l ∈ [from, layers].
export function widest(layers: i32, dims: usize, from: i32): i32 {
  let w = 0;
  for (let l = from; l <= layers; l++) w = max(w, dimAt(dims, l));
  return w;
}

// Block l (1-based) of shapes i32[2L]: fanIn_l and fanOut_l.
// @ts-ignore: decorator
@inline
export function fanInAt(shapes: usize, l: i32): i32 {
  return load<i32>(shapes + (<usize>(l - 1) << 3));
}
// @ts-ignore: decorator
@inline
export function fanOutAt(shapes: usize, l: i32): i32 {
  return load<i32>(shapes + (<usize>(l - 1) << 3), 4);
}

// m = Σ_l (fanIn_l + fanOut_l)·r + fanOut_l: the coordinates of one stream (shapes form).
export function blockCoordCount(layers: i32, shapes: usize, rank: i32): u64 {
  let m: u64 = 0;
  for (let l = 1; l <= layers; l++) {
    m += <u64>(fanInAt(shapes, l) + fanOutAt(shapes, l)) * <u64>rank + <u64>fanOutAt(shapes, l);
  }
  return m;
}

// n = Σ_l fanIn_l·fanOut_l + fanOut_l: the parameter count (shapes form).
export function blockParamCount(layers: i32, shapes: usize): u64 {
  let n: u64 = 0;
  for (let l = 1; l <= layers; l++) n += <u64>fanInAt(shapes, l) * <u64>fanOutAt(shapes, l) + <u64>fanOutAt(shapes, l);
  return n;
}

// Largest fanIn_l and largest fanOut_l over all blocks.
export function widestIn(layers: i32, shapes: usize): i32 {
  let w = 0;
  for (let l = 1; l <= layers; l++) w = max(w, fanInAt(shapes, l));
  return w;
}
export function widestOut(layers: i32, shapes: usize): i32 {
  let w = 0;
  for (let l = 1; l <= layers; l++) w = max(w, fanOutAt(shapes, l));
  return w;
}

// Streams touched by `members` consecutive members: at most members, or ⌊members/2⌋ + 1 with pairs.
export function streamBound(members: i32, anti: bool): i32 {
  return anti ? min(members, (members >> 1) + 1) : members;
}

// x rounded up to a multiple of 16 (work regions stay 16-aligned).
// @ts-ignore: decorator
@inline
export function up16(x: u64): u64 {
  return (x + 15) & ~(<u64>15);
}

// dst[j] = ξ at stream positions index0 + j, j < len (any len; TILE-sized calls to fillNormals).
export function fillRange(key: u64, index0: u64, len: i32, dst: usize): void {
  for (let j0 = 0; j0 < len; j0 += TILE) {
    fillNormals(key, index0 + <u64>j0, min(TILE, len - j0), dst + (<usize>j0 << 3));
  }
}
