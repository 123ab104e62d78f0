// rng kernel family: a counter-based N(0,1) generator and the kernels that consume it, so the
// perturbation matrix E = σΞ is regenerated instead of stored (method.md §2 step 2).
//
// ξ(seed, iter, member, index) is a pure function of four u32:
//   key   = mix64(mix64(seed·2³² + iter ⊕ K0) ⊕ (member·γ₂ + K1))     (one stream per member)
//   h     = mix64(key + ⌊index/2⌋·γ)                                  (SplitMix64 as a counter)
//   b     = the low 32 bits of h for an even index, the high 32 bits for an odd one
//   q     = u − ½ with u = (2·⌊b/2⁹⌋ + 1)·2⁻²⁴ ∈ (0, 1), exact in f32 and symmetric about ½
//   ξ     = Φ⁻¹(u) by Acklam's rational approximation, evaluated in f32, returned as f64.
// mix64 is the SplitMix64 finalizer (Steele, Lea & Flood 2014; Stafford's variant 13). ξ is a
// perturbation direction, so f32 accuracy (relative error < 2·10⁻⁶, |ξ| ≤ 5.295) is plenty, and it
// doubles the SIMD width: 4 normals per f32x4 operation, 4 per 64-bit hash pair. Acklam's central
// region (|q| ≤ 0.47575, 95 % of draws) is q·a(r)/b(r), r = q², with quintics a, b whose roots
// come in close pairs just outside the region (0.2546/0.2535, 0.2769/0.2716, …): in the monomial
// basis a and b lose 3–4 digits to cancellation near |q| = 0.47575 (f32 error 2·10⁻⁴). Evaluated
// as products over their (real) roots ρ_i, σ_i, in this order, lane-wise in f32x4 and identically
// in the scalar path, the error stays below 6·10⁻⁷:
//   num = (r − ρ1)(r − ρ2)(r − ρ3)(r − ρ4)(r − ρ5), left to right; den likewise with σ
//   ξ = ((q·K)·num)/den,  K = a₁/b₁ (the ratio of the leading coefficients)
// Tail draws, t = √(−2 ln(½ − |q|)), ξ = ∓c(t)/d(t), are recorded during the vector pass and
// computed afterwards four at a time, with our own ln (exponent split + atanh series to f¹¹),
// lane-wise in f32x4 and identically in the scalar path. IEEE arithmetic is correctly rounded and
// nothing host-dependent is called, so the SIMD and scalar builds produce the same bits in every
// host.
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

// 1.0f as bits: OR-ing 23 random mantissa bits in gives a float in [1, 2).
const ONE_BITS: u32 = 0x3F800000;
const HALF_ULP: f32 = 5.9604645e-8; // 2⁻²⁴
const Q_TAIL: f32 = 0.47575; // ½ − p_low, p_low = 0.02425 (Acklam's region split)

// Acklam's central rational a(r)/b(r) in factored form: the roots of his quintics (numpy.roots of
// the published coefficients, Newton-polished in f64), rounded to f32; K = a₁/b₁.
const K: f32 = 0.7287017822933365;
const RA1: f32 = 0.2546367332088459;
const RA2: f32 = 0.2768539791445508;
const RA3: f32 = 0.34800255128107377;
const RA4: f32 = 0.63535904846023;
const RA5: f32 = 4.050984980934811;
const RB1: f32 = 0.2535187102166747;
const RB2: f32 = 0.2715739763407426;
const RB3: f32 = 0.3258703616432124;
const RB4: f32 = 0.5095656108263265;
const RB5: f32 = 1.6056499114419955;
// Acklam's tail coefficients (rounded to f32): x = c(t)/d(t), t = √(−2 ln p).
const C1: f32 = -7.784894002430293e-03;
const C2: f32 = -3.223964580411365e-01;
const C3: f32 = -2.400758277161838e+00;
const C4: f32 = -2.549732539343734e+00;
const C5: f32 = 4.374664141464968e+00;
const C6: f32 = 2.938163982698783e+00;
const D1: f32 = 7.784695709041462e-03;
const D2: f32 = 3.224671290700398e-01;
const D3: f32 = 2.445134137142996e+00;
const D4: f32 = 3.754408661907416e+00;
// ln x = e·ln 2 + 2·atanh(f), x = 2^e·m, m ∈ [√½, √2), f = (m − 1)/(m + 1), |f| ≤ 0.172:
// atanh(f) = f + f·s·(1/3 + s/5 + s²/7 + s³/9 + s⁴/11), s = f², truncation < 2·10⁻¹¹.
const SQRT2: f32 = 1.4142135623730951;
const LN2: f32 = 0.6931471805599453;
const L1: f32 = 0.3333333333333333;
const L2: f32 = 0.2;
const L3: f32 = 0.14285714285714285;
const L4: f32 = 0.1111111111111111;
const L5: f32 = 0.09090909090909091;

// Splatted constants for the SIMD path, read from memory: V8 would re-materialize each v128
// constant inside the loop (performance-notes.md), a load is one instruction.
// f32x4 layout (16 bytes each): 0 ρ1 … 4 ρ5, 5 σ1 … 9 σ5, 10 K, 11 one, 12 1.5, 13 2⁻²⁴, 14 Q_TAIL.
const VF: usize = memory.data<f32>([
  RA1, RA1, RA1, RA1, RA2, RA2, RA2, RA2, RA3, RA3, RA3, RA3, RA4, RA4, RA4, RA4, RA5, RA5, RA5, RA5,
  RB1, RB1, RB1, RB1, RB2, RB2, RB2, RB2, RB3, RB3, RB3, RB3, RB4, RB4, RB4, RB4, RB5, RB5, RB5, RB5,
  K, K, K, K, 1.0, 1.0, 1.0, 1.0, 1.5, 1.5, 1.5, 1.5, HALF_ULP, HALF_ULP, HALF_ULP, HALF_ULP,
  Q_TAIL, Q_TAIL, Q_TAIL, Q_TAIL,
], 16);
// i64x2 layout: 0 MIX1, 1 MIX2, 2 ONE_BITS in each 32-bit lane, 3 2γ, 4 4γ (state steps).
const VI: usize = memory.data<u64>([
  MIX1, MIX1, MIX2, MIX2, 0x3F8000003F800000, 0x3F8000003F800000,
  GAMMA << 1, GAMMA << 1, GAMMA << 2, GAMMA << 2,
], 16);

