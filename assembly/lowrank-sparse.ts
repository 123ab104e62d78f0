// The sparse first layer of lowRankForward: C(rows × N) = X(rows × K)·P(K × N) for an X with many
// zeros (MNIST rows are ~81 % zeros), visiting only X's nonzeros. Not exported by index.ts.
//
// Same bits as the dense engine (gemm-tile.ts): it sums each K block of kBlock(K) columns of X in
// ascending k from +0, one product at a time (f32 multiply, then add), and combines blocks as
// (later block) + (partial C), exactly like gemmBlock's epilogue with α = β = 1. A skipped term is
// 0·p = ±0, and adding ±0 to a sum that started at +0 never changes it, so skipping zeros changes no
// bit (for finite P). Hence choosing the sparse or the dense path is a speed decision only.
import { kBlock } from "./gemm-pack";

// Fraction of nonzeros of X (rows × K, f32) at or below which lowRankForward's automatic choice
// takes the sparse path: bench/lowrank.ts measured the whole 784-64-10 call (k + 1 = 33, batch 512)
// 1.12× faster sparse at 19 % nonzeros (MNIST), 1.05× at 30 %, 1.0× at 40 %, 0.94× at 50 %.
export const SPARSE_MAX: f64 = 0.4;

// Compaction table: entry m (16 bytes) lists the set bits of the 4-bit mask m in ascending order,
// so one store appends the positions of a group's nonzeros to the list.
const LUT: usize = memory.data<i32>([
  0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0,
  2, 0, 0, 0, 0, 2, 0, 0, 1, 2, 0, 0, 0, 1, 2, 0,
  3, 0, 0, 0, 0, 3, 0, 0, 1, 3, 0, 0, 0, 1, 3, 0,
  2, 3, 0, 0, 0, 2, 3, 0, 1, 2, 3, 0, 0, 1, 2, 3,
], 16);

// Number of nonzero entries of x (len f32).
export function countNonzeros(len: i32, x: usize): i32 {
  let j = 0;
  let count = 0;
  if (ASC_FEATURE_SIMD) {
    let acc = i32x4.splat(0);
    const zero = f32x4.splat(0);
    // ne gives −1 per nonzero lane: subtracting counts up
    for (; j + 3 < len; j += 4) acc = i32x4.sub(acc, f32x4.ne(v128.load(x + (<usize>j << 2)), zero));
    count = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  }
  for (; j < len; j++) count += select<i32>(1, 0, load<f32>(x + (<usize>j << 2)) != 0);
  return count;
}

// C = X·P with P (K × N, row stride N floats, N a multiple of 4) and C (rows × N).
// list: (K + 4) i32 (one K block's nonzero positions); acc: N f32 (a later K block's partial sums).
export function sparseProduct(rows: i32, N: i32, K: i32, X: usize, P: usize, C: usize, list: usize, acc: usize): void {
  const kc = kBlock(K);
  const pRow = <usize>N << 2;
  for (let i = 0; i < rows; i++) {
    const x = X + (<usize>i * <usize>K << 2);
    const c = C + <usize>i * pRow;
    for (let k0 = 0; k0 < K; k0 += kc) {
      const kb = min(kc, K - k0);
      // the block's nonzero positions, in ascending order, without branches
      let cnt = 0;
      let k = k0;
      if (ASC_FEATURE_SIMD) {
        const zero = f32x4.splat(0);
        for (; k + 3 < k0 + kb; k += 4) {
          const m = i32x4.bitmask(f32x4.ne(v128.load(x + (<usize>k << 2)), zero));
          v128.store(list + (<usize>cnt << 2), i32x4.add(v128.load(LUT + (<usize>m << 4)), i32x4.splat(k)));
          cnt += <i32>popcnt(m);
        }
      }
      for (; k < k0 + kb; k++) {
        store<i32>(list + (<usize>cnt << 2), k);
        cnt += select<i32>(1, 0, load<f32>(x + (<usize>k << 2)) != 0);
      }
      const dst = k0 == 0 ? c : acc;
      rowTimesP(cnt, list, x, P, pRow, N, dst);
      if (k0 > 0) {
        for (let j = 0; j < N; j++) {
          const o = <usize>j << 2;
          store<f32>(c + o, load<f32>(acc + o) + load<f32>(c + o));
        }
      }
    }
  }
}

