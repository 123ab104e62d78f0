// Argument checks of every kernel family (not exported from the module). Kernels trust nothing
// from the host: a bad size, an offset outside memory, a misaligned or aliased buffer aborts with
// a message (which the TS adapter turns into a KernelError) instead of trapping or corrupting data.
//
// One message format: "<kernel>: <argument> must be …; got …", with the values that came. Labels
// are passed as separate literals and joined only on the abort path, so a call allocates nothing.

// Aborts unless n ≥ 1.
// @ts-ignore: decorator
@inline
export function checkSize(n: i32, kernel: string, arg: string): void {
  if (n < 1) abort(kernel + ": " + arg + " must be ≥ 1; got " + n.toString());
}

// Aborts unless n ≤ max; hint says what to do instead.
// @ts-ignore: decorator
@inline
export function checkAtMost(n: i32, max: i32, kernel: string, arg: string, hint: string): void {
  if (n > max) abort(kernel + ": " + arg + " must be ≤ " + max.toString() + " (" + hint + "); got " + n.toString());
}

// Aborts unless x is finite.
// @ts-ignore: decorator
@inline
export function checkFinite(x: f64, kernel: string, arg: string): void {
  if (!isFinite(x)) abort(kernel + ": " + arg + " must be finite; got " + x.toString());
}

// Aborts unless [ptr, ptr + bytes) is inside linear memory and ptr is `align`-aligned; bytes is
// u64 so that a size product cannot wrap. The message names pointer, extent and memory size.
// @ts-ignore: decorator
@inline
export function checkRegion(ptr: usize, bytes: u64, align: usize, kernel: string, arg: string): void {
  const mem = <u64>memory.size() << 16;
  if (ptr == 0 || <u64>ptr + bytes > mem) outOfBounds(ptr, bytes, mem, kernel, arg);
  if ((ptr & (align - 1)) != 0) {
    abort(kernel + ": " + arg + " must be " + align.toString() + "-byte aligned; got pointer " + ptr.toString());
  }
}

// The abort of checkRegion, out of line (it builds strings).
function outOfBounds(ptr: usize, bytes: u64, mem: u64, kernel: string, arg: string): void {
  if (ptr == 0) abort(kernel + ": " + arg + " must be a buffer from alloc; got the null pointer 0");
  abort(kernel + ": " + arg + " must lie inside memory; got pointer " + ptr.toString() + " + extent " +
    bytes.toString() + " bytes > memory size " + mem.toString() + " bytes");
}

// Aborts unless `count` elements of `elem` bytes at ptr lie in memory, `elem`-aligned.
// @ts-ignore: decorator
@inline
export function checkArray(ptr: usize, count: u64, elem: u32, kernel: string, arg: string): void {
  checkRegion(ptr, count * <u64>elem, <usize>elem, kernel, arg);
}

// Aborts when [p, p + pb) and [q, q + qb) overlap (an output aliasing an input).
// @ts-ignore: decorator
@inline
export function checkDisjoint(p: usize, pb: u64, q: usize, qb: u64, kernel: string, a: string, b: string): void {
  if (<u64>p < <u64>q + qb && <u64>q < <u64>p + pb) {
    abort(kernel + ": " + a + " and " + b + " must not overlap (pass separate buffers); got [" + p.toString() + ", " +
      (<u64>p + pb).toString() + ") and [" + q.toString() + ", " + (<u64>q + qb).toString() + ")");
  }
}

// Activation codes of the dense family (activations.ts).
export const ACT_IDENTITY: i32 = 0;
export const ACT_RELU: i32 = 1;
export const ACT_TANH: i32 = 2;
export const ACT_SIGMOID: i32 = 3;
export const ACT_SIGN: i32 = 4;
export const ACT_HEAVISIDE: i32 = 5;
export const ACT_HARD_TANH: i32 = 6;