// Tail constants, f32x4 layout: 0 ½, 1 −2, 2 C1 … 7 C6, 8 D1 … 11 D4, 12 √2, 13 ln 2, 14 L5 … 18 L1,
// 19 mantissa mask, 20 the sign bit (as f32 bit patterns).
const VT: usize = memory.data<f32>([
  0.5, 0.5, 0.5, 0.5, -2.0, -2.0, -2.0, -2.0,
  C1, C1, C1, C1, C2, C2, C2, C2, C3, C3, C3, C3, C4, C4, C4, C4, C5, C5, C5, C5, C6, C6, C6, C6,
  D1, D1, D1, D1, D2, D2, D2, D2, D3, D3, D3, D3, D4, D4, D4, D4,
  SQRT2, SQRT2, SQRT2, SQRT2, LN2, LN2, LN2, LN2,
  L5, L5, L5, L5, L4, L4, L4, L4, L3, L3, L3, L3, L2, L2, L2, L2, L1, L1, L1, L1,
], 16);
const VM: usize = memory.data<u32>([
  0x007FFFFF, 0x007FFFFF, 0x007FFFFF, 0x007FFFFF, 0x80000000, 0x80000000, 0x80000000, 0x80000000,
  127, 127, 127, 127,
], 16);

// Normals are generated in tiles of TILE values into a caller's buffer or into XI (consumers read
// them back from L1; nlbUpdate fills GROUP tiles at once); TAILS lists the positions of the tile's
// tail draws. Static, fixed-size scratch: kernels allocate nothing and memory never grows.
const TILE: i32 = 512;
const GROUP: i32 = 4;
const XI: usize = memory.data(GROUP * TILE << 3, 16);
const TAILS: usize = memory.data((TILE + 8) << 2, 16); // positions of tail draws, u32, ≤ TILE (+ 8 padding)
const QS: usize = memory.data(TILE << 2, 16); // q of the tile's vector steps, f32 (read back for tails)
// Compaction table of the tail flags of four lanes: entry m (16 bytes) lists the set bits of m in
// ascending order, padded with 0, so one store appends a group's tail positions to TAILS.
const TAIL_LUT: usize = memory.data<u32>([
  0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0,
  2, 0, 0, 0, 0, 2, 0, 0, 1, 2, 0, 0, 0, 1, 2, 0,
  3, 0, 0, 0, 0, 3, 0, 0, 1, 3, 0, 0, 0, 1, 3, 0,
  2, 3, 0, 0, 0, 2, 3, 0, 1, 2, 3, 0, 0, 1, 2, 3,
], 16);
// Gram scratch of drawGram: S stream rows × a column tile, S·tile ≤ GRAM_CELLS f64.
const GRAM_CELLS: i32 = 16384;
const GRAM_TILE: i32 = 256; // = GRAM_ROW / 8: with S ≤ GRAM_CELLS / GRAM_TILE the rows are GRAM_ROW bytes apart
const GRAM_ROW: usize = 2048;
const XG: usize = memory.data(GRAM_CELLS << 3, 16);

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

// u − ½ of stream position `index`: (2·⌊b/2⁹⌋ + 1)·2⁻²⁴ − ½, exact (Sterbenz, then an exact add).
// @ts-ignore: decorator
@inline
function centredAt(key: u64, index: u64): f32 {
  const h = mix64(key + (index >> 1) * GAMMA);
  const b = <u32>((index & 1) != 0 ? h >> 32 : h);
  return (reinterpret<f32>((b >> 9) | ONE_BITS) - <f32>1.5) + HALF_ULP;
}

// ln x for a positive normal f32 (the scalar twin of ln4; see the constants).
// @ts-ignore: decorator
@inline
function ln1(x: f32): f32 {
  const bits = reinterpret<u32>(x);
  const m0 = reinterpret<f32>((bits & 0x007FFFFF) | ONE_BITS);
  const e0 = <f32>(<i32>(bits >> 23) - 127);
  const big = m0 > SQRT2;
  const m = select<f32>(m0 * <f32>0.5, m0, big);
  const e = select<f32>(e0 + <f32>1.0, e0, big);
  const f = (m - <f32>1.0) / (m + <f32>1.0);
  const s = f * f;
  const p = (((L5 * s + L4) * s + L3) * s + L2) * s + L1;
  const f2 = f + f;
  return e * LN2 + (f2 + f2 * (s * p));
}

// Acklam's tail for |q| > Q_TAIL: p = ½ − |q| (exact), t = √(−2 ln p), x = c(t)/d(t) < 0, then
// the sign of q. The scalar twin of tail4.
function tail1(q: f32): f32 {
  const t = Mathf.sqrt(<f32>-2.0 * ln1(<f32>0.5 - Mathf.abs(q)));
  let num = C1 * t + C2;
  num = num * t + C3;
  num = num * t + C4;
  num = num * t + C5;
  num = num * t + C6;
  let den = D1 * t + D2;
  den = den * t + D3;
  den = den * t + D4;
  den = den * t + <f32>1.0;
  return copysign<f32>(num / den, q);
}

// Lane-wise ln1.
// @ts-ignore: decorator
@inline
function ln4(x: v128): v128 {
  const m0 = v128.or(v128.and(x, v128.load(VM, 0)), v128.load(VI, 32));
  const e0 = f32x4.convert_i32x4_s(i32x4.sub(i32x4.shr_u(x, 23), v128.load(VM, 32)));
  const big = f32x4.gt(m0, v128.load(VT, 192));
  const m = v128.bitselect(f32x4.mul(m0, v128.load(VT, 0)), m0, big);
  const e = v128.bitselect(f32x4.add(e0, v128.load(VF, 176)), e0, big);
  const one = v128.load(VF, 176);
  const f = f32x4.div(f32x4.sub(m, one), f32x4.add(m, one));
  const s = f32x4.mul(f, f);
  let p = f32x4.add(f32x4.mul(v128.load(VT, 224), s), v128.load(VT, 240));
  p = f32x4.add(f32x4.mul(p, s), v128.load(VT, 256));
  p = f32x4.add(f32x4.mul(p, s), v128.load(VT, 272));
  p = f32x4.add(f32x4.mul(p, s), v128.load(VT, 288));
  const f2 = f32x4.add(f, f);
  return f32x4.add(f32x4.mul(e, v128.load(VT, 208)), f32x4.add(f2, f32x4.mul(f2, f32x4.mul(s, p))));
}

