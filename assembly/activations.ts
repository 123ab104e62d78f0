// Activations of the dense family's GEMM epilogue (gemm-tile.ts), f32: identity, relu, tanh,
// sigmoid, sign (v ≥ 0 ? 1 : −1), heaviside (v > 0 ? 1 : 0) and hardTanh (clamp to [−1, 1]), each as a scalar function and a lane-wise f32x4 one doing the same operations in the
// same order, so the SIMD and scalar builds compute the same math (test/dense.test.ts bounds the
// error against f64 Math.tanh / the logistic).
import { ACT_HARD_TANH, ACT_HEAVISIDE, ACT_RELU, ACT_SIGMOID, ACT_SIGN, ACT_TANH } from "./checks";

// exp(y) = 2^n·e^r, n = nearest(y·log2 e), r = y − n·ln2 (Cody–Waite split: n·LN2_HI is exact).
const LOG2E: f32 = 1.44269504;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
// e^r on |r| ≤ ln2/2 by its degree-7 Taylor polynomial: truncation ≤ 0.347⁸/8! < 1e-8 relative.
const E2: f32 = 0.5;
const E3: f32 = 0.166666667;
const E4: f32 = 0.0416666667;
const E5: f32 = 0.00833333333;
const E6: f32 = 0.00138888889;
const E7: f32 = 0.000198412698;
// Clamp of exp's argument: keeps 2^n a normal float (n ∈ [−126, 127]) and e^y finite.
const EXP_LO: f32 = -87.0;
const EXP_HI: f32 = 88.0;
// tanh(x) = x + x³·q(x²) for |x| < TANH_SMALL (Taylor to x¹³: truncation < 5e-9 relative at 0.4),
// where 1 − 2/(e^{2|x|} + 1) would lose relative accuracy to cancellation.
const TANH_SMALL: f32 = 0.4;
const T3: f32 = -0.333333333;
const T5: f32 = 0.133333333;
const T7: f32 = -0.0539682540;
const T9: f32 = 0.0218694885;
const T11: f32 = -0.00886323552;
const T13: f32 = 0.00359212803;

// The same constants in memory, so the SIMD epilogue loads splats instead of rebuilding them.
const KF = memory.data<f32>([
  LOG2E, LN2_HI, LN2_LO, 1.0, E2, E3, E4, E5, E6, E7, EXP_LO, EXP_HI,
  TANH_SMALL, T3, T5, T7, T9, T11, T13, 2.0, -1.0,
], 16);
const KI = memory.data<i32>([127, 0x80000000, 0, 0], 16);
const O_LOG2E: usize = 0;
const O_LN2_HI: usize = 4;
const O_LN2_LO: usize = 8;
const O_ONE: usize = 12;
const O_E2: usize = 16;
const O_E3: usize = 20;
const O_E4: usize = 24;
const O_E5: usize = 28;
const O_E6: usize = 32;
const O_E7: usize = 36;
const O_EXP_LO: usize = 40;
const O_EXP_HI: usize = 44;
const O_TANH_SMALL: usize = 48;
const O_T3: usize = 52;
const O_T5: usize = 56;
const O_T7: usize = 60;
const O_T9: usize = 64;
const O_T11: usize = 68;
const O_T13: usize = 72;
const O_TWO: usize = 76;
const O_MINUS_ONE: usize = 80;
const O_BIAS127: usize = 0;
const O_SIGN: usize = 4;

// e^y for y already clamped to [EXP_LO, EXP_HI] (max error ≈ 1 ulp).
// @ts-ignore: decorator
@inline
function expClamped(y: f32): f32 {
  const n = nearest<f32>(y * LOG2E);
  const r = (y - n * LN2_HI) - n * LN2_LO;
  let p = E7;
  p = p * r + E6;
  p = p * r + E5;
  p = p * r + E4;
  p = p * r + E3;
  p = p * r + E2;
  p = p * r + 1.0;
  p = p * r + 1.0;
  return p * reinterpret<f32>((<i32>n + 127) << 23);
}

// tanh in f32: relative error ≤ 1.6e-7 (≤ 2 ulp) on [−20, 20] against f64 Math.tanh
// (test/dense.test.ts); odd, saturates to ±1, NaN in → NaN out.
function tanhf(x: f32): f32 {
  const s = abs<f32>(x);
  const x2 = x * x;
  let q = T13;
  q = q * x2 + T11;
  q = q * x2 + T9;
  q = q * x2 + T7;
  q = q * x2 + T5;
  q = q * x2 + T3;
  const small = x + (x * x2) * q;
  const e = expClamped(min<f32>(s + s, EXP_HI));
  const big = copysign<f32>(1.0 - 2.0 / (e + 1.0), x);
  return s < TANH_SMALL ? small : big;
}

