// Workspace: owns every buffer in WebAssembly memory for one problem size. Kernels allocate
// nothing; they receive the byte offsets of these buffers. Memory growth detaches typed-array
// views, so views are re-derived in one place (Buf.view) whenever `memory.buffer` changed.
import type { EnkfModule, RawExports } from './wasm.js';
import { checkInt } from './errors.js';

export type DType = 'f32' | 'f64' | 'i32';
type ViewOf<D extends DType> = D extends 'f32' ? Float32Array : D extends 'f64' ? Float64Array : Int32Array;

const BYTES: Record<DType, number> = { f32: 4, f64: 8, i32: 4 };
const CTOR = { f32: Float32Array, f64: Float64Array, i32: Int32Array } as const;

/** A typed region of WebAssembly memory. `view()` is valid until the next call into wasm that
 *  may grow memory; public APIs copy out of it instead of returning it. */
export class Buf<D extends DType = DType> {
  readonly ptr: number;
  readonly length: number;
  readonly dtype: D;
  private cached: ViewOf<D> | undefined;
  private cachedOn: ArrayBuffer | undefined;
  private freed = false;

  constructor(private readonly ws: Workspace, ptr: number, length: number, dtype: D) {
    this.ptr = ptr;
    this.length = length;
    this.dtype = dtype;
  }

  get bytes(): number {
    return this.length * BYTES[this.dtype];
  }

  get disposed(): boolean {
    return this.freed;
  }

  /** The live view, re-derived if memory grew since it was last made. */
  view(): ViewOf<D> {
    if (this.freed) throw new Error(`This ${this.dtype} buffer of length ${this.length} was freed; allocate a new one.`);
    const buffer = this.ws.memory.buffer;
    if (this.cachedOn !== buffer) {
      this.cached = new CTOR[this.dtype](buffer, this.ptr, this.length) as ViewOf<D>;
      this.cachedOn = buffer;
    }
    return this.cached!;
  }

  /** Copies `src` into this buffer (starting at `offset` elements). */
  set(src: ArrayLike<number>, offset = 0): this {
    if (offset < 0 || offset + src.length > this.length) {
      throw new RangeError(`Cannot copy ${src.length} values at offset ${offset} into a buffer of length ${this.length}.`);
    }
    this.view().set(src, offset);
    return this;
  }

  /** A copy of the contents (or of [start, end)). */
  copy(start = 0, end = this.length): ViewOf<D> {
    return this.view().slice(start, end) as ViewOf<D>;
  }

  /** Byte offset of element `i` (for kernels that take a pointer into the middle). */
  at(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i > this.length) {
      throw new RangeError(`Element index ${i} is outside a buffer of length ${this.length}.`);
    }
    return this.ptr + i * BYTES[this.dtype];
  }

  /** @internal */
  markFreed(): void {
    this.freed = true;
    this.cached = undefined;
    this.cachedOn = undefined;
  }
}

/** Owns buffers in one module's memory; `dispose()` frees all of them. */
export class Workspace {
  readonly module: EnkfModule;
  private readonly live = new Set<Buf>();

  constructor(module: EnkfModule) {
    this.module = module;
  }

  get raw(): RawExports {
    return this.module.exports;
  }

  get memory(): WebAssembly.Memory {
    return this.module.memory;
  }

  /** Bytes currently held by this workspace's buffers. */
  get bytesInUse(): number {
    let total = 0;
    for (const b of this.live) total += b.bytes;
    return total;
  }

  alloc<D extends DType>(dtype: D, length: number): Buf<D> {
    checkInt('buffer length', length, 1, Math.floor(2 ** 31 / BYTES[dtype]) - 16);
    const bytes = length * BYTES[dtype];
    const ptr = this.raw.alloc(bytes);
    const buf = new Buf(this, ptr, length, dtype);
    this.live.add(buf);
    return buf;
  }

  f32(length: number): Buf<'f32'> {
    return this.alloc('f32', length);
  }

  f64(length: number): Buf<'f64'> {
    return this.alloc('f64', length);
  }

  i32(length: number): Buf<'i32'> {
    return this.alloc('i32', length);
  }

  /** A buffer holding a copy of `data`. */
  from<D extends DType>(dtype: D, data: ArrayLike<number>): Buf<D> {
    return this.alloc(dtype, Math.max(1, data.length)).set(data);
  }

  /** Whether `buf` belongs to this workspace and is alive. */
  owns(buf: Buf): boolean {
    return this.live.has(buf);
  }

  free(buf: Buf): void {
    if (!this.live.delete(buf)) return;
    this.raw.free(buf.ptr);
    buf.markFreed();
  }

  dispose(): void {
    for (const b of [...this.live]) this.free(b);
  }
}
