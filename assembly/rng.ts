// rng kernel family: a counter-based N(0,1) generator and the kernels that consume it, so the
// perturbation matrix E = σΞ is regenerated instead of stored (method.md §2 step 2).
//
// ξ(seed, iter, member, index) is a pure function of four u32:
//   key   = mix64(mix64(seed·2³² + iter ⊕ K0) ⊕ (member·γ₂ + K1))     (one stream per member)
//   bits  = mix64(key + index·γ)                                      (SplitMix64 as a counter)
//   q     = u − ½ with u = (2·⌊bits/2¹²⌋ + 1)·2⁻⁵³ ∈ (0, 1), exact and symmetric about ½
//   ξ     = Φ⁻¹(u) by Acklam's rational approximation (relative error < 1.15·10⁻⁹).
// mix64 is the SplitMix64 finalizer (Steele, Lea & Flood 2014; Stafford's variant 13). Acklam's
// central region (|q| ≤ 0.47575, 95 % of draws) uses only +, ×, ÷, evaluated lane-wise in f64x2 in
// the same order as the scalar path; tail draws go through one scalar function (Math.log, a
// software routine in AssemblyScript) in both builds. IEEE arithmetic is correctly rounded, so the
// SIMD and scalar builds produce the same bits in every host.
//
// Layouts: row-major, a k×n matrix holds k member rows of n contiguous values. Member i of a call
// is the global member member0 + r for row r; with antithetic pairs it uses stream q_i = ⌊i/2⌋
// with sign s_i = (−1)^i, else q_i = i, s_i = 1.
import { checkPtr, checkDim } from "./util";

// SplitMix64 increment γ = 2⁶⁴/φ and the finalizer multipliers.
const GAMMA: u64 = 0x9E3779B97F4A7C15;
const MIX1: u64 = 0xBF58476D1CE4E5B9;
const MIX2: u64 = 0x94D049BB133111EB;
// Key-derivation constants (digits of π and of √2), so seed 0 / member 0 is not a fixed point.
const K0: u64 = 0x243F6A8885A308D3;
const K1: u64 = 0x6A09E667F3BCC908;
const GAMMA2: u64 = 0xD1B54A32D192ED03;

// 1.0 as bits: OR-ing 52 random mantissa bits in gives a double in [1, 2).
const ONE_BITS: u64 = 0x3FF0000000000000;
const HALF_ULP: f64 = 1.1102230246251565e-16; // 2⁻⁵³
const Q_TAIL: f64 = 0.47575; // ½ − p_low, p_low = 0.02425 (Acklam's region split)

// Acklam's coefficients: central rational a/b in r = q², tails c/d in t = √(−2 ln p).
const A1: f64 = -3.969683028665376e+01;
const A2: f64 = 2.209460984245205e+02;
const A3: f64 = -2.759285104469687e+02;
const A4: f64 = 1.383577518672690e+02;
const A5: f64 = -3.066479806614716e+01;
const A6: f64 = 2.506628277459239e+00;
const B1: f64 = -5.447609879822406e+01;
const B2: f64 = 1.615858368580409e+02;
const B3: f64 = -1.556989798598866e+02;
const B4: f64 = 6.680131188771972e+01;
const B5: f64 = -1.328068155288572e+01;
const C1: f64 = -7.784894002430293e-03;
const C2: f64 = -3.223964580411365e-01;
const C3: f64 = -2.400758277161838e+00;
const C4: f64 = -2.549732539343734e+00;
const C5: f64 = 4.374664141464968e+00;
const C6: f64 = 2.938163982698783e+00;
const D1: f64 = 7.784695709041462e-03;
const D2: f64 = 3.224671290700398e-01;
const D3: f64 = 2.445134137142996e+00;
const D4: f64 = 3.754408661907416e+00;

