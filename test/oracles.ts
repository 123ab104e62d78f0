// Plain-TypeScript reference implementations (oracles) for the rng, ensemble and cholesky
// kernels, written from docs/method.md and the kernels' doc comments, never from the kernels' code
// paths: straightforward loops, matrices formed explicitly. Any suite may import them.
// All matrices are row-major Float64Arrays; a k×m matrix holds k rows of m values.

/** A seeded uniform [0, 1) generator (mulberry32): tests never use Math.random. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded integer in [lo, hi]. */
export function randInt(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** n uniform values in [lo, hi). */
export function uniformArray(rand: () => number, n: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * rand());
}

/** n seeded standard normals (Box–Muller on mulberry32; for test data, not the kernel RNG). */
export function gaussArray(rand: () => number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rand();
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  }
  return out;
}

/** Largest |a_i − b_i|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) ? Infinity : m;
}

/** Largest |a_i|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

// ---------------------------------------------------------------------------------------------
// The counter-based generator, re-implemented from its definition with BigInt (rng.ts header).

const M64 = (1n << 64n) - 1n;
const GAMMA = 0x9e3779b97f4a7c15n;
const GAMMA2 = 0xd1b54a32d192ed03n;
const K0 = 0x243f6a8885a308d3n;
const K1 = 0x6a09e667f3bcc908n;

function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}

/** The stream key of (seed, iter, member), all u32. */
export function streamKeyRef(seed: number, iter: number, member: number): bigint {
  const h = mix64(((BigInt(seed >>> 0) << 32n) | BigInt(iter >>> 0)) ^ K0);
  return mix64(h ^ ((BigInt(member >>> 0) * GAMMA2 + K1) & M64));
}

/** The uniform u ∈ (0, 1) minus ½ at one stream position: h = mix64(key + ⌊index/2⌋γ), b = the
 *  low (even index) or high (odd index) 32 bits of h, q = (2⌊b/2⁹⌋ + 1)·2⁻²⁴ − ½ (exact in f32). */
export function uniformCentredRef(key: bigint, index: number): number {
  const h = mix64((key + BigInt(Math.floor(index / 2)) * GAMMA) & M64);
  const b = index % 2 === 0 ? h & 0xffffffffn : h >> 32n;
  const u = Number(b >> 9n);
  return (2 * u + 1) / 2 ** 24 - 0.5;
}

const f = Math.fround;

/** Acklam's inverse normal CDF of u = q + ½ (his published coefficients and region split),
 *  evaluated in f32 (every operation rounded by Math.fround), the central rational as products
 *  over the roots of its quintics in the order rng.ts documents, so a host that follows the
 *  definition reproduces the kernel's bits (tails call the host's log, so they agree to a few f32
 *  ulps). With exact = true, plain f64 Horner evaluation of the published coefficients: Acklam's
 *  approximation itself (relative error < 1.15e-9), the reference for the accuracy test. */
