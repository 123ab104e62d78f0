// Member addressing and perturbation rows on top of the generator of rng-core.ts, shared by the
// rng family (perturb64/perturb32) and the fused perturbed forward (dense.ts). Not exported by
// index.ts. Member i uses stream q_i = ⌊i/2⌋ with sign s_i = (−1)^i under antithetic pairs, else
// q_i = i, s_i = 1.
import { fillNormals, TILE, XI } from "./rng-core";

// Global member index → stream index (antithetic pairs share ⌊i/2⌋).
// @ts-ignore: decorator
@inline
export function streamOf(member: u32, antithetic: bool): u32 {
  return antithetic ? member >> 1 : member;
}

// Global member index → sign s_i of its perturbation.
// @ts-ignore: decorator
@inline
export function signOf(member: u32, antithetic: bool): f64 {
  return antithetic && (member & 1) != 0 ? -1.0 : 1.0;
}

// rowP = θ + σ₊·ξ and, when rowM ≠ 0, rowM = θ − σ₊·ξ (an antithetic pair from one pass of the
// stream), each element computed in f64 and, for T = f32, rounded once (docs/method.md §2.2).
// theta: f64 n; rowP, rowM: T n. Used by perturb64/perturb32 (rng.ts) and mlpForwardPerturbed.
export function perturbRows<T>(n: i32, sp: f64, key: u64, theta: usize, rowP: usize, rowM: usize): void {
  const sm = -sp;
  const wide = sizeof<T>() == 8;
  for (let j0 = 0; j0 < n; j0 += TILE) {
    const len = min(TILE, n - j0);
    fillNormals(key, <u64>j0, len, XI);
    const th = theta + (<usize>j0 << 3);
    const p = rowP + <usize>j0 * sizeof<T>();
    const m = rowM + <usize>j0 * sizeof<T>();
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      // One loop per case keeps the branch out: f64 rows two values per step, f32 rows four
      // (two f64x2 results demoted and stored as one f32x4).
      const vp = f64x2.splat(sp);
      const vm = f64x2.splat(sm);
      if (wide && rowM == 0) {
        for (; j + 1 < len; j += 2) {
          const o = <usize>j << 3;
          v128.store(p + o, f64x2.add(v128.load(th + o), f64x2.mul(vp, v128.load(XI + o))));
        }
      } else if (wide) {
        for (; j + 1 < len; j += 2) {
          const o = <usize>j << 3;
          const x = v128.load(XI + o);
          const t = v128.load(th + o);
          v128.store(p + o, f64x2.add(t, f64x2.mul(vp, x)));
          v128.store(m + o, f64x2.add(t, f64x2.mul(vm, x)));
        }
      } else if (rowM == 0) {
        for (; j + 3 < len; j += 4) {
          const x = XI + (<usize>j << 3);
          const t = th + (<usize>j << 3);
          const lo = f32x4.demote_f64x2_zero(f64x2.add(v128.load(t), f64x2.mul(vp, v128.load(x))));
          const hi = f32x4.demote_f64x2_zero(f64x2.add(v128.load(t, 16), f64x2.mul(vp, v128.load(x, 16))));
          v128.store(p + (<usize>j << 2), v128.shuffle<u32>(lo, hi, 0, 1, 4, 5));
        }
      } else {
        for (; j + 3 < len; j += 4) {
          const x = XI + (<usize>j << 3);
          const t = th + (<usize>j << 3);
          const x0 = v128.load(x), x1 = v128.load(x, 16);
          const t0 = v128.load(t), t1 = v128.load(t, 16);
          const o = <usize>j << 2;
          const plo = f32x4.demote_f64x2_zero(f64x2.add(t0, f64x2.mul(vp, x0)));
          const phi = f32x4.demote_f64x2_zero(f64x2.add(t1, f64x2.mul(vp, x1)));
          v128.store(p + o, v128.shuffle<u32>(plo, phi, 0, 1, 4, 5));
          const mlo = f32x4.demote_f64x2_zero(f64x2.add(t0, f64x2.mul(vm, x0)));
          const mhi = f32x4.demote_f64x2_zero(f64x2.add(t1, f64x2.mul(vm, x1)));
          v128.store(m + o, v128.shuffle<u32>(mlo, mhi, 0, 1, 4, 5));
        }
      }
    }
    for (; j < len; j++) {
      const x = load<f64>(XI + (<usize>j << 3));
      const t = load<f64>(th + (<usize>j << 3));
      const o = <usize>j * sizeof<T>();
      store<T>(p + o, <T>(t + sp * x));
      if (rowM != 0) store<T>(m + o, <T>(t + sm * x));
    }
  }
}