// Splatted constants for the f64x2 path, read from memory: V8 would re-materialize each
// v128 constant inside the loop (performance-notes.md), a load is one instruction.
// Layout (16 bytes each): 0 A1 … 5 A6, 6 B1 … 10 B5, 11 one, 12 1.5, 13 2⁻⁵³, 14 Q_TAIL.
const VF: usize = memory.data<f64>([
  A1, A1, A2, A2, A3, A3, A4, A4, A5, A5, A6, A6,
  B1, B1, B2, B2, B3, B3, B4, B4, B5, B5,
  1.0, 1.0, 1.5, 1.5, HALF_ULP, HALF_ULP, Q_TAIL, Q_TAIL,
], 16);
// Layout: 0 MIX1, 1 MIX2, 2 ONE_BITS, 3 2γ (the state step of one f64x2 iteration).
const VI: usize = memory.data<u64>([
  MIX1, MIX1, MIX2, MIX2, ONE_BITS, ONE_BITS, GAMMA << 1, GAMMA << 1,
], 16);

// @ts-ignore: decorator
@inline
function mix64(z: u64): u64 {
  z = (z ^ (z >> 30)) * MIX1;
  z = (z ^ (z >> 27)) * MIX2;
  return z ^ (z >> 31);
}

// The stream key of one member: distinct (seed, iter) pairs map to distinct inner states.
// @ts-ignore: decorator
@inline
function streamKey(seed: u32, iter: u32, member: u32): u64 {
  const h = mix64(((<u64>seed << 32) | <u64>iter) ^ K0);
  return mix64(h ^ (<u64>member * GAMMA2 + K1));
}

// Acklam's lower-tail rational for the tail probability p = ½ − |q| (exact), signed like q.
function tailNormal(q: f64): f64 {
  const t = Math.sqrt(-2.0 * Math.log(0.5 - Math.abs(q)));
  const x = (((((C1 * t + C2) * t + C3) * t + C4) * t + C5) * t + C6) /
    ((((D1 * t + D2) * t + D3) * t + D4) * t + 1.0);
  return q < 0 ? x : -x;
}

// One N(0,1) value from 64 random bits (the scalar reference of normal2).
// @ts-ignore: decorator
@inline
function normal1(bits: u64): f64 {
  const q = (reinterpret<f64>((bits >> 12) | ONE_BITS) - 1.5) + HALF_ULP;
  if (Math.abs(q) > Q_TAIL) return tailNormal(q);
  const r = q * q;
  const num = (((((A1 * r + A2) * r + A3) * r + A4) * r + A5) * r + A6) * q;
  const den = ((((B1 * r + B2) * r + B3) * r + B4) * r + B5) * r + 1.0;
  return num / den;
}

// The value at stream position `index` of the stream `key`.
// @ts-ignore: decorator
@inline
function normalAt(key: u64, index: u64): f64 {
  return normal1(mix64(key + index * GAMMA));
}

// Replaces the tail lanes of x (rare: ≈ 9.5 % of pairs) by the scalar tail value.
function fixTails(q: v128, x: v128): v128 {
  const q0 = f64x2.extract_lane(q, 0);
  const q1 = f64x2.extract_lane(q, 1);
  if (Math.abs(q0) > Q_TAIL) x = f64x2.replace_lane(x, 0, tailNormal(q0));
  if (Math.abs(q1) > Q_TAIL) x = f64x2.replace_lane(x, 1, tailNormal(q1));
  return x;
}

