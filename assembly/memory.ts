// Memory family: the only allocation entry points. Kernels never allocate; the TS Workspace
// calls these once per problem size and passes byte offsets to the kernels.
import { checkSize } from "./checks";

// Returns a 16-byte aligned, zero-filled block of `bytes` bytes (TLSF blocks are 16-aligned).
export function alloc(bytes: i32): usize {
  checkSize(bytes, "alloc", "bytes");
  const ptr = heap.alloc(<usize>bytes);
  memory.fill(ptr, 0, <usize>bytes);
  return ptr;
}

// Releases a block obtained from alloc.
export function free(ptr: usize): void {
  heap.free(ptr);
}

// Current linear-memory size in bytes, so hosts can bounds-check offsets without the JS API.
export function memoryBytes(): f64 {
  return <f64>memory.size() * 65536.0;
}

// 1 when this module was compiled with SIMD, 0 for the scalar fallback.
export function simdEnabled(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}
