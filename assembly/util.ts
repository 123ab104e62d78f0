// Boundary checks shared by every kernel family (not exported from the module).
// Kernels trust nothing from the host: an offset outside memory or misaligned aborts with a
// message (which the TS adapter turns into a KernelError) instead of trapping or corrupting data.

// Aborts unless [ptr, ptr + bytes) lies inside linear memory and ptr is `align`-aligned.
// @ts-ignore: decorator
@inline
export function checkPtr(ptr: usize, bytes: usize, align: usize, what: string): void {
  const end = <u64>ptr + <u64>bytes;
  if (ptr == 0 || end > (<u64>memory.size() << 16)) abort(what + ": buffer out of bounds");
  if ((ptr & (align - 1)) != 0) abort(what + ": misaligned buffer");
}

// Aborts unless n ≥ 1.
// @ts-ignore: decorator
@inline
export function checkDim(n: i32, what: string): void {
  if (n < 1) abort(what + ": size must be ≥ 1");
}