// The q of four tile positions.
// @ts-ignore: decorator
@inline
function gatherQ(j0: usize, j1: usize, j2: usize, j3: usize): v128 {
  let q = f32x4.splat(load<f32>(QS + (j0 << 2)));
  q = f32x4.replace_lane(q, 1, load<f32>(QS + (j1 << 2)));
  q = f32x4.replace_lane(q, 2, load<f32>(QS + (j2 << 2)));
  return f32x4.replace_lane(q, 3, load<f32>(QS + (j3 << 2)));
}

// Stores the four lanes of x as f64 at four tile positions of dst.
// @ts-ignore: decorator
@inline
function scatterX(dst: usize, j0: usize, j1: usize, j2: usize, j3: usize, x: v128): void {
  store<f64>(dst + (j0 << 3), <f64>f32x4.extract_lane(x, 0));
  store<f64>(dst + (j1 << 3), <f64>f32x4.extract_lane(x, 1));
  store<f64>(dst + (j2 << 3), <f64>f32x4.extract_lane(x, 2));
  store<f64>(dst + (j3 << 3), <f64>f32x4.extract_lane(x, 3));
}

// Lane-wise tail1 (every lane must be a tail draw, or a harmless filler).
// @ts-ignore: decorator
@inline
function tail4(q: v128): v128 {
  const t = f32x4.sqrt(f32x4.mul(v128.load(VT, 16), ln4(f32x4.sub(v128.load(VT, 0), f32x4.abs(q)))));
  let num = f32x4.add(f32x4.mul(v128.load(VT, 32), t), v128.load(VT, 48));
  num = f32x4.add(f32x4.mul(num, t), v128.load(VT, 64));
  num = f32x4.add(f32x4.mul(num, t), v128.load(VT, 80));
  num = f32x4.add(f32x4.mul(num, t), v128.load(VT, 96));
  num = f32x4.add(f32x4.mul(num, t), v128.load(VT, 112));
  let den = f32x4.add(f32x4.mul(v128.load(VT, 128), t), v128.load(VT, 144));
  den = f32x4.add(f32x4.mul(den, t), v128.load(VT, 160));
  den = f32x4.add(f32x4.mul(den, t), v128.load(VT, 176));
  den = f32x4.add(f32x4.mul(den, t), v128.load(VF, 176));
  const x = f32x4.div(num, den);
  // copysign(x, q)
  const sign = v128.load(VM, 16);
  return v128.or(v128.andnot(x, sign), v128.and(q, sign));
}

// ξ from q (the scalar twin of the vector step in fillNormals + tail patching).
// @ts-ignore: decorator
@inline
function normal1(q: f32): f32 {
  if (Mathf.abs(q) > Q_TAIL) return tail1(q);
  const r = q * q;
  const num = (r - RA1) * (r - RA2) * (r - RA3) * (r - RA4) * (r - RA5);
  const den = (r - RB1) * (r - RB2) * (r - RB3) * (r - RB4) * (r - RB5);
  return ((q * K) * num) / den;
}

// Stores four f32 lanes as f64 at p.
// @ts-ignore: decorator
@inline
function store4(p: usize, x: v128): void {
  v128.store(p, f64x2.promote_low_f32x4(x));
  v128.store(p, f64x2.promote_low_f32x4(v128.shuffle<u32>(x, x, 2, 3, 2, 3)), 16);
}