export function acklamRef(q: number, exact = false): number {
  const a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
    1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
  const b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
    6.680131188771972e+01, -1.328068155288572e+01];
  const c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
    -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
  const d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
    3.754408661907416e+00];
  if (exact) {
    if (Math.abs(q) <= 0.47575) {
      const r = q * q;
      return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    const t = Math.sqrt(-2 * Math.log(0.5 - Math.abs(q)));
    const x = (((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) /
      ((((d[0] * t + d[1]) * t + d[2]) * t + d[3]) * t + 1);
    return q < 0 ? x : -x;
  }
  const rootsA = [0.2546367332088459, 0.2768539791445508, 0.34800255128107377, 0.63535904846023, 4.050984980934811].map(f);
  const rootsB = [0.2535187102166747, 0.2715739763407426, 0.3258703616432124, 0.5095656108263265, 1.6056499114419955].map(f);
  const K = f(0.7287017822933365); // a[0]/b[0]
  const [C1, C2, C3, C4, C5, C6] = c.map(f);
  const [D1, D2, D3, D4] = d.map(f);
  q = f(q);
  if (Math.abs(q) <= f(0.47575)) {
    const r = f(q * q);
    const product = (roots: number[]) => roots.reduce((acc, root, i) => (i === 0 ? f(r - root) : f(acc * f(r - root))), 0);
    return f(f(f(q * K) * product(rootsA)) / product(rootsB));
  }
  const t = f(Math.sqrt(f(-2 * f(Math.log(f(0.5 - Math.abs(q)))))));
  const h = (x: number, y: number) => f(f(x * t) + y);
  const x = f(h(h(h(h(h(C1, C2), C3), C4), C5), C6) / h(h(h(h(D1, D2), D3), D4), 1));
  return q < 0 ? x : -x;
}

/** ξ(seed, iter, member, offset + j) for j < n, from the definition. */
export function randnRef(n: number, seed: number, iter: number, member: number, offset: number): Float64Array {
  const key = streamKeyRef(seed, iter, member);
  return Float64Array.from({ length: n }, (_, j) => acklamRef(uniformCentredRef(key, offset + j)));
}

/** The standard normal CDF Φ(x) = ½ erfc(−x/√2), erfc by the Numerical Recipes Chebyshev fit
 *  (erfcc, relative error < 1.2e-7 everywhere). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - 0.5 * r : 0.5 * r;
}

// ---------------------------------------------------------------------------------------------
// Perturbations, from a materialized E (rows from any randn-like source).

/** Stream and sign of global member i. */
export function memberStream(i: number, antithetic: boolean): { q: number; s: number } {
  return antithetic ? { q: Math.floor(i / 2), s: i % 2 === 0 ? 1 : -1 } : { q: i, s: 1 };
}

/** Rows θ + σ·s_i·ξ_{q_i} (k×n), with ξ_q = xi(q). */
export function perturbRef(k: number, sigma: number, member0: number, antithetic: boolean,
  theta: Float64Array, xi: (q: number) => Float64Array): Float64Array {
  const n = theta.length;
  const out = new Float64Array(k * n);
  for (let r = 0; r < k; r++) {
    const { q, s } = memberStream(member0 + r, antithetic);
    const e = xi(q);
    for (let j = 0; j < n; j++) out[r * n + j] = theta[j] + s * sigma * e[j];
  }
  return out;
}

/** θ + coef·E z with E's columns s_i ξ_{q_i} materialized (a new array). */
export function nlbUpdateRef(coef: number, member0: number, antithetic: boolean, z: ArrayLike<number>,
  theta: Float64Array, xi: (q: number) => Float64Array): Float64Array {
  const out = Float64Array.from(theta);
  for (let r = 0; r < z.length; r++) {
    const { q, s } = memberStream(member0 + r, antithetic);
    const e = xi(q);
    for (let j = 0; j < out.length; j++) out[j] += coef * z[r] * s * e[j];
  }
  return out;
}

/** G = [e_a·e_b] (k×k) and p = [e_a·θ] (k) with e_a = s_a ξ_{q_a}, plain f64 sums over j. */
export function gramRef(k: number, member0: number, antithetic: boolean, theta: Float64Array,
  xi: (q: number) => Float64Array): { G: Float64Array; p: Float64Array } {
  const n = theta.length;
  const E = Array.from({ length: k }, (_, r) => {
    const { q, s } = memberStream(member0 + r, antithetic);
    return xi(q).map((x) => s * x);
  });
  const G = new Float64Array(k * k);
  const p = new Float64Array(k);
  for (let a = 0; a < k; a++) {
    for (let j = 0; j < n; j++) p[a] += E[a][j] * theta[j];
    for (let b = 0; b < k; b++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += E[a][j] * E[b][j];
      G[a * k + b] = s;
    }
  }
  return { G, p };
}

// ---------------------------------------------------------------------------------------------
// Ensemble-space algebra.

/** ΔF = F − 1cᵀ (k×m). */
export function differences(k: number, m: number, F: Float64Array, c: Float64Array): Float64Array {
  const D = new Float64Array(k * m);
  for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) D[i * m + j] = F[i * m + j] - c[j];
  return D;
}

/** The diagonal of W: w, or wScalar everywhere. */
export function weights(m: number, wScalar: number, w?: Float64Array): Float64Array {
  return w ? Float64Array.from(w) : new Float64Array(m).fill(wScalar);
}

export function meanRowsRef(k: number, m: number, F: Float64Array): Float64Array {
  const out = new Float64Array(m);
  for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) out[j] += F[i * m + j];
  for (let j = 0; j < m; j++) out[j] /= k;
  return out;
}