// Two N(0,1) values from two SplitMix64 states (lane-wise the same operations as normal1).
// @ts-ignore: decorator
@inline
function normal2(state: v128): v128 {
  let z = state;
  z = i64x2.mul(v128.xor(z, i64x2.shr_u(z, 30)), v128.load(VI, 0));
  z = i64x2.mul(v128.xor(z, i64x2.shr_u(z, 27)), v128.load(VI, 16));
  z = v128.xor(z, i64x2.shr_u(z, 31));
  const d = v128.or(i64x2.shr_u(z, 12), v128.load(VI, 32));
  const q = f64x2.add(f64x2.sub(d, v128.load(VF, 192)), v128.load(VF, 208));
  const r = f64x2.mul(q, q);
  let num = f64x2.add(f64x2.mul(v128.load(VF, 0), r), v128.load(VF, 16));
  num = f64x2.add(f64x2.mul(num, r), v128.load(VF, 32));
  num = f64x2.add(f64x2.mul(num, r), v128.load(VF, 48));
  num = f64x2.add(f64x2.mul(num, r), v128.load(VF, 64));
  num = f64x2.add(f64x2.mul(num, r), v128.load(VF, 80));
  num = f64x2.mul(num, q);
  let den = f64x2.add(f64x2.mul(v128.load(VF, 96), r), v128.load(VF, 112));
  den = f64x2.add(f64x2.mul(den, r), v128.load(VF, 128));
  den = f64x2.add(f64x2.mul(den, r), v128.load(VF, 144));
  den = f64x2.add(f64x2.mul(den, r), v128.load(VF, 160));
  den = f64x2.add(f64x2.mul(den, r), v128.load(VF, 176));
  const x = f64x2.div(num, den);
  if (v128.any_true(f64x2.gt(f64x2.abs(q), v128.load(VF, 224)))) return fixTails(q, x);
  return x;
}

// The f64x2 states of positions index and index + 1 of stream `key`.
// @ts-ignore: decorator
@inline
function state2(key: u64, index: u64): v128 {
  const s = key + index * GAMMA;
  return i64x2.replace_lane(i64x2.splat(s), 1, s + GAMMA);
}

// Aborts unless `count` elements of `elem` bytes at ptr lie in memory, `elem`-aligned.
// @ts-ignore: decorator
@inline
function checkBuf(ptr: usize, count: u64, elem: u32, what: string): void {
  const bytes = count * <u64>elem;
  if (bytes > <u64>0xFFFFFFFF) abort(what + ": buffer out of bounds");
  checkPtr(ptr, <usize>bytes, <usize>elem, what);
}

// Aborts unless stream positions offset … offset + n − 1 are valid u32 indices.
// @ts-ignore: decorator
@inline
function checkIndexRange(offset: u32, n: i32, what: string): void {
  if (<u64>offset + <u64>n > <u64>0x100000000) abort(what + ": offset + n must be ≤ 2^32 (index is u32)");
}

// out[j] = ξ(seed, iter, member, offset + j), j < n. out: f64 n.
export function randn(n: i32, seed: u32, iter: u32, member: u32, offset: u32, out: usize): void {
  checkDim(n, "randn: n");
  checkIndexRange(offset, n, "randn");
  checkBuf(out, <u64>n, 8, "randn: out");
  const key = streamKey(seed, iter, member);
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    let s = state2(key, <u64>offset);
    for (; j + 1 < n; j += 2) {
      v128.store(out + (<usize>j << 3), normal2(s));
      s = i64x2.add(s, v128.load(VI, 48));
    }
  }
  for (; j < n; j++) store<f64>(out + (<usize>j << 3), normalAt(key, <u64>offset + <u64>j));
}

// Global member index → stream index (antithetic pairs share ⌊i/2⌋).
// @ts-ignore: decorator
@inline
function streamOf(member: u32, antithetic: bool): u32 {
  return antithetic ? member >> 1 : member;
}

// Global member index → sign s_i of its perturbation.
// @ts-ignore: decorator
@inline
function signOf(member: u32, antithetic: bool): f64 {
  return antithetic && (member & 1) != 0 ? -1.0 : 1.0;
}

// Aborts unless members member0 … member0 + k − 1 are valid u32 indices (message built only then).
// @ts-ignore: decorator
@inline
function checkMemberRange(k: i32, member0: u32, what: string): void {
  if (<u64>member0 + <u64>k > <u64>0x100000000) abort(what + ": member0 + k must be ≤ 2^32 (member is u32)");
}