// Aborts unless act is an activation code.
// @ts-ignore: decorator
@inline
export function checkAct(act: i32, kernel: string, arg: string): void {
  if (act < ACT_IDENTITY || act > ACT_HARD_TANH) {
    abort(kernel + ": " + arg + " must be 0 (identity), 1 (relu), 2 (tanh), 3 (sigmoid), 4 (sign), 5 (heaviside) or 6 (hardTanh); got " +
      act.toString());
  }
}

// Aborts unless the scalar weight is finite and ≥ 0 when no weight vector is given (it is Γ⁻¹ = 1/γ²).
// @ts-ignore: decorator
@inline
export function checkWeight(w: usize, wScalar: f64, kernel: string): void {
  if (w == 0 && !(isFinite(wScalar) && wScalar >= 0)) {
    abort(kernel + ": wScalar must be finite and ≥ 0 when w = 0; got " + wScalar.toString());
  }
}

// Aborts unless every label is a class id in [0, C).
export function checkLabels(B: i32, C: i32, labels: usize, kernel: string): void {
  for (let b = 0; b < B; b++) {
    const l = load<i32>(labels + (<usize>b << 2));
    if (l < 0 || l >= C) {
      abort(kernel + ": labels[" + b.toString() + "] must be a class id in [0, C = " + C.toString() + "); got " + l.toString());
    }
  }
}

// Aborts unless members member0 … member0 + k − 1 are valid u32 indices.
// @ts-ignore: decorator
@inline
export function checkMemberRange(k: i32, member0: u32, kernel: string): void {
  if (<u64>member0 + <u64>k > <u64>0x100000000) {
    abort(kernel + ": member0 + k must be ≤ 2^32 (member is u32); got member0 = " + member0.toString() + ", k = " + k.toString());
  }
}

// Aborts unless stream positions offset … offset + n − 1 are valid u32 indices.
// @ts-ignore: decorator
@inline
export function checkIndexRange(offset: u32, n: i32, kernel: string): void {
  if (<u64>offset + <u64>n > <u64>0x100000000) {
    abort(kernel + ": offset + n must be ≤ 2^32 (index is u32); got offset = " + offset.toString() + ", n = " + n.toString());
  }
}

// Aborts unless an antithetic call takes whole pairs: member0 and k even.
// @ts-ignore: decorator
@inline
export function checkWholePairs(k: i32, member0: u32, anti: bool, kernel: string): void {
  if (anti && ((member0 & 1) != 0 || (k & 1) != 0)) {
    abort(kernel + ": with antithetic pairs member0 and k must be even (a call takes whole pairs ±ξ); got member0 = " +
      member0.toString() + ", k = " + k.toString() + ": split the member range at even members");
  }
}

// Aborts unless n ≥ 0.
// @ts-ignore: decorator
@inline
export function checkNonNegative(n: i32, kernel: string, arg: string): void {
  if (n < 0) abort(kernel + ": " + arg + " must be ≥ 0; got " + n.toString());
}

// Aborts unless flag is 0 or 1; zero and one say what each means.
// @ts-ignore: decorator
@inline
export function checkFlag(flag: i32, kernel: string, arg: string, zero: string, one: string): void {
  if (flag != 0 && flag != 1) {
    abort(kernel + ": " + arg + " must be 0 (" + zero + ") or 1 (" + one + "); got " + flag.toString());
  }
}

// Aborts unless a scratch size fits an i32 byte count (the ABI returns it as i32).
// @ts-ignore: decorator
@inline
export function checkWorkBytes(bytes: u64, kernel: string, hint: string): void {
  if (bytes > <u64>0x7FFFFFFF) abort(kernel + ": the scratch must be < 2 GiB (" + hint + "); got " + bytes.toString() + " bytes");
}

// Aborts unless need ≤ max for a quantity named what (a derived size, u64: no wrap).
// @ts-ignore: decorator
@inline
export function checkFits(need: u64, max: u64, kernel: string, what: string, hint: string): void {
  if (need > max) abort(kernel + ": " + what + " must be ≤ " + max.toString() + " (" + hint + "); got " + need.toString());
}