// dst[j] = ξ at stream positions index0 + j, j < len ≤ TILE. The SIMD pass does sixteen values
// per step: four independent f32x4 chains hide the latency of the rational and share every
// constant load (V8 reloads a constant for each use across stores: one load per four chains is
// 17 % faster than per two). It appends the positions of tail draws to TAILS without branching
// (a data-dependent branch would mispredict on a third of the steps); a second pass recomputes
// those values (tail4, eight at a time), and the last len mod 16 values take the scalar path.
function fillNormals(key: u64, index0: u64, len: i32, dst: usize): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    // Vector steps start at an even stream position (a whole hash).
    if ((index0 & 1) != 0 && len > 0) {
      store<f64>(dst, <f64>normal1(centredAt(key, index0)));
      j = 1;
    }
    const pair = (index0 + <u64>j) >> 1;
    let s0 = i64x2.replace_lane(i64x2.splat(key + pair * GAMMA), 1, key + (pair + 1) * GAMMA);
    let tails: usize = 0;
    for (; j + 15 < len; j += 16) {
      // q of 16 positions: mix64 of four pairs of states 2γ apart (low, high half of each hash
      // as lanes), then (⌊b/2⁹⌋ | 1.0f) − 1.5 + 2⁻²⁴ as in centredAt.
      let c = v128.load(VI, 48);
      let z0 = s0;
      let z1 = i64x2.add(s0, c);
      c = v128.load(VI, 64);
      let z2 = i64x2.add(s0, c);
      let z3 = i64x2.add(z1, c);
      s0 = i64x2.add(z2, c);
      c = v128.load(VI, 0);
      z0 = i64x2.mul(v128.xor(z0, i64x2.shr_u(z0, 30)), c);
      z1 = i64x2.mul(v128.xor(z1, i64x2.shr_u(z1, 30)), c);
      z2 = i64x2.mul(v128.xor(z2, i64x2.shr_u(z2, 30)), c);
      z3 = i64x2.mul(v128.xor(z3, i64x2.shr_u(z3, 30)), c);
      c = v128.load(VI, 16);
      z0 = i64x2.mul(v128.xor(z0, i64x2.shr_u(z0, 27)), c);
      z1 = i64x2.mul(v128.xor(z1, i64x2.shr_u(z1, 27)), c);
      z2 = i64x2.mul(v128.xor(z2, i64x2.shr_u(z2, 27)), c);
      z3 = i64x2.mul(v128.xor(z3, i64x2.shr_u(z3, 27)), c);
      z0 = v128.xor(z0, i64x2.shr_u(z0, 31));
      z1 = v128.xor(z1, i64x2.shr_u(z1, 31));
      z2 = v128.xor(z2, i64x2.shr_u(z2, 31));
      z3 = v128.xor(z3, i64x2.shr_u(z3, 31));
      c = v128.load(VI, 32);
      z0 = v128.or(i32x4.shr_u(z0, 9), c);
      z1 = v128.or(i32x4.shr_u(z1, 9), c);
      z2 = v128.or(i32x4.shr_u(z2, 9), c);
      z3 = v128.or(i32x4.shr_u(z3, 9), c);
      c = v128.load(VF, 192);
      z0 = f32x4.sub(z0, c);
      z1 = f32x4.sub(z1, c);
      z2 = f32x4.sub(z2, c);
      z3 = f32x4.sub(z3, c);
      c = v128.load(VF, 208);
      // q is kept for the tail pass and read back below (a load instead of four live registers).
      const qs = QS + (<usize>j << 2);
      const q0 = f32x4.add(z0, c);
      const q1 = f32x4.add(z1, c);
      const q2 = f32x4.add(z2, c);
      const q3 = f32x4.add(z3, c);
      v128.store(qs, q0);
      v128.store(qs, q1, 16);
      v128.store(qs, q2, 32);
      v128.store(qs, q3, 48);
      // The 0/1 tail flags (|q| > Q_TAIL) of each chain's lanes as bits 0..3.
      c = v128.load(VF, 224);
      const b0 = <u32>i32x4.bitmask(f32x4.gt(f32x4.abs(q0), c));
      const b1 = <u32>i32x4.bitmask(f32x4.gt(f32x4.abs(q1), c));
      const b2 = <u32>i32x4.bitmask(f32x4.gt(f32x4.abs(q2), c));
      const b3 = <u32>i32x4.bitmask(f32x4.gt(f32x4.abs(q3), c));
      // The central rational of normal1, same operations in the same order (tail lanes garbage).
      const r0 = f32x4.mul(q0, q0);
      const r1 = f32x4.mul(q1, q1);
      const r2 = f32x4.mul(q2, q2);
      const r3 = f32x4.mul(q3, q3);
      c = v128.load(VF, 0);
      let n0 = f32x4.sub(r0, c);
      let n1 = f32x4.sub(r1, c);
      let n2 = f32x4.sub(r2, c);
      let n3 = f32x4.sub(r3, c);
      c = v128.load(VF, 16);
      n0 = f32x4.mul(n0, f32x4.sub(r0, c));
      n1 = f32x4.mul(n1, f32x4.sub(r1, c));
      n2 = f32x4.mul(n2, f32x4.sub(r2, c));
      n3 = f32x4.mul(n3, f32x4.sub(r3, c));
      c = v128.load(VF, 32);
      n0 = f32x4.mul(n0, f32x4.sub(r0, c));
      n1 = f32x4.mul(n1, f32x4.sub(r1, c));
      n2 = f32x4.mul(n2, f32x4.sub(r2, c));
      n3 = f32x4.mul(n3, f32x4.sub(r3, c));
      c = v128.load(VF, 48);
      n0 = f32x4.mul(n0, f32x4.sub(r0, c));
      n1 = f32x4.mul(n1, f32x4.sub(r1, c));
      n2 = f32x4.mul(n2, f32x4.sub(r2, c));
      n3 = f32x4.mul(n3, f32x4.sub(r3, c));
      c = v128.load(VF, 64);
      n0 = f32x4.mul(n0, f32x4.sub(r0, c));
      n1 = f32x4.mul(n1, f32x4.sub(r1, c));
      n2 = f32x4.mul(n2, f32x4.sub(r2, c));
      n3 = f32x4.mul(n3, f32x4.sub(r3, c));
      c = v128.load(VF, 80);
      let d0 = f32x4.sub(r0, c);
      let d1 = f32x4.sub(r1, c);
      let d2 = f32x4.sub(r2, c);
      let d3 = f32x4.sub(r3, c);
      c = v128.load(VF, 96);
      d0 = f32x4.mul(d0, f32x4.sub(r0, c));
      d1 = f32x4.mul(d1, f32x4.sub(r1, c));
      d2 = f32x4.mul(d2, f32x4.sub(r2, c));
      d3 = f32x4.mul(d3, f32x4.sub(r3, c));
      c = v128.load(VF, 112);
      d0 = f32x4.mul(d0, f32x4.sub(r0, c));
      d1 = f32x4.mul(d1, f32x4.sub(r1, c));
      d2 = f32x4.mul(d2, f32x4.sub(r2, c));
      d3 = f32x4.mul(d3, f32x4.sub(r3, c));
      c = v128.load(VF, 128);
      d0 = f32x4.mul(d0, f32x4.sub(r0, c));
      d1 = f32x4.mul(d1, f32x4.sub(r1, c));
      d2 = f32x4.mul(d2, f32x4.sub(r2, c));
      d3 = f32x4.mul(d3, f32x4.sub(r3, c));
      c = v128.load(VF, 144);
      d0 = f32x4.mul(d0, f32x4.sub(r0, c));
      d1 = f32x4.mul(d1, f32x4.sub(r1, c));
      d2 = f32x4.mul(d2, f32x4.sub(r2, c));
      d3 = f32x4.mul(d3, f32x4.sub(r3, c));
      c = v128.load(VF, 160);
      const o = dst + (<usize>j << 3);
      store4(o, f32x4.div(f32x4.mul(f32x4.mul(v128.load(qs), c), n0), d0));
      store4(o + 32, f32x4.div(f32x4.mul(f32x4.mul(v128.load(qs, 16), c), n1), d1));
      store4(o + 64, f32x4.div(f32x4.mul(f32x4.mul(v128.load(qs, 32), c), n2), d2));
      store4(o + 96, f32x4.div(f32x4.mul(f32x4.mul(v128.load(qs, 48), c), n3), d3));
      // Append the tail positions of each chain with one store (entries past the count are
      // overwritten by the next chain or ignored).
      v128.store(TAILS + (tails << 2), i32x4.add(v128.load(TAIL_LUT + (<usize>b0 << 4)), i32x4.splat(j)));
      tails += <usize>popcnt(b0);
      v128.store(TAILS + (tails << 2), i32x4.add(v128.load(TAIL_LUT + (<usize>b1 << 4)), i32x4.splat(j + 4)));
      tails += <usize>popcnt(b1);
      v128.store(TAILS + (tails << 2), i32x4.add(v128.load(TAIL_LUT + (<usize>b2 << 4)), i32x4.splat(j + 8)));
      tails += <usize>popcnt(b2);
      v128.store(TAILS + (tails << 2), i32x4.add(v128.load(TAIL_LUT + (<usize>b3 << 4)), i32x4.splat(j + 12)));
      tails += <usize>popcnt(b3);
    }
    // Tails eight at a time, as two independent f32x4 chains (the tail rational is a long
    // dependent chain: one at a time would be latency-bound). The list is padded with eight
    // copies of its last entry, so lanes past the count recompute that value and store it again.
    if (tails > 0) {
      const pad = i32x4.splat(load<u32>(TAILS + ((tails - 1) << 2)));
      v128.store(TAILS + (tails << 2), pad);
      v128.store(TAILS + (tails << 2), pad, 16);
    }
    for (let t: usize = 0; t < tails; t += 8) {
      const e = TAILS + (t << 2);
      const j0 = <usize>load<u32>(e), j1 = <usize>load<u32>(e, 4), j2 = <usize>load<u32>(e, 8), j3 = <usize>load<u32>(e, 12);
      const j4 = <usize>load<u32>(e, 16), j5 = <usize>load<u32>(e, 20), j6 = <usize>load<u32>(e, 24), j7 = <usize>load<u32>(e, 28);
      const xa = tail4(gatherQ(j0, j1, j2, j3));
      const xb = tail4(gatherQ(j4, j5, j6, j7));
      scatterX(dst, j0, j1, j2, j3, xa);
      scatterX(dst, j4, j5, j6, j7, xb);
    }
  }
  for (; j < len; j++) store<f64>(dst + (<usize>j << 3), <f64>normal1(centredAt(key, index0 + <u64>j)));
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
      // One loop per row case keeps the branch out.
      const vp = f64x2.splat(sp);
      if (rowM == 0) {
        for (; j + 1 < len; j += 2) {
          const o = <usize>j << 3;
          v128.store(p + o, f64x2.add(v128.load(th + o), f64x2.mul(vp, v128.load(XI + o))));
        }
      } else {
        const vm = f64x2.splat(sm);
        for (; j + 1 < len; j += 2) {
          const o = <usize>j << 3;
          const x = v128.load(XI + o);
          const t = v128.load(th + o);
          v128.store(p + o, f64x2.add(t, f64x2.mul(vp, x)));
          v128.store(m + o, f64x2.add(t, f64x2.mul(vm, x)));
        }
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
// theta: f64 n; out: f64 k×n (must not overlap theta).
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
      // Four values per step, stored as one f32x4; one loop per case keeps the branch out.
      const vp = f64x2.splat(sp);
      if (rowM == 0) {
        for (; j + 3 < len; j += 4) {
          const x = XI + (<usize>j << 3);
          const t = th + (<usize>j << 3);
          const lo = f32x4.demote_f64x2_zero(f64x2.add(v128.load(t), f64x2.mul(vp, v128.load(x))));
          const hi = f32x4.demote_f64x2_zero(f64x2.add(v128.load(t, 16), f64x2.mul(vp, v128.load(x, 16))));
          v128.store(p + (<usize>j << 2), v128.shuffle<u32>(lo, hi, 0, 1, 4, 5));
        }
      } else {
        const vm = f64x2.splat(sm);
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
      const o = <usize>j << 2;
      store<f32>(p + o, <f32>(t + sp * x));
      if (rowM != 0) store<f32>(m + o, <f32>(t + sm * x));
    }
  }
}

