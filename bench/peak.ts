// The practical WebAssembly SIMD peak: 12 independent f32x4 multiply-add chains kept in registers
// (12 accumulators + 2 operands = 14 live v128, under V8's 16 xmm registers). Compiled by the
// benchmark at start-up; not part of the package.

// Runs `iters` iterations of 12 × (f32x4.mul + f32x4.add) = 96 flops each; returns a lane sum so
// the work cannot be removed. acc ← acc·m + c converges to c/(1 − m): no overflow, no subnormals.
export function peak(iters: i32, m: f32, c: f32): f32 {
  const mv = f32x4.splat(m);
  const cv = f32x4.splat(c);
  let a0 = cv, a1 = f32x4.add(cv, cv), a2 = f32x4.mul(cv, mv), a3 = f32x4.sub(cv, mv);
  let a4 = f32x4.add(a1, cv), a5 = f32x4.add(a2, cv), a6 = f32x4.add(a3, cv), a7 = f32x4.add(a4, cv);
  let a8 = f32x4.add(a5, cv), a9 = f32x4.add(a6, cv), a10 = f32x4.add(a7, cv), a11 = f32x4.add(a8, cv);
  for (let i = 0; i < iters; i++) {
    a0 = f32x4.add(f32x4.mul(a0, mv), cv);
    a1 = f32x4.add(f32x4.mul(a1, mv), cv);
    a2 = f32x4.add(f32x4.mul(a2, mv), cv);
    a3 = f32x4.add(f32x4.mul(a3, mv), cv);
    a4 = f32x4.add(f32x4.mul(a4, mv), cv);
    a5 = f32x4.add(f32x4.mul(a5, mv), cv);
    a6 = f32x4.add(f32x4.mul(a6, mv), cv);
    a7 = f32x4.add(f32x4.mul(a7, mv), cv);
    a8 = f32x4.add(f32x4.mul(a8, mv), cv);
    a9 = f32x4.add(f32x4.mul(a9, mv), cv);
    a10 = f32x4.add(f32x4.mul(a10, mv), cv);
    a11 = f32x4.add(f32x4.mul(a11, mv), cv);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)),
    f32x4.add(f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)), f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}