// Aborts unless dims (i32[layers + 1], at a checked region) holds sizes ≥ 1.
export function checkDims(layers: i32, dims: usize, kernel: string): void {
  for (let l = 0; l <= layers; l++) {
    const d = load<i32>(dims + (<usize>l << 2));
    if (d < 1) abort(kernel + ": dims[" + l.toString() + "] must be ≥ 1; got " + d.toString());
  }
}

// Aborts unless layers ≥ 1 and dims (i32[layers + 1]) lies in memory and holds sizes ≥ 1.
export function checkLayers(layers: i32, dims: usize, kernel: string): void {
  checkSize(layers, kernel, "layers");
  checkArray(dims, <u64>(layers + 1), 4, kernel, "dims");
  checkDims(layers, dims, kernel);
}

// Aborts unless a rank-r member's m direction coordinates (coordCount of lowrank-core.ts) all
// have u32 stream positions.
// @ts-ignore: decorator
@inline
export function checkCoords(m: u64, kernel: string): void {
  checkFits(m, <u64>0xFFFFFFFF, kernel, "the direction coordinates per member Σ_l (d_{l−1} + d_l)·rank + d_l",
    "a stream position is u32; use a smaller rank or narrower layers");
}

// Aborts unless flag is −1 (automatic), 0 or 1; zero and one say what 0 and 1 mean.
// @ts-ignore: decorator
@inline
export function checkAutoFlag(flag: i32, kernel: string, arg: string, zero: string, one: string): void {
  if (flag < -1 || flag > 1) {
    abort(kernel + ": " + arg + " must be −1 (automatic), 0 (" + zero + ") or 1 (" + one + "); got " + flag.toString());
  }
}

// Aborts unless the per-member stride of a strided operand is valid: 0 (one operand shared by
// all members) when shared is allowed, else ≥ len when there are several members.
// @ts-ignore: decorator
@inline
export function checkMemberStride(stride: i32, len: u64, members: i32, shared: bool, kernel: string, arg: string,
  what: string): void {
  if (stride < 0 || (members > 1 && !(shared && stride == 0) && <u64>stride < len)) {
    abort(kernel + ": " + arg + " must be " + (shared ? "0 (shared) or " : "") + "≥ " + what + " = " + len.toString() +
      "; got " + stride.toString());
  }
}

// Aborts unless the diagonal of the n×n factor L is positive (a factor from a successful cholesky).
export function checkFactor(n: i32, L: usize, kernel: string): void {
  const step = (<usize>n + 1) << 3;
  for (let i = 0; i < n; i++) {
    const d = load<f64>(L + <usize>i * step);
    if (!(d > 0)) {
      abort(kernel + ": L[" + i.toString() + "][" + i.toString() + "] must be positive (pass a factor from a successful cholesky()); got " +
        d.toString());
    }
  }
}

// Aborts unless a stride (in elements) is ≥ the length it must hold.
// @ts-ignore: decorator
@inline
export function checkStride(stride: i32, min: u64, kernel: string, arg: string, what: string): void {
  if (stride < 0 || <u64>stride < min) {
    abort(kernel + ": " + arg + " must be ≥ " + what + " = " + min.toString() + "; got " + stride.toString());
  }
}

// Aborts unless layers ≥ 1 and shapes (i32[2·layers]: fanIn_l, fanOut_l pairs of weight blocks)
// lies in memory and holds sizes ≥ 1.
export function checkShapes(layers: i32, shapes: usize, kernel: string): void {
  checkSize(layers, kernel, "layers");
  checkArray(shapes, <u64>layers << 1, 4, kernel, "shapes");
  for (let j = 0; j < layers << 1; j++) {
    const d = load<i32>(shapes + (<usize>j << 2));
    if (d < 1) {
      abort(kernel + ": shapes[" + j.toString() + "] (the " + ((j & 1) == 0 ? "fanIn" : "fanOut") + " of block " +
        ((j >> 1) + 1).toString() + ") must be ≥ 1; got " + d.toString());
    }
  }
}