// As perturb64 with f32 rows of stride outStride floats (network parameters).
// theta: f64 n; out: f32 k×outStride, the first n of each row written (must not overlap theta).
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

// θ[0, len) += c·x[0, len): one member's (or pair's) term. theta, x: f64 len.
function addScaled(len: i32, c: f64, x: usize, theta: usize): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const vc = f64x2.splat(c);
    for (; j + 1 < len; j += 2) {
      const o = <usize>j << 3;
      v128.store(theta + o, f64x2.add(v128.load(theta + o), f64x2.mul(vc, v128.load(x + o))));
    }
  }
  for (; j < len; j++) {
    const o = <usize>j << 3;
    store<f64>(theta + o, load<f64>(theta + o) + c * load<f64>(x + o));
  }
}

// θ[0, len) += c0·x0, then += c1·x1, c2·x2, c3·x3 (four sequential adds per element, as four
// addScaled calls would do, with θ read and written once). x_u = XI + u·TILE; theta: f64 len.
function addScaled4(len: i32, c0: f64, c1: f64, c2: f64, c3: f64, theta: usize): void {
  const x1 = XI + (<usize>TILE << 3);
  const x2 = XI + (<usize>TILE << 4);
  const x3 = x2 + (<usize>TILE << 3);
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const v0 = f64x2.splat(c0);
    const v1 = f64x2.splat(c1);
    const v2 = f64x2.splat(c2);
    const v3 = f64x2.splat(c3);
    for (; j + 1 < len; j += 2) {
      const o = <usize>j << 3;
      let t = f64x2.add(v128.load(theta + o), f64x2.mul(v0, v128.load(XI + o)));
      t = f64x2.add(t, f64x2.mul(v1, v128.load(x1 + o)));
      t = f64x2.add(t, f64x2.mul(v2, v128.load(x2 + o)));
      v128.store(theta + o, f64x2.add(t, f64x2.mul(v3, v128.load(x3 + o))));
    }
  }
  for (; j < len; j++) {
    const o = <usize>j << 3;
    let t = load<f64>(theta + o) + c0 * load<f64>(XI + o);
    t += c1 * load<f64>(x1 + o);
    t += c2 * load<f64>(x2 + o);
    store<f64>(theta + o, t + c3 * load<f64>(x3 + o));
  }
}