// dst(N) = Σ_t x[k_t]·P[k_t] over the cnt listed positions k_t, ascending t, from +0.
function rowTimesP(cnt: i32, list: usize, x: usize, P: usize, pRow: usize, N: i32, dst: usize): void {
  const end = list + (<usize>cnt << 2);
  let j0 = 0;
  if (ASC_FEATURE_SIMD) {
    // 32 columns in 8 register accumulators per pass over the list
    for (; j0 + 32 <= N; j0 += 32) {
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
      const pc = P + (<usize>j0 << 2);
      for (let e = list; e < end; e += 4) {
        const k = <usize>load<i32>(e);
        const v = v128.load32_splat(x + (k << 2));
        const p = pc + k * pRow;
        a0 = f32x4.add(a0, f32x4.mul(v, v128.load(p)));
        a1 = f32x4.add(a1, f32x4.mul(v, v128.load(p, 16)));
        a2 = f32x4.add(a2, f32x4.mul(v, v128.load(p, 32)));
        a3 = f32x4.add(a3, f32x4.mul(v, v128.load(p, 48)));
        a4 = f32x4.add(a4, f32x4.mul(v, v128.load(p, 64)));
        a5 = f32x4.add(a5, f32x4.mul(v, v128.load(p, 80)));
        a6 = f32x4.add(a6, f32x4.mul(v, v128.load(p, 96)));
        a7 = f32x4.add(a7, f32x4.mul(v, v128.load(p, 112)));
      }
      const d = dst + (<usize>j0 << 2);
      v128.store(d, a0);
      v128.store(d, a1, 16);
      v128.store(d, a2, 32);
      v128.store(d, a3, 48);
      v128.store(d, a4, 64);
      v128.store(d, a5, 80);
      v128.store(d, a6, 96);
      v128.store(d, a7, 112);
    }
    // 16 columns in 4 accumulators, then 4 at a time (N is a multiple of 4)
    for (; j0 + 16 <= N; j0 += 16) {
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      const pc = P + (<usize>j0 << 2);
      for (let e = list; e < end; e += 4) {
        const k = <usize>load<i32>(e);
        const v = v128.load32_splat(x + (k << 2));
        const p = pc + k * pRow;
        a0 = f32x4.add(a0, f32x4.mul(v, v128.load(p)));
        a1 = f32x4.add(a1, f32x4.mul(v, v128.load(p, 16)));
        a2 = f32x4.add(a2, f32x4.mul(v, v128.load(p, 32)));
        a3 = f32x4.add(a3, f32x4.mul(v, v128.load(p, 48)));
      }
      const d = dst + (<usize>j0 << 2);
      v128.store(d, a0);
      v128.store(d, a1, 16);
      v128.store(d, a2, 32);
      v128.store(d, a3, 48);
    }
    for (; j0 < N; j0 += 4) {
      let a = f32x4.splat(0);
      const pc = P + (<usize>j0 << 2);
      for (let e = list; e < end; e += 4) {
        const k = <usize>load<i32>(e);
        a = f32x4.add(a, f32x4.mul(v128.load32_splat(x + (k << 2)), v128.load(pc + k * pRow)));
      }
      v128.store(dst + (<usize>j0 << 2), a);
    }
    return;
  }
  for (; j0 < N; j0 += 4) {
    let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0;
    const pc = P + (<usize>j0 << 2);
    for (let e = list; e < end; e += 4) {
      const k = <usize>load<i32>(e);
      const v = load<f32>(x + (k << 2));
      const p = pc + k * pRow;
      a0 += v * load<f32>(p);
      a1 += v * load<f32>(p, 4);
      a2 += v * load<f32>(p, 8);
      a3 += v * load<f32>(p, 12);
    }
    const d = dst + (<usize>j0 << 2);
    store<f32>(d, a0);
    store<f32>(d, a1, 4);
    store<f32>(d, a2, 8);
    store<f32>(d, a3, 12);
  }
}
