// rng core: the counter-based N(0,1) generator shared by the rng kernel family (rng.ts) and the
// fused perturbed forward of the dense family (dense.ts). Not exported by index.ts: one copy of
// the generator, so every consumer draws the same bits (docs/method.md §2.2).
//
// ξ(seed, draw, member, index) is a pure function of four u32:
//   key   = mix64(mix64(seed·2³² + draw ⊕ K0) ⊕ (member·γ₂ + K1))     (one stream per member)
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
// constant inside the loop (docs/method.md §7.2), a load is one instruction.
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
export const TILE: i32 = 512;
export const GROUP: i32 = 4;
export const XI: usize = memory.data(GROUP * TILE << 3, 16);
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

// @ts-ignore: decorator
@inline
function mix64(z: u64): u64 {
  z = (z ^ (z >> 30)) * MIX1;
  z = (z ^ (z >> 27)) * MIX2;
  return z ^ (z >> 31);
}

// The stream key of one member: distinct (seed, draw) pairs map to distinct inner states.
// @ts-ignore: decorator
@inline
export function streamKey(seed: u32, draw: u32, member: u32): u64 {
  const h = mix64(((<u64>seed << 32) | <u64>draw) ^ K0);
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
export function fillNormals(key: u64, index0: u64, len: i32, dst: usize): void {
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