// rowP = θ + σ₊·ξ and, when rowM ≠ 0, rowM = θ − σ₊·ξ (both antithetic rows from one stream).
// theta, rowP, rowM: f64 n.
function perturbRows64(n: i32, sp: f64, key: u64, theta: usize, rowP: usize, rowM: usize): void {
  const sm = -sp;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const vp = f64x2.splat(sp);
    const vm = f64x2.splat(sm);
    let s = state2(key, 0);
    for (; j + 1 < n; j += 2) {
      const o = <usize>j << 3;
      const x = normal2(s);
      s = i64x2.add(s, v128.load(VI, 48));
      const t = v128.load(theta + o);
      v128.store(rowP + o, f64x2.add(t, f64x2.mul(vp, x)));
      if (rowM != 0) v128.store(rowM + o, f64x2.add(t, f64x2.mul(vm, x)));
    }
  }
  for (; j < n; j++) {
    const o = <usize>j << 3;
    const x = normalAt(key, <u64>j);
    const t = load<f64>(theta + o);
    store<f64>(rowP + o, t + sp * x);
    if (rowM != 0) store<f64>(rowM + o, t + sm * x);
  }
}

// Row r (member i = member0 + r) = θ + σ·s_i·ξ_{q_i}, evaluated as θ_j + (s_i·σ)·ξ_j.
// theta: f64 n; out: f64 k×n.
export function perturb64(k: i32, n: i32, sigma: f64, seed: u32, iter: u32, member0: u32,
  antithetic: i32, theta: usize, out: usize): void {
  checkDim(k, "perturb64: k");
  checkDim(n, "perturb64: n");
  checkMemberRange(k, member0, "perturb64");
  if (!isFinite(sigma)) abort("perturb64: sigma must be finite");
  checkBuf(theta, <u64>n, 8, "perturb64: theta");
  checkBuf(out, <u64>k * <u64>n, 8, "perturb64: out");
  const anti = antithetic != 0;
  const rowBytes = <usize>n << 3;
  for (let r = 0; r < k; r++) {
    const i = member0 + <u32>r;
    const key = streamKey(seed, iter, streamOf(i, anti));
    const row = out + <usize>r * rowBytes;
    // An antithetic pair wholly inside this call shares one pass of the generator.
    const pair = anti && (i & 1) == 0 && r + 1 < k;
    perturbRows64(n, signOf(i, anti) * sigma, key, theta, row, pair ? row + rowBytes : 0);
    if (pair) r++;
  }
}

// As perturbRows64 with f32 rows, each element rounded once from the f64 value.
function perturbRows32(n: i32, sp: f64, key: u64, theta: usize, rowP: usize, rowM: usize): void {
  const sm = -sp;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const vp = f64x2.splat(sp);
    const vm = f64x2.splat(sm);
    let s = state2(key, 0);
    for (; j + 1 < n; j += 2) {
      const x = normal2(s);
      s = i64x2.add(s, v128.load(VI, 48));
      const t = v128.load(theta + (<usize>j << 3));
      const o = <usize>j << 2;
      v128.store64_lane(rowP + o, f32x4.demote_f64x2_zero(f64x2.add(t, f64x2.mul(vp, x))), 0);
      if (rowM != 0) v128.store64_lane(rowM + o, f32x4.demote_f64x2_zero(f64x2.add(t, f64x2.mul(vm, x))), 0);
    }
  }
  for (; j < n; j++) {
    const x = normalAt(key, <u64>j);
    const t = load<f64>(theta + (<usize>j << 3));
    const o = <usize>j << 2;
    store<f32>(rowP + o, <f32>(t + sp * x));
    if (rowM != 0) store<f32>(rowM + o, <f32>(t + sm * x));
  }
}

