// conversions kernel family: f32 ↔ f64 vectors (network outputs are f32, the ensemble algebra f64).
import { checkArray, checkSize } from "./checks";

// dst(f64 n) = src(f32 n), exact.
export function widen(n: i32, src: usize, dst: usize): void {
  checkSize(n, "widen", "n");
  checkArray(src, <u64>n, 4, "widen", "src");
  checkArray(dst, <u64>n, 8, "widen", "dst");
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 1 < n; j += 2) {
      v128.store(dst + (<usize>j << 3), f64x2.promote_low_f32x4(v128.load64_zero(src + (<usize>j << 2))));
    }
  }
  for (; j < n; j++) store<f64>(dst + (<usize>j << 3), <f64>load<f32>(src + (<usize>j << 2)));
}

// dst(f32 n) = src(f64 n), rounded to nearest even.
export function narrow(n: i32, src: usize, dst: usize): void {
  checkSize(n, "narrow", "n");
  checkArray(src, <u64>n, 8, "narrow", "src");
  checkArray(dst, <u64>n, 4, "narrow", "dst");
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 1 < n; j += 2) {
      v128.store64_lane(dst + (<usize>j << 2), f32x4.demote_f64x2_zero(v128.load(src + (<usize>j << 3))), 0);
    }
  }
  for (; j < n; j++) store<f32>(dst + (<usize>j << 2), <f32>load<f64>(src + (<usize>j << 3)));
}
