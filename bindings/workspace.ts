// Workspace: owns every buffer in WebAssembly memory for one problem size. Kernels allocate
// nothing; they receive the byte offsets of these buffers. Memory growth detaches typed-array
// views, so views are re-derived in one place (Buf.view) whenever `memory.buffer` changed.
import type { EnkfModule, RawExports } from './wasm.js';
import { checkInt } from './errors.js';

export type DType = 'f32' | 'f64' | 'i32';
type ViewOf<D extends DType> = D extends 'f32' ? Float32Array : D extends 'f64' ? Float64Array : Int32Array;

const BYTES: Record<DType, number> = { f32: 4, f64: 8, i32: 4 };
const CTOR = { f32: Float32Array, f64: Float64Array, i32: Int32Array } as const;

/** Largest block the module's allocator hands out: AssemblyScript's TLSF caps one block at
 *  2^30 − 4 bytes (BLOCK_MAXSIZE = 1 GiB minus the 4-byte block header). */
export const MAX_BUFFER_BYTES = 2 ** 30 - 4;

const MiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

// Bytes and buffers held by all Workspaces of one module instance (read by bytesInUse).
interface Usage { bytes: number; buffers: number }
const usage = new WeakMap<EnkfModule, Usage>();

function usageOf(module: EnkfModule): Usage {
  let u = usage.get(module);
  if (!u) usage.set(module, (u = { bytes: 0, buffers: 0 }));
  return u;
}

/** Bytes held by every live buffer of every Workspace on `module` (for leak checks). */
export function bytesInUse(module: EnkfModule): number {
  return usage.get(module)?.bytes ?? 0;
}

/** Number of live buffers of every Workspace on `module` (for leak checks). */
export function buffersInUse(module: EnkfModule): number {
  return usage.get(module)?.buffers ?? 0;
}

/** A typed region of WebAssembly memory. `view()` is valid until the next call into wasm that
 *  may grow memory; public APIs copy out of it instead of returning it. */
export class Buf<D extends DType = DType> {
  /** Byte offset of element 0 in the module's memory (unsigned). */
  readonly ptr: number;
  readonly length: number;
  readonly dtype: D;
  private cached: ViewOf<D> | undefined;
  private cachedOn: ArrayBuffer | undefined;
  private freed = false;

  constructor(private readonly ws: Workspace, ptr: number, length: number, dtype: D) {
    this.ptr = ptr >>> 0;
    this.length = length;
    this.dtype = dtype;
  }

  get bytes(): number {
    return this.length * BYTES[this.dtype];
  }

  /** True once freed, or once its Workspace was disposed. */
  get disposed(): boolean {
    return this.freed || this.ws.disposed;
  }

  /** The live view, re-derived if memory grew since it was last made. */
  view(): ViewOf<D> {
    if (this.disposed) throw new Error(`This ${this.dtype} buffer of length ${this.length} was freed; allocate a new one.`);
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

  /** Byte offset in module memory of element `i` (a pointer for kernels that start mid-buffer);
   *  i = length gives the end. */
  byteOffset(i: number): number {
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
  private readonly usage: Usage;
  private gone = false;

  constructor(module: EnkfModule) {
    if (!module || typeof module !== 'object' || !module.exports || !(module.memory instanceof WebAssembly.Memory)) {
      throw new TypeError('new Workspace(module) expects the EnkfModule that `await loadModule()` returns.');
    }
    this.module = module;
    this.usage = usageOf(module);
  }

  get raw(): RawExports {
    return this.module.exports;
  }

  get memory(): WebAssembly.Memory {
    return this.module.memory;
  }

  /** True after `dispose()`. */
  get disposed(): boolean {
    return this.gone;
  }

  /** Bytes currently held by this workspace's buffers. */
  get bytesInUse(): number {
    let total = 0;
    for (const b of this.live) total += b.bytes;
    return total;
  }

  private alive(method: string): void {
    if (this.gone) throw new Error(`Workspace.${method}: this Workspace was disposed; create a new one.`);
  }

  alloc<D extends DType>(dtype: D, length: number): Buf<D> {
    this.alive('alloc');
    if (!(dtype in BYTES)) throw new TypeError(`Workspace.alloc: dtype must be 'f32', 'f64' or 'i32'; got ${String(dtype)}.`);
    checkInt('buffer length', length, 1);
    const bytes = length * BYTES[dtype];
    if (bytes > MAX_BUFFER_BYTES) {
      throw new RangeError(`Workspace.alloc: an ${dtype} buffer of ${length} elements needs ${bytes} bytes (${MiB(bytes)}), ` +
        `more than the ${MAX_BUFFER_BYTES} bytes (1 GiB) one block of WebAssembly memory can hold. ` +
        'Make the problem smaller: a smaller ensemble or fewer members per call (maxMembers), fewer parameters, or a smaller batch.');
    }
    let ptr: number;
    try {
      ptr = this.raw.alloc(bytes) >>> 0;
    } catch (e) {
      // The allocator traps (unreachable) when memory cannot grow any further.
      if (!(e instanceof WebAssembly.RuntimeError)) throw e;
      throw new RangeError(`Workspace.alloc: could not grow WebAssembly memory (now ${MiB(this.memory.buffer.byteLength)}, ` +
        `at most 4096 MiB) for an ${dtype} buffer of ${bytes} bytes. Free or dispose what is no longer needed, ` +
        'or make the problem smaller (ensemble size, maxMembers, parameters, batch).');
    }
    const buf = new Buf(this, ptr, length, dtype);
    this.live.add(buf);
    this.usage.bytes += bytes;
    this.usage.buffers++;
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
    this.alive('from');
    return this.alloc(dtype, Math.max(1, data.length)).set(data);
  }

  /** Whether `buf` belongs to this workspace and is alive. */
  owns(buf: Buf): boolean {
    return this.live.has(buf);
  }

  /** Frees a buffer this workspace allocated; freeing it twice, or a buffer of another workspace
   *  (or a view made with `new Buf`), throws. */
  free(buf: Buf): void {
    this.alive('free');
    if (!this.live.delete(buf)) {
      const what = buf instanceof Buf ? `this ${buf.dtype} buffer of length ${buf.length} at byte ${buf.ptr}` : `a ${typeof buf}`;
      const why = buf instanceof Buf && buf.disposed ? 'was already freed' : 'was not allocated by this Workspace';
      throw new Error(`Workspace.free: ${what} ${why}; free each buffer once, through the Workspace that allocated it.`);
    }
    this.release(buf);
  }

  private release(buf: Buf): void {
    this.raw.free(buf.ptr);
    buf.markFreed();
    this.usage.bytes -= buf.bytes;
    this.usage.buffers--;
  }

  /** Frees every buffer; later calls of any method but `dispose` throw. Idempotent. */
  dispose(): void {
    if (this.gone) return;
    for (const b of this.live) this.release(b);
    this.live.clear();
    this.gone = true;
  }
}