// As perturb64 with f32 rows of stride outStride floats (network parameters).
// theta: f64 n; out: f32 k×outStride, the first n of each row written.
export function perturb32(k: i32, n: i32, sigma: f64, seed: u32, iter: u32, member0: u32,
  antithetic: i32, outStride: i32, theta: usize, out: usize): void {
  checkDim(k, "perturb32: k");
  checkDim(n, "perturb32: n");
  checkMemberRange(k, member0, "perturb32");
  if (outStride < n) abort("perturb32: outStride must be ≥ n");
  if (!isFinite(sigma)) abort("perturb32: sigma must be finite");
  checkBuf(theta, <u64>n, 8, "perturb32: theta");
  checkBuf(out, <u64>(k - 1) * <u64>outStride + <u64>n, 4, "perturb32: out");
  const anti = antithetic != 0;
  const rowBytes = <usize>outStride << 2;
  for (let r = 0; r < k; r++) {
    const i = member0 + <u32>r;
    const key = streamKey(seed, iter, streamOf(i, anti));
    const row = out + <usize>r * rowBytes;
    const pair = anti && (i & 1) == 0 && r + 1 < k;
    perturbRows32(n, signOf(i, anti) * sigma, key, theta, row, pair ? row + rowBytes : 0);
    if (pair) r++;
  }
}

// Columns per tile of nlbUpdate: a θ tile (8 KiB) stays in L1 across all members.
const UPDATE_TILE: i32 = 1024;

// θ[j0, j0+len) += a·ξ (+ then b·ξ when twice): sequential adds, so the sum over members has the
// same order whatever the member chunking. theta points at θ_{j0}; stream positions start at j0.
function addNormals(len: i32, j0: i32, a: f64, b: f64, twice: bool, key: u64, theta: usize): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f64x2.splat(a);
    const vb = f64x2.splat(b);
    let s = state2(key, <u64>j0);
    for (; j + 1 < len; j += 2) {
      const o = <usize>j << 3;
      const x = normal2(s);
      s = i64x2.add(s, v128.load(VI, 48));
      let t = f64x2.add(v128.load(theta + o), f64x2.mul(va, x));
      if (twice) t = f64x2.add(t, f64x2.mul(vb, x));
      v128.store(theta + o, t);
    }
  }
  for (; j < len; j++) {
    const o = <usize>j << 3;
    const x = normalAt(key, <u64>(j0 + j));
    let t = load<f64>(theta + o) + a * x;
    if (twice) t += b * x;
    store<f64>(theta + o, t);
  }
}

// θ += coef·Σ_i z_i·s_i·ξ_{q_i} (method.md §2 step 5, E z without E). For each j the members are
// added one by one in ascending order, θ_j ← θ_j + ((coef·z_i)·s_i)·ξ_ij, so splitting the member
// range into consecutive calls gives the same bits. z: f64 k; theta: f64 n.
export function nlbUpdate(k: i32, n: i32, coef: f64, seed: u32, iter: u32, member0: u32,
  antithetic: i32, z: usize, theta: usize): void {
  checkDim(k, "nlbUpdate: k");
  checkDim(n, "nlbUpdate: n");
  checkMemberRange(k, member0, "nlbUpdate");
  if (!isFinite(coef)) abort("nlbUpdate: coef must be finite");
  checkBuf(z, <u64>k, 8, "nlbUpdate: z");
  checkBuf(theta, <u64>n, 8, "nlbUpdate: theta");
  const anti = antithetic != 0;
  for (let j0 = 0; j0 < n; j0 += UPDATE_TILE) {
    const len = min(UPDATE_TILE, n - j0);
    const t = theta + (<usize>j0 << 3);
    for (let r = 0; r < k; r++) {
      const i = member0 + <u32>r;
      const key = streamKey(seed, iter, streamOf(i, anti));
      const a = coef * load<f64>(z + (<usize>r << 3)) * signOf(i, anti);
      const pair = anti && (i & 1) == 0 && r + 1 < k;
      const b = pair ? coef * load<f64>(z + (<usize>(r + 1) << 3)) * -1.0 : 0.0;
      addNormals(len, j0, a, b, pair, key, t);
      if (pair) r++;
    }
  }
}
