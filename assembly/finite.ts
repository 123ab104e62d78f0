// finiteness kernel family: which ensemble rows hold only finite values, decided exactly (a test
// on each value's exponent bits, not 0·Σ, which overflows to NaN for huge finite rows).
import { checkArray, checkSize } from "./checks";

// flags_i = 1 when every F_ij is finite (not ±Inf, not NaN), else 0; returns the count of finite
// rows. F: f64 k×m; flags: i32 k.
export function finiteRows(k: i32, m: i32, F: usize, flags: usize): i32 {
  checkSize(k, "finiteRows", "k");
  checkSize(m, "finiteRows", "m");
  checkArray(F, <u64>k * <u64>m, 8, "finiteRows", "F");
  checkArray(flags, <u64>k, 4, "finiteRows", "flags");
  const ld = <usize>m << 3;
  let count = 0;
  for (let i = 0; i < k; i++) {
    const row = F + <usize>i * ld;
    // x − x is 0 for finite x and NaN for ±Inf and NaN; a sum of those is NaN iff one is NaN
    // (0 + 0 = 0 exactly, NaN absorbs), so the row is finite iff the sum equals 0.
    let s = 0.0;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      let v = f64x2.splat(0);
      for (; j + 1 < m; j += 2) {
        const x = v128.load(row + (<usize>j << 3));
        v = f64x2.add(v, f64x2.sub(x, x));
      }
      s = f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
    }
    for (; j < m; j++) {
      const x = load<f64>(row + (<usize>j << 3));
      s += x - x;
    }
    const ok = s == 0 ? 1 : 0;
    store<i32>(flags + (<usize>i << 2), ok);
    count += ok;
  }
  return count;
}
