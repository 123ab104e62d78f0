// rng kernel family: a counter-based N(0,1) generator and the kernels that consume it, so the
// perturbation matrix E = σΞ is regenerated instead of stored (method.md §2 step 2).
//
// ξ(seed, iter, member, index) is a pure function of four u32:
//   key   = mix64(mix64(seed·2³² + iter ⊕ K0) ⊕ (member·γ₂ + K1))     (one stream per member)
//   bits  = mix64(key + index·γ)                                      (SplitMix64 as a counter)
//   q     = u − ½ with u = (2·⌊bits/2¹²⌋ + 1)·2⁻⁵³ ∈ (0, 1), exact and symmetric about ½
//   ξ     = Φ⁻¹(u) by Acklam's rational approximation (relative error < 1.15·10⁻⁹).
// mix64 is the SplitMix64 finalizer (Steele, Lea & Flood 2014; Stafford's variant 13). Acklam's
// central region (|q| ≤ 0.47575, 95 % of draws) is a rational in r = q² evaluated by Estrin's
// scheme (shorter dependency chains than Horner), only +, ×, ÷, lane-wise in f64x2 in the same
// order as the scalar path:
//   num = ((A1·r + A2)·r⁴ + (A3·r + A4)·r²) + (A5·r + A6), times q
//   den = ((B1·r + B2)·r⁴ + (B3·r + B4)·r²) + (B5·r + 1),  ξ = num/den
// Tail draws are recorded during the vector pass and patched afterwards by one scalar function
// (Math.log is a software routine in AssemblyScript, identical in both builds). IEEE arithmetic is
// correctly rounded, so the SIMD and scalar builds produce the same bits in every host.
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
// Layout: 0 MIX1, 1 MIX2, 2 ONE_BITS, 3 2γ, 4 4γ (state steps of one and two f64x2 pairs).
const VI: usize = memory.data<u64>([
  MIX1, MIX1, MIX2, MIX2, ONE_BITS, ONE_BITS, GAMMA << 1, GAMMA << 1, GAMMA << 2, GAMMA << 2,
], 16);

// Normals are generated in tiles of TILE values into a caller's buffer or into XI (consumers read
// them back from L1); TAILS lists the positions of the tile's tail draws. Static, fixed-size
// scratch: kernels allocate nothing and memory never grows.
const TILE: i32 = 512;
const XI: usize = memory.data(TILE << 3, 16);
const TAILS: usize = memory.data(TILE << 2, 16); // positions of tail draws, u32, ≤ TILE

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

// u − ½ from 64 random bits: (2·⌊bits/2¹²⌋ + 1)·2⁻⁵³ − ½, exact (Sterbenz, then an exact add).
// @ts-ignore: decorator
@inline
function centred1(bits: u64): f64 {
  return (reinterpret<f64>((bits >> 12) | ONE_BITS) - 1.5) + HALF_ULP;
}

// Acklam's tail for |q| > Q_TAIL: p = ½ − |q| (exact), t = √(−2 ln p), x = c(t)/d(t) < 0 signed
// like q. Scalar in both builds.
function tail1(q: f64): f64 {
  const t = Math.sqrt(-2.0 * Math.log(0.5 - Math.abs(q)));
  const x = (((((C1 * t + C2) * t + C3) * t + C4) * t + C5) * t + C6) /
    ((((D1 * t + D2) * t + D3) * t + D4) * t + 1.0);
  return q < 0 ? x : -x;
}

// One N(0,1) value from 64 random bits (the scalar twin of central2 + tail patching).
// @ts-ignore: decorator
@inline
function normal1(bits: u64): f64 {
  const q = centred1(bits);
  if (Math.abs(q) > Q_TAIL) return tail1(q);
  const r = q * q;
  const r2 = r * r;
  const r4 = r2 * r2;
  const num = (((A1 * r + A2) * r4 + (A3 * r + A4) * r2) + (A5 * r + A6)) * q;
  const den = ((B1 * r + B2) * r4 + (B3 * r + B4) * r2) + (B5 * r + 1.0);
  return num / den;
}