// Coefficient of stream u of a call: coef·z_u, or with antithetic pairs coef·(z_{2u} − z_{2u+1})
// (the pair's members share ξ with signs +, −).
// @ts-ignore: decorator
@inline
function streamCoef(coef: f64, z: usize, u: i32, anti: bool): f64 {
  if (!anti) return coef * load<f64>(z + (<usize>u << 3));
  return coef * (load<f64>(z + (<usize>u << 4)) - load<f64>(z + (<usize>u << 4), 8));
}

// Aborts unless an antithetic call takes whole pairs: member0 and k even.
// @ts-ignore: decorator
@inline
function checkWholePairs(k: i32, member0: u32, anti: bool, what: string): void {
  if (anti && ((member0 & 1) != 0 || (k & 1) != 0)) {
    abort(what + ": with antithetic pairs member0 and k must be even (a call takes whole pairs ±ξ); got member0 = " +
      member0.toString() + ", k = " + k.toString() + ": split the member range at even members");
  }
}

// θ += coef·Σ_i z_i·s_i·ξ_{q_i} (method.md §2 step 5, E z without E). Summation order, which fixes
// the bits: one term per stream u (a member, or an antithetic pair (2u, 2u+1) sharing ξ_u, whose
// coefficient is coef·(z_{2u} − z_{2u+1})), and for each j the terms are added one by one in
// ascending stream order, θ_j ← θ_j + c_u·ξ_uj. Splitting the member range into consecutive calls
// (at even members with pairs, which the kernel enforces) therefore gives the same bits, in both
// builds. z: f64 k; theta: f64 n (must not overlap z).
export function nlbUpdate(k: i32, n: i32, coef: f64, seed: u32, iter: u32, member0: u32,
  antithetic: i32, z: usize, theta: usize): void {
  checkDim(k, "nlbUpdate: k");
  checkDim(n, "nlbUpdate: n");
  checkMemberRange(k, member0, "nlbUpdate");
  if (!isFinite(coef)) abort("nlbUpdate: coef must be finite");
  const anti = antithetic != 0;
  checkWholePairs(k, member0, anti, "nlbUpdate");
  checkBuf(z, <u64>k, 8, "nlbUpdate: z");
  checkBuf(theta, <u64>n, 8, "nlbUpdate: theta");
  const streams = anti ? k >> 1 : k;
  const first = anti ? member0 >> 1 : member0;
  const full = streams - streams % GROUP;
  // θ tiles of TILE values stay in L1 across all streams; GROUP streams are generated per pass.
  for (let j0 = 0; j0 < n; j0 += TILE) {
    const len = min(TILE, n - j0);
    const t = theta + (<usize>j0 << 3);
    let u = 0;
    for (; u < full; u += GROUP) {
      for (let g = 0; g < GROUP; g++) {
        fillNormals(streamKey(seed, iter, first + <u32>(u + g)), <u64>j0, len, XI + (<usize>(g * TILE) << 3));
      }
      addScaled4(len, streamCoef(coef, z, u, anti), streamCoef(coef, z, u + 1, anti), streamCoef(coef, z, u + 2, anti),
        streamCoef(coef, z, u + 3, anti), t);
    }
    for (; u < streams; u++) {
      fillNormals(streamKey(seed, iter, first + <u32>u), <u64>j0, len, XI);
      addScaled(len, streamCoef(coef, z, u, anti), XI, t);
    }
  }
}