/** A = ΔFᵀWΔF (k×k), r = ΔFᵀW(y − c), loss = ½(y − c)ᵀW(y − c). */
export function lsSystemRef(k: number, m: number, wScalar: number, F: Float64Array, c: Float64Array,
  y: Float64Array, w?: Float64Array): { A: Float64Array; r: Float64Array; loss: number } {
  const D = differences(k, m, F, c);
  const W = weights(m, wScalar, w);
  const A = new Float64Array(k * k);
  const r = new Float64Array(k);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += D[a * m + j] * W[j] * D[b * m + j];
      A[a * k + b] = s;
    }
    let s = 0;
    for (let j = 0; j < m; j++) s += D[a * m + j] * W[j] * (y[j] - c[j]);
    r[a] = s;
  }
  let loss = 0;
  for (let j = 0; j < m; j++) loss += 0.5 * W[j] * (y[j] - c[j]) ** 2;
  return { A, r, loss };
}

/** Softmax of x (stable). */
export function softmaxRef(x: ArrayLike<number>): Float64Array {
  let mx = -Infinity;
  for (let j = 0; j < x.length; j++) mx = Math.max(mx, x[j]);
  const e = Float64Array.from(x, (v) => Math.exp(v - mx));
  const s = e.reduce((p, v) => p + v, 0);
  return e.map((v) => v / s);
}

/** The m×m cross-entropy Hessian at c, formed explicitly: blocks (diag p_b − p_b p_bᵀ)/B. */
export function ceHessianRef(B: number, C: number, c: Float64Array): Float64Array {
  const m = B * C;
  const H = new Float64Array(m * m);
  for (let b = 0; b < B; b++) {
    const p = softmaxRef(c.subarray(b * C, (b + 1) * C));
    for (let i = 0; i < C; i++) {
      for (let j = 0; j < C; j++) H[(b * C + i) * m + b * C + j] = ((i === j ? p[i] : 0) - p[i] * p[j]) / B;
    }
  }
  return H;
}

/** Mean cross-entropy of logits x (B·C) and its gradient (softmax − onehot)/B. */
export function ceLossGradRef(B: number, C: number, x: Float64Array, labels: Int32Array): { loss: number; g: Float64Array } {
  const g = new Float64Array(B * C);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const p = softmaxRef(x.subarray(b * C, (b + 1) * C));
    loss -= Math.log(p[labels[b]]) / B;
    for (let j = 0; j < C; j++) g[b * C + j] = (p[j] - (j === labels[b] ? 1 : 0)) / B;
  }
  return { loss, g };
}

/** A = ΔFᵀHΔF with each sample's C×C block H_b = (diag p_b − p_b p_bᵀ)/B formed explicitly
 *  (H is block diagonal), r = −ΔFᵀg, loss at c. */
export function ceSystemRef(k: number, B: number, C: number, F: Float64Array, c: Float64Array,
  labels: Int32Array): { A: Float64Array; r: Float64Array; loss: number } {
  const m = B * C;
  const D = differences(k, m, F, c);
  const { loss, g } = ceLossGradRef(B, C, c, labels);
  const HD = new Float64Array(k * m); // row b: H ΔF_b
  const Hb = new Float64Array(C * C);
  for (let s = 0; s < B; s++) {
    const p = softmaxRef(c.subarray(s * C, (s + 1) * C));
    for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) Hb[i * C + j] = ((i === j ? p[i] : 0) - p[i] * p[j]) / B;
    for (let b = 0; b < k; b++) {
      for (let i = 0; i < C; i++) {
        let acc = 0;
        for (let j = 0; j < C; j++) acc += Hb[i * C + j] * D[b * m + s * C + j];
        HD[b * m + s * C + i] = acc;
      }
    }
  }
  const A = new Float64Array(k * k);
  const r = new Float64Array(k);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let acc = 0;
      for (let i = 0; i < m; i++) acc += D[a * m + i] * HD[b * m + i];
      A[a * k + b] = acc;
    }
    let acc = 0;
    for (let i = 0; i < m; i++) acc -= D[a * m + i] * g[i];
    r[a] = acc;
  }
  return { A, r, loss };
}