// The value at stream position `index` of the stream `key`.
// @ts-ignore: decorator
@inline
function normalAt(key: u64, index: u64): f64 {
  return normal1(mix64(key + index * GAMMA));
}

// Lane-wise centred1(mix64(state)).
// @ts-ignore: decorator
@inline
function centred2(state: v128): v128 {
  let z = state;
  z = i64x2.mul(v128.xor(z, i64x2.shr_u(z, 30)), v128.load(VI, 0));
  z = i64x2.mul(v128.xor(z, i64x2.shr_u(z, 27)), v128.load(VI, 16));
  z = v128.xor(z, i64x2.shr_u(z, 31));
  const d = v128.or(i64x2.shr_u(z, 12), v128.load(VI, 32));
  return f64x2.add(f64x2.sub(d, v128.load(VF, 192)), v128.load(VF, 208));
}

// Lane-wise central rational of normal1 (same operations, same order); tail lanes are garbage.
// @ts-ignore: decorator
@inline
function central2(q: v128): v128 {
  const r = f64x2.mul(q, q);
  const r2 = f64x2.mul(r, r);
  const r4 = f64x2.mul(r2, r2);
  const n12 = f64x2.add(f64x2.mul(v128.load(VF, 0), r), v128.load(VF, 16));
  const n34 = f64x2.add(f64x2.mul(v128.load(VF, 32), r), v128.load(VF, 48));
  const n56 = f64x2.add(f64x2.mul(v128.load(VF, 64), r), v128.load(VF, 80));
  const num = f64x2.mul(f64x2.add(f64x2.add(f64x2.mul(n12, r4), f64x2.mul(n34, r2)), n56), q);
  const d12 = f64x2.add(f64x2.mul(v128.load(VF, 96), r), v128.load(VF, 112));
  const d34 = f64x2.add(f64x2.mul(v128.load(VF, 128), r), v128.load(VF, 144));
  const d56 = f64x2.add(f64x2.mul(v128.load(VF, 160), r), v128.load(VF, 176));
  const den = f64x2.add(f64x2.add(f64x2.mul(d12, r4), f64x2.mul(d34, r2)), d56);
  return f64x2.div(num, den);
}