// out[a][b] += Σ_{j<len} x_a(j)·y_b(j) for a 4×2 block of rows x0..x3 and y0, y1 (pointers at the
// tile start); rows a < na and columns b < nb are written (out: row stride ldo bytes). Each sum
// is (Σ over even j) + (Σ over odd j), both in ascending j: the two f64x2 lanes, which the scalar
// path reproduces, so both builds give the same bits.
// @ts-ignore: decorator
@inline
function gramBlock(len: i32, a0: usize, a1: usize, a2: usize, a3: usize, b0: usize, b1: usize,
  out: usize, ldo: usize, na: i32, nb: i32): void {
  let e00: f64 = 0, e01: f64 = 0, e10: f64 = 0, e11: f64 = 0, e20: f64 = 0, e21: f64 = 0, e30: f64 = 0, e31: f64 = 0;
  let o00: f64 = 0, o01: f64 = 0, o10: f64 = 0, o11: f64 = 0, o20: f64 = 0, o21: f64 = 0, o30: f64 = 0, o31: f64 = 0;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    let v00 = f64x2.splat(0), v01 = f64x2.splat(0), v10 = f64x2.splat(0), v11 = f64x2.splat(0);
    let v20 = f64x2.splat(0), v21 = f64x2.splat(0), v30 = f64x2.splat(0), v31 = f64x2.splat(0);
    for (; j + 1 < len; j += 2) {
      const o = <usize>j << 3;
      const y0 = v128.load(b0 + o), y1 = v128.load(b1 + o);
      const x0 = v128.load(a0 + o);
      v00 = f64x2.add(v00, f64x2.mul(x0, y0)); v01 = f64x2.add(v01, f64x2.mul(x0, y1));
      const x1 = v128.load(a1 + o);
      v10 = f64x2.add(v10, f64x2.mul(x1, y0)); v11 = f64x2.add(v11, f64x2.mul(x1, y1));
      const x2 = v128.load(a2 + o);
      v20 = f64x2.add(v20, f64x2.mul(x2, y0)); v21 = f64x2.add(v21, f64x2.mul(x2, y1));
      const x3 = v128.load(a3 + o);
      v30 = f64x2.add(v30, f64x2.mul(x3, y0)); v31 = f64x2.add(v31, f64x2.mul(x3, y1));
    }
    e00 = f64x2.extract_lane(v00, 0); o00 = f64x2.extract_lane(v00, 1);
    e01 = f64x2.extract_lane(v01, 0); o01 = f64x2.extract_lane(v01, 1);
    e10 = f64x2.extract_lane(v10, 0); o10 = f64x2.extract_lane(v10, 1);
    e11 = f64x2.extract_lane(v11, 0); o11 = f64x2.extract_lane(v11, 1);
    e20 = f64x2.extract_lane(v20, 0); o20 = f64x2.extract_lane(v20, 1);
    e21 = f64x2.extract_lane(v21, 0); o21 = f64x2.extract_lane(v21, 1);
    e30 = f64x2.extract_lane(v30, 0); o30 = f64x2.extract_lane(v30, 1);
    e31 = f64x2.extract_lane(v31, 0); o31 = f64x2.extract_lane(v31, 1);
  } else {
    for (; j + 1 < len; j += 2) {
      const o = <usize>j << 3;
      const y0 = load<f64>(b0 + o), y1 = load<f64>(b1 + o), z0 = load<f64>(b0 + o, 8), z1 = load<f64>(b1 + o, 8);
      const x0 = load<f64>(a0 + o), w0 = load<f64>(a0 + o, 8);
      e00 += x0 * y0; e01 += x0 * y1; o00 += w0 * z0; o01 += w0 * z1;
      const x1 = load<f64>(a1 + o), w1 = load<f64>(a1 + o, 8);
      e10 += x1 * y0; e11 += x1 * y1; o10 += w1 * z0; o11 += w1 * z1;
      const x2 = load<f64>(a2 + o), w2 = load<f64>(a2 + o, 8);
      e20 += x2 * y0; e21 += x2 * y1; o20 += w2 * z0; o21 += w2 * z1;
      const x3 = load<f64>(a3 + o), w3 = load<f64>(a3 + o, 8);
      e30 += x3 * y0; e31 += x3 * y1; o30 += w3 * z0; o31 += w3 * z1;
    }
  }
  if (j < len) {
    // The last, even position of an odd-length tile.
    const o = <usize>j << 3;
    const y0 = load<f64>(b0 + o), y1 = load<f64>(b1 + o);
    const x0 = load<f64>(a0 + o), x1 = load<f64>(a1 + o), x2 = load<f64>(a2 + o), x3 = load<f64>(a3 + o);
    e00 += x0 * y0; e01 += x0 * y1; e10 += x1 * y0; e11 += x1 * y1;
    e20 += x2 * y0; e21 += x2 * y1; e30 += x3 * y0; e31 += x3 * y1;
  }
  addAt(out, e00 + o00); if (nb > 1) addAt(out + 8, e01 + o01);
  if (na > 1) { addAt(out + ldo, e10 + o10); if (nb > 1) addAt(out + ldo + 8, e11 + o11); }
  if (na > 2) { addAt(out + 2 * ldo, e20 + o20); if (nb > 1) addAt(out + 2 * ldo + 8, e21 + o21); }
  if (na > 3) { addAt(out + 3 * ldo, e30 + o30); if (nb > 1) addAt(out + 3 * ldo + 8, e31 + o31); }
}

// gramBlock for a full 4×2 block of XG rows GRAM_ROW bytes apart (x_u = a + u·GRAM_ROW,
// y_v = b + v·GRAM_ROW): the row offsets are load immediates, so the loop does two address
// adds instead of six. Same sums in the same order as gramBlock (which the scalar build runs).
// @ts-ignore: decorator
@inline
function gramBlockRows(len: i32, a: usize, b: usize, out: usize, ldo: usize): void {
  if (!ASC_FEATURE_SIMD) {
    gramBlock(len, a, a + GRAM_ROW, a + 2 * GRAM_ROW, a + 3 * GRAM_ROW, b, b + GRAM_ROW, out, ldo, 4, 2);
    return;
  }
  let v00 = f64x2.splat(0), v01 = f64x2.splat(0), v10 = f64x2.splat(0), v11 = f64x2.splat(0);
  let v20 = f64x2.splat(0), v21 = f64x2.splat(0), v30 = f64x2.splat(0), v31 = f64x2.splat(0);
  let x = a;
  let y = b;
  const end = a + (<usize>(len & ~1) << 3);
  for (; x < end; x += 16, y += 16) {
    const y0 = v128.load(y), y1 = v128.load(y, 2048);
    const x0 = v128.load(x);
    v00 = f64x2.add(v00, f64x2.mul(x0, y0)); v01 = f64x2.add(v01, f64x2.mul(x0, y1));
    const x1 = v128.load(x, 2048);
    v10 = f64x2.add(v10, f64x2.mul(x1, y0)); v11 = f64x2.add(v11, f64x2.mul(x1, y1));
    const x2 = v128.load(x, 4096);
    v20 = f64x2.add(v20, f64x2.mul(x2, y0)); v21 = f64x2.add(v21, f64x2.mul(x2, y1));
    const x3 = v128.load(x, 6144);
    v30 = f64x2.add(v30, f64x2.mul(x3, y0)); v31 = f64x2.add(v31, f64x2.mul(x3, y1));
  }
  let e00 = f64x2.extract_lane(v00, 0), e01 = f64x2.extract_lane(v01, 0);
  let e10 = f64x2.extract_lane(v10, 0), e11 = f64x2.extract_lane(v11, 0);
  let e20 = f64x2.extract_lane(v20, 0), e21 = f64x2.extract_lane(v21, 0);
  let e30 = f64x2.extract_lane(v30, 0), e31 = f64x2.extract_lane(v31, 0);
  if ((len & 1) != 0) {
    // The last, even position of an odd-length tile.
    const y0 = load<f64>(y), y1 = load<f64>(y, 2048);
    const x0 = load<f64>(x), x1 = load<f64>(x, 2048), x2 = load<f64>(x, 4096), x3 = load<f64>(x, 6144);
    e00 += x0 * y0; e01 += x0 * y1; e10 += x1 * y0; e11 += x1 * y1;
    e20 += x2 * y0; e21 += x2 * y1; e30 += x3 * y0; e31 += x3 * y1;
  }
  addAt(out, e00 + f64x2.extract_lane(v00, 1)); addAt(out + 8, e01 + f64x2.extract_lane(v01, 1));
  addAt(out + ldo, e10 + f64x2.extract_lane(v10, 1)); addAt(out + ldo + 8, e11 + f64x2.extract_lane(v11, 1));
  addAt(out + 2 * ldo, e20 + f64x2.extract_lane(v20, 1)); addAt(out + 2 * ldo + 8, e21 + f64x2.extract_lane(v21, 1));
  addAt(out + 3 * ldo, e30 + f64x2.extract_lane(v30, 1)); addAt(out + 3 * ldo + 8, e31 + f64x2.extract_lane(v31, 1));
}