/** R(k×p) = ΔFᵀ W Vᵀ, V: p×m. */
export function projectRowsRef(k: number, m: number, p: number, wScalar: number, F: Float64Array,
  c: Float64Array, V: Float64Array, w?: Float64Array): Float64Array {
  const D = differences(k, m, F, c);
  const W = weights(m, wScalar, w);
  const R = new Float64Array(k * p);
  for (let i = 0; i < k; i++) {
    for (let q = 0; q < p; q++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += D[i * m + j] * W[j] * V[q * m + j];
      R[i * p + q] = s;
    }
  }
  return R;
}

/** out = Σ_i z_i ΔF_i and max |out|. */
export function combineRowsRef(k: number, m: number, F: Float64Array, c: Float64Array,
  z: ArrayLike<number>): { out: Float64Array; max: number } {
  const out = new Float64Array(m);
  for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) out[j] += z[i] * (F[i * m + j] - c[j]);
  return { out, max: maxAbs(out) };
}

/** out_i = ½(F_i − y)ᵀW(F_i − y). */
export function lsLossRef(k: number, m: number, wScalar: number, F: Float64Array, y: Float64Array,
  w?: Float64Array): Float64Array {
  const W = weights(m, wScalar, w);
  return Float64Array.from({ length: k }, (_, i) => {
    let s = 0;
    for (let j = 0; j < m; j++) s += 0.5 * W[j] * (F[i * m + j] - y[j]) ** 2;
    return s;
  });
}

/** Per member: mean cross-entropy and number of samples whose first argmax is the label. */
export function ceLossRef(k: number, B: number, C: number, F: Float64Array,
  labels: Int32Array): { loss: Float64Array; correct: Int32Array } {
  const loss = new Float64Array(k);
  const correct = new Int32Array(k);
  for (let i = 0; i < k; i++) {
    const x = F.subarray(i * B * C, (i + 1) * B * C);
    loss[i] = ceLossGradRef(B, C, x, labels).loss;
    for (let b = 0; b < B; b++) {
      let arg = 0;
      for (let j = 1; j < C; j++) if (x[b * C + j] > x[b * C + arg]) arg = j;
      if (arg === labels[b]) correct[i]++;
    }
  }
  return { loss, correct };
}

/** Θ_j + Σ_l Z_lj (Θ_l − θ̄), all from the old Θ (a new array). */
export function ekiUpdateRef(J: number, n: number, Theta: Float64Array, Z: Float64Array): Float64Array {
  const mean = meanRowsRef(J, n, Theta);
  const out = Float64Array.from(Theta);
  for (let j = 0; j < J; j++) {
    for (let l = 0; l < J; l++) {
      for (let t = 0; t < n; t++) out[j * n + t] += Z[l * J + j] * (Theta[l * n + t] - mean[t]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Dense linear algebra.

/** C(M×N) = A(M×K)·B(K×N). */
export function matmul(M: number, K: number, N: number, A: ArrayLike<number>, B: ArrayLike<number>): Float64Array {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let p = 0; p < K; p++) {
      const a = A[i * K + p];
      for (let j = 0; j < N; j++) C[i * N + j] += a * B[p * N + j];
    }
  }
  return C;
}

/** Aᵀ for A: M×N. */
export function transpose(M: number, N: number, A: ArrayLike<number>): Float64Array {
  const T = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) T[j * M + i] = A[i * N + j];
  return T;
}

/** A random SPD n×n matrix GGᵀ/n + δI with a controlled spectrum. */
export function randomSpd(rand: () => number, n: number, delta = 0.1): Float64Array {
  const G = gaussArray(rand, n * n);
  const A = matmul(n, n, n, G, transpose(n, n, G));
  for (let i = 0; i < n * n; i++) A[i] /= n;
  for (let i = 0; i < n; i++) A[i * n + i] += delta;
  return A;
}

/** Textbook Cholesky (Cholesky–Crout by columns) of A + shift·I; null when not PD. */
export function choleskyRef(n: number, A: Float64Array, shift = 0): Float64Array | null {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j] + shift;
    for (let p = 0; p < j; p++) d -= L[j * n + p] ** 2;
    if (!(d > 0)) return null;
    L[j * n + j] = Math.sqrt(d);
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j];
      for (let p = 0; p < j; p++) s -= L[i * n + p] * L[j * n + p];
      L[i * n + j] = s / L[j * n + j];
    }
  }
  return L;
}