// dst[j] = ξ at stream positions index0 + j, j < len ≤ TILE. The SIMD pass does four values per
// step (two independent f64x2 chains hide the latency of the rational) and appends the positions
// of tail draws to TAILS without branching (a data-dependent branch mispredicts on ≈ 18 % of the
// steps); a second loop recomputes those values with the scalar path.
function fillNormals(key: u64, index0: u64, len: i32, dst: usize): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    let s0 = state2(key, index0);
    let s1 = i64x2.add(s0, v128.load(VI, 48));
    let tails: usize = 0;
    for (; j + 3 < len; j += 4) {
      const q0 = centred2(s0);
      const q1 = centred2(s1);
      s0 = i64x2.add(s0, v128.load(VI, 64));
      s1 = i64x2.add(s1, v128.load(VI, 64));
      const o = dst + (<usize>j << 3);
      v128.store(o, central2(q0));
      v128.store(o, central2(q1), 16);
      const qt = v128.load(VF, 224);
      const bits = <u32>i64x2.bitmask(f64x2.gt(f64x2.abs(q0), qt)) |
        (<u32>i64x2.bitmask(f64x2.gt(f64x2.abs(q1), qt)) << 2);
      // Write every candidate, advance past the real ones.
      store<u32>(TAILS + (tails << 2), <u32>j);
      tails += bits & 1;
      store<u32>(TAILS + (tails << 2), <u32>j + 1);
      tails += (bits >> 1) & 1;
      store<u32>(TAILS + (tails << 2), <u32>j + 2);
      tails += (bits >> 2) & 1;
      store<u32>(TAILS + (tails << 2), <u32>j + 3);
      tails += bits >> 3;
    }
    for (let t: usize = 0; t < tails; t++) {
      const jt = load<u32>(TAILS + (t << 2));
      store<f64>(dst + (<usize>jt << 3), tail1(centred1(mix64(key + (index0 + <u64>jt) * GAMMA))));
    }
  }
  for (; j < len; j++) store<f64>(dst + (<usize>j << 3), normalAt(key, index0 + <u64>j));
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
  for (let j0 = 0; j0 < n; j0 += TILE) {
    fillNormals(key, <u64>offset + <u64>j0, min(TILE, n - j0), out + (<usize>j0 << 3));
  }
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
  for (let j0 = 0; j0 < n; j0 += TILE) {
    const len = min(TILE, n - j0);
    fillNormals(key, <u64>j0, len, XI);
    const th = theta + (<usize>j0 << 3);
    const p = rowP + (<usize>j0 << 3);
    const m = rowM + (<usize>j0 << 3);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const vp = f64x2.splat(sp);
      const vm = f64x2.splat(sm);
      for (; j + 1 < len; j += 2) {
        const o = <usize>j << 3;
        const x = v128.load(XI + o);
        const t = v128.load(th + o);
        v128.store(p + o, f64x2.add(t, f64x2.mul(vp, x)));
        if (rowM != 0) v128.store(m + o, f64x2.add(t, f64x2.mul(vm, x)));
      }
    }
    for (; j < len; j++) {
      const o = <usize>j << 3;
      const x = load<f64>(XI + o);
      const t = load<f64>(th + o);
      store<f64>(p + o, t + sp * x);
      if (rowM != 0) store<f64>(m + o, t + sm * x);
    }
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
  for (let j0 = 0; j0 < n; j0 += TILE) {
    const len = min(TILE, n - j0);
    fillNormals(key, <u64>j0, len, XI);
    const th = theta + (<usize>j0 << 3);
    const p = rowP + (<usize>j0 << 2);
    const m = rowM + (<usize>j0 << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const vp = f64x2.splat(sp);
      const vm = f64x2.splat(sm);
      for (; j + 1 < len; j += 2) {
        const x = v128.load(XI + (<usize>j << 3));
        const t = v128.load(th + (<usize>j << 3));
        const o = <usize>j << 2;
        v128.store64_lane(p + o, f32x4.demote_f64x2_zero(f64x2.add(t, f64x2.mul(vp, x))), 0);
        if (rowM != 0) v128.store64_lane(m + o, f32x4.demote_f64x2_zero(f64x2.add(t, f64x2.mul(vm, x))), 0);
      }
    }
    for (; j < len; j++) {
      const x = load<f64>(XI + (<usize>j << 3));
      const t = load<f64>(th + (<usize>j << 3));
      const o = <usize>j << 2;
      store<f32>(p + o, <f32>(t + sp * x));
      if (rowM != 0) store<f32>(m + o, <f32>(t + sm * x));
    }
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

// θ[j0, j0+len) += a·ξ (+ then b·ξ when twice), len ≤ TILE: sequential adds, so the sum over
// members has the same order whatever the member chunking. theta points at θ_{j0}; stream
// positions start at j0.
function addNormals(len: i32, j0: i32, a: f64, b: f64, twice: bool, key: u64, theta: usize): void {
  fillNormals(key, <u64>j0, len, XI);
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f64x2.splat(a);
    const vb = f64x2.splat(b);
    for (; j + 1 < len; j += 2) {
      const o = <usize>j << 3;
      const x = v128.load(XI + o);
      let t = f64x2.add(v128.load(theta + o), f64x2.mul(va, x));
      if (twice) t = f64x2.add(t, f64x2.mul(vb, x));
      v128.store(theta + o, t);
    }
  }
  for (; j < len; j++) {
    const o = <usize>j << 3;
    const x = load<f64>(XI + o);
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
  // θ tiles of TILE values stay in L1 across all members.
  for (let j0 = 0; j0 < n; j0 += TILE) {
    const len = min(TILE, n - j0);
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