// @ts-ignore: decorator
@inline
function addAt(p: usize, v: f64): void {
  store<f64>(p, load<f64>(p) + v);
}

// The Tikhonov terms of the NLB system in one pass of the generator (method.md §1–2, docs/defaults.md
// "Tikhonov λ, exactly"): with e_i = s_i·ξ_{q_i} the signed perturbation direction of member
// i = member0 + r (E = σ[e_0 … e_{k−1}]),
//   G(k×k) = [e_a·e_b] = ΞᵀΞ with signs,   p(k) = [e_a·θ] = Ξᵀθ with signs,
// accumulated in f64 (products of f32-valued ξ are exact). Only the S distinct streams are drawn
// (S = k, or k/2 with antithetic pairs, which must then be whole: member0, k even) and only the
// upper triangle of their Gram Q(S×S) is computed, in column tiles of T = min(256, 16384/S) and
// 4×2 register blocks; G_ab = s_a·s_b·Q_{q_a q_b} and p_a = s_a·(ξ_{q_a}·θ) are expanded at the
// end, so G is exactly symmetric. Sums run tile by tile in ascending columns, each tile as (even
// columns) + (odd columns): the same bits in both builds. theta: f64 n; G: f64 k×k; p: f64 k
// (G, p and theta must not overlap). S ≤ 8192.
export function drawGram(k: i32, n: i32, seed: u32, iter: u32, member0: u32, antithetic: i32,
  theta: usize, G: usize, p: usize): void {
  checkDim(k, "drawGram: k");
  checkDim(n, "drawGram: n");
  checkMemberRange(k, member0, "drawGram");
  const anti = antithetic != 0;
  checkWholePairs(k, member0, anti, "drawGram");
  const S = anti ? k >> 1 : k;
  if (S > GRAM_CELLS >> 1) abort("drawGram: k must be ≤ 8192 (16384 with antithetic pairs); split the ensemble");
  checkBuf(theta, <u64>n, 8, "drawGram: theta");
  checkBuf(G, <u64>k * <u64>k, 8, "drawGram: G");
  checkBuf(p, <u64>k, 8, "drawGram: p");
  memory.fill(G, 0, <usize>k * <usize>k << 3);
  memory.fill(p, 0, <usize>k << 3);
  const first = anti ? member0 >> 1 : member0;
  // Tile width: even, so every tile starts at an even column (whole hashes, fixed lane parity).
  const T = min(GRAM_TILE, (GRAM_CELLS / S) & ~1);
  // With T = GRAM_TILE, rows are GRAM_ROW bytes apart and full blocks take gramBlockRows.
  const rows = T == GRAM_TILE;
  const ldx = <usize>T << 3;
  const ldo = <usize>k << 3;
  const last = S - 1;
  for (let j0 = 0; j0 < n; j0 += T) {
    const len = min(T, n - j0);
    // XG(S × T): the tile of every stream.
    for (let u = 0; u < S; u++) fillNormals(streamKey(seed, iter, first + <u32>u), <u64>j0, len, XG + <usize>u * ldx);
    const th = theta + (<usize>j0 << 3);
    for (let a = 0; a < S; a += 4) {
      // Rows past the end alias the last row: computed, never written (na < 4).
      const p0 = XG + <usize>a * ldx;
      const p1 = XG + <usize>min(a + 1, last) * ldx;
      const p2 = XG + <usize>min(a + 2, last) * ldx;
      const p3 = XG + <usize>min(a + 3, last) * ldx;
      const na = min(4, S - a);
      // Q_ab, b ≥ a (Q in the leading S×S block of G, row stride k)
      for (let b = a; b < S; b += 2) {
        const q0 = XG + <usize>b * ldx;
        const q1 = XG + <usize>min(b + 1, last) * ldx;
        const out = G + <usize>a * ldo + (<usize>b << 3);
        if (rows && na == 4 && b + 1 < S) gramBlockRows(len, p0, q0, out, ldo);
        else gramBlock(len, p0, p1, p2, p3, q0, q1, out, ldo, na, min(2, S - b));
      }
      // ξ_a·θ into p_a
      gramBlock(len, p0, p1, p2, p3, th, th, p + (<usize>a << 3), 8, na, 1);
    }
  }
  // Q's lower triangle from its upper one.
  for (let a = 1; a < S; a++) {
    for (let b = 0; b < a; b++) store<f64>(G + <usize>a * ldo + (<usize>b << 3), load<f64>(G + <usize>b * ldo + (<usize>a << 3)));
  }
  if (!anti) return;
  // G_ab = s_a s_b Q_{⌊a/2⌋⌊b/2⌋}, p_a = s_a t_{⌊a/2⌋}, in place: in descending order every
  // source (at a smaller or equal index) is read before it is overwritten.
  for (let a = k - 1; a >= 0; a--) {
    for (let b = k - 1; b >= 0; b--) {
      const q = load<f64>(G + <usize>(a >> 1) * ldo + (<usize>(b >> 1) << 3));
      store<f64>(G + <usize>a * ldo + (<usize>b << 3), ((a ^ b) & 1) != 0 ? -q : q);
    }
    const t = load<f64>(p + (<usize>(a >> 1) << 3));
    store<f64>(p + (<usize>a << 3), (a & 1) != 0 ? -t : t);
  }
}
