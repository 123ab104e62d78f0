// Plain-TS oracle of the rank-r NLB directions (assembly/lowrank-core.ts): the coordinate layout,
// the materialized direction D_q (a parameter vector in the layout of bindings/nn/mlp.ts), and a
// rigorous f32 error bound for a member's forward pass computed the way the kernel factors it.

/** m = Σ_l (d_{l−1} + d_l)·r + d_l: coordinates of one stream. */
export function coordCountRef(dims: readonly number[], rank: number): number {
  let m = 0;
  for (let l = 1; l < dims.length; l++) m += (dims[l - 1] + dims[l]) * rank + dims[l];
  return m;
}

/** Per layer: U (d_{l−1}×r), V (d_l×r), β (d_l) read from the coordinate vector. */
export interface Factors { U: Float64Array; V: Float64Array; beta: Float64Array; din: number; dout: number }

export function factorsRef(dims: readonly number[], rank: number, coords: ArrayLike<number>): Factors[] {
  const out: Factors[] = [];
  let o = 0;
  for (let l = 1; l < dims.length; l++) {
    const din = dims[l - 1], dout = dims[l];
    const U = Float64Array.from({ length: din * rank }, (_, j) => coords[o + j]);
    const V = Float64Array.from({ length: dout * rank }, (_, j) => coords[o + din * rank + j]);
    const beta = Float64Array.from({ length: dout }, (_, j) => coords[o + (din + dout) * rank + j]);
    out.push({ U, V, beta, din, dout });
    o += (din + dout) * rank + dout;
  }
  return out;
}

/** D (parameter vector): per layer W-block U Vᵀ/√r, then b-block β. */
export function directionRef(dims: readonly number[], rank: number, coords: ArrayLike<number>): Float64Array {
  const n = dims.slice(1).reduce((s, d, l) => s + dims[l] * d + d, 0);
  const D = new Float64Array(n);
  let at = 0;
  for (const { U, V, beta, din, dout } of factorsRef(dims, rank, coords)) {
    for (let a = 0; a < din; a++) {
      for (let b = 0; b < dout; b++) {
        let s = 0;
        for (let c = 0; c < rank; c++) s += U[a * rank + c] * V[b * rank + c];
        D[at + a * dout + b] = s / Math.sqrt(rank);
      }
    }
    D.set(beta, at + din * dout);
    at += din * dout + dout;
  }
  return D;
}

const U32 = 2 ** -24;
/** Relative error of the kernels' f32 activations (measured in test/dense.test.ts). */
const ACT_REL = 2.5e-7;

/** Per-output bound on |kernel − exact| for one member's logits (rows × d_L), from the way the kernel
 *  computes layer l: z = H·W + (H·U)·(g·Vᵀ/√r) + (b + g·β) in f32 (W, g·V/√r and the bias each
 *  rounded once). A dot product of length K in f32 errs by ≤ K·u·Σ|terms| (u = 2⁻²⁴, first-order),
 *  so z errs by ≤ (K + r + 4)·u·M with M = Σ_a |h_a||W_aj| + Σ_c (Σ_a |h_a||U_ac|)·|g V_jc|/√r +
 *  |b_j + gβ_j|, plus the propagated input error Σ_a |W_aj + g(UVᵀ)_aj/√r|·e_a; the activation is
 *  1-Lipschitz (¼ for the sigmoid) and adds ACT_REL relative. h are the exact activations. */
export function forwardErrorBound(dims: readonly number[], rank: number, act: 'tanh' | 'relu' | 'sigmoid',
  theta: ArrayLike<number>, f: Factors[], g: number, x: ArrayLike<number>, rows: number): Float64Array {
  const fn = { tanh: Math.tanh, relu: (v: number) => Math.max(v, 0), sigmoid: (v: number) => 1 / (1 + Math.exp(-v)) }[act];
  const lip = act === 'sigmoid' ? 0.25 : 1;
  let h = Float64Array.from(x);
  let e = new Float64Array(h.length);
  let at = 0;
  const sr = Math.sqrt(rank);
  for (let l = 0; l < f.length; l++) {
    const { U, V, beta, din, dout } = f[l];
    const last = l === f.length - 1;
    const hn = new Float64Array(rows * dout), en = new Float64Array(rows * dout);
    for (let i = 0; i < rows; i++) {
      const hu = new Float64Array(rank), hua = new Float64Array(rank);
      for (let c = 0; c < rank; c++) {
        for (let a = 0; a < din; a++) { hu[c] += h[i * din + a] * U[a * rank + c]; hua[c] += Math.abs(h[i * din + a] * U[a * rank + c]); }
      }
      for (let j = 0; j < dout; j++) {
        const bias = theta[at + din * dout + j] + g * beta[j];
        let z = bias, M = Math.abs(bias), prop = 0;
        for (let a = 0; a < din; a++) {
          const w = theta[at + a * dout + j];
          let uv = 0;
          for (let c = 0; c < rank; c++) uv += U[a * rank + c] * V[j * rank + c];
          z += h[i * din + a] * w;
          M += Math.abs(h[i * din + a] * w);
          prop += Math.abs(w + (g * uv) / sr) * e[i * din + a];
        }
        for (let c = 0; c < rank; c++) { z += (hu[c] * g * V[j * rank + c]) / sr; M += (hua[c] * Math.abs(g * V[j * rank + c])) / sr; }
        const ez = (din + rank + 4) * U32 * M + prop;
        const y = last ? z : fn(z);
        hn[i * dout + j] = y;
        en[i * dout + j] = last ? ez : lip * ez + ACT_REL * Math.abs(y) + U32 * Math.abs(y);
      }
    }
    h = hn;
    e = en;
    at += din * dout + dout;
  }
  return e;
}