// Logistic sigmoid 1/(1 + e^{−x}) in f32: relative error ≤ 1.5e-7 (≤ 2.5 ulp) for x ≥ −87; below,
// e^{−x} is clamped and the result stays < 1.7e-38 (absolute error < 1.7e-38).
function sigmoidf(x: f32): f32 {
  return 1.0 / (1.0 + expClamped(min<f32>(max<f32>(-x, EXP_LO), EXP_HI)));
}

// act(v) for an ACT_* code.
// @ts-ignore: decorator
@inline
export function actScalar(v: f32, act: i32): f32 {
  if (act == ACT_RELU) return max<f32>(v, 0.0);
  if (act == ACT_TANH) return tanhf(v);
  if (act == ACT_SIGMOID) return sigmoidf(v);
  // NaN compares false: sign gives −1 and heaviside 0 for it, in both builds
  if (act == ACT_SIGN) return v >= 0 ? <f32>1.0 : <f32>-1.0;
  if (act == ACT_HEAVISIDE) return v > 0 ? <f32>1.0 : <f32>0.0;
  if (act == ACT_HARD_TANH) return min<f32>(max<f32>(v, -1.0), 1.0);
  return v;
}

// @ts-ignore: decorator
@inline
function kf(off: usize): v128 {
  return v128.load32_splat(KF + off);
}

// e^y lane-wise, y clamped; the same operations in the same order as expClamped.
// @ts-ignore: decorator
@inline
function exp4(y: v128): v128 {
  const n = f32x4.nearest(f32x4.mul(y, kf(O_LOG2E)));
  const r = f32x4.sub(f32x4.sub(y, f32x4.mul(n, kf(O_LN2_HI))), f32x4.mul(n, kf(O_LN2_LO)));
  const one = kf(O_ONE);
  let p = kf(O_E7);
  p = f32x4.add(f32x4.mul(p, r), kf(O_E6));
  p = f32x4.add(f32x4.mul(p, r), kf(O_E5));
  p = f32x4.add(f32x4.mul(p, r), kf(O_E4));
  p = f32x4.add(f32x4.mul(p, r), kf(O_E3));
  p = f32x4.add(f32x4.mul(p, r), kf(O_E2));
  p = f32x4.add(f32x4.mul(p, r), one);
  p = f32x4.add(f32x4.mul(p, r), one);
  const pow2 = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), v128.load32_splat(KI + O_BIAS127)), 23);
  return f32x4.mul(p, pow2);
}

// tanhf lane-wise.
function tanh4(x: v128): v128 {
  const s = f32x4.abs(x);
  const x2 = f32x4.mul(x, x);
  let q = kf(O_T13);
  q = f32x4.add(f32x4.mul(q, x2), kf(O_T11));
  q = f32x4.add(f32x4.mul(q, x2), kf(O_T9));
  q = f32x4.add(f32x4.mul(q, x2), kf(O_T7));
  q = f32x4.add(f32x4.mul(q, x2), kf(O_T5));
  q = f32x4.add(f32x4.mul(q, x2), kf(O_T3));
  const small = f32x4.add(x, f32x4.mul(f32x4.mul(x, x2), q));
  const e = exp4(f32x4.min(f32x4.add(s, s), kf(O_EXP_HI)));
  const one = kf(O_ONE);
  const t = f32x4.sub(one, f32x4.div(kf(O_TWO), f32x4.add(e, one)));
  // copysign(t, x): t ≥ 0, so take the sign bit of x and the rest of t.
  const big = v128.bitselect(x, t, v128.load32_splat(KI + O_SIGN));
  return v128.bitselect(small, big, f32x4.lt(s, kf(O_TANH_SMALL)));
}

// sigmoidf lane-wise.
function sigmoid4(x: v128): v128 {
  const y = f32x4.min(f32x4.max(f32x4.neg(x), kf(O_EXP_LO)), kf(O_EXP_HI));
  const one = kf(O_ONE);
  return f32x4.div(one, f32x4.add(one, exp4(y)));
}

// actScalar lane-wise.
// @ts-ignore: decorator
@inline
export function act4(v: v128, act: i32): v128 {
  if (act == ACT_RELU) return f32x4.max(v, f32x4.splat(0.0));
  if (act == ACT_TANH) return tanh4(v);
  if (act == ACT_SIGMOID) return sigmoid4(v);
  if (act == ACT_SIGN) return v128.bitselect(kf(O_ONE), kf(O_MINUS_ONE), f32x4.ge(v, f32x4.splat(0.0)));
  if (act == ACT_HEAVISIDE) return v128.and(f32x4.gt(v, f32x4.splat(0.0)), kf(O_ONE));
  if (act == ACT_HARD_TANH) return f32x4.min(f32x4.max(v, kf(O_MINUS_ONE)), kf(O_ONE));
  return v;
}
