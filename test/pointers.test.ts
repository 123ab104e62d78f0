// Pointers and buffers at the boundary: offsets above 2 GiB (wasm32 pointers are unsigned; an i32
// result ≥ 2^31 arrives in JS as a negative number), the allocator's per-block limit, and
// Workspace/Buf use after dispose or free.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule, Workspace, Buf, KernelError, MAX_BUFFER_BYTES, bytesInUse } from '../bindings/internal.js';
import { randnRef } from './oracles.js';

const PAGE = 65536;

test('a buffer placed above 2 GiB has an unsigned pointer, a working view and kernels that reach it', async () => {
  const mod = await loadModule();
  const ws = new Workspace(mod);
  const low = ws.f64(64); // the first allocation sets the allocator up on the initial memory
  // Grow to 2 GiB + 1 page from JS (pages stay untouched, so this costs address space, not RAM);
  // the next block that does not fit below is placed by the allocator after the grown region.
  mod.memory.grow(2 ** 31 / PAGE + 1 - mod.memory.buffer.byteLength / PAGE);
  const high = ws.f64(1 << 18); // 2 MiB
  assert.ok(high.ptr >= 2 ** 31, `pointer ${high.ptr} is above 2 GiB`);
  assert.ok(high.ptr + high.bytes <= mod.memory.buffer.byteLength);
  assert.is(high.byteOffset(high.length), high.ptr + high.bytes);
  // a kernel writes through the pointer: the same normals as the oracle and as a low buffer
  mod.exports.randn(high.length, 11, 2, 3, 0, high.ptr);
  mod.exports.randn(low.length, 11, 2, 3, 0, low.ptr);
  const ref = randnRef(low.length, 11, 2, 3, 0);
  assert.equal(Array.from(high.view().subarray(0, low.length)), Array.from(low.view()));
  assert.equal(Array.from(low.view()), Array.from(ref));
  // JS writes land where the kernel reads: widen(n, src, dst) copies f32 → f64 across the 2 GiB line
  const src = ws.f32(5).set([1.5, -2, 3.25, 0, 7]);
  mod.exports.widen(5, src.ptr, high.byteOffset(100));
  assert.equal(Array.from(high.view().subarray(100, 105)), [1.5, -2, 3.25, 0, 7]);
  high.view()[high.length - 1] = 42;
  assert.is(new Float64Array(mod.memory.buffer, high.ptr, high.length)[high.length - 1], 42);
  // free takes the unsigned pointer back: a smaller block (TLSF rounds a request up to a size
  // class, so it needs some room to spare) lands where the freed one was, without growing memory
  const at = high.ptr;
  const size = mod.memory.buffer.byteLength;
  ws.free(high);
  const again = ws.f64(1 << 17);
  assert.is(again.ptr, at, 'the freed block above 2 GiB is reused');
  assert.is(mod.memory.buffer.byteLength, size);
  ws.dispose();
});

test('the Workspace limit is the allocator\'s: one byte more aborts inside wasm, the Workspace says what to do', async () => {
  const mod = await loadModule();
  // the module's own allocator refuses one byte more than MAX_BUFFER_BYTES (TLSF "Allocation too large")
  try {
    mod.exports.alloc(MAX_BUFFER_BYTES + 1);
    assert.unreachable('alloc should have aborted');
  } catch (e) {
    assert.instance(e, KernelError);
    assert.match((e as KernelError).kernelMessage, /Allocation too large/);
  }
  const ws = new Workspace(mod);
  const elements = MAX_BUFFER_BYTES / 4 + 1; // f32: 4 bytes more than the limit
  try {
    ws.f32(elements);
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, RangeError);
    const msg = (e as Error).message;
    assert.match(msg, `${elements} elements`);
    assert.match(msg, `${elements * 4} bytes`);
    assert.match(msg, `${MAX_BUFFER_BYTES} bytes`);
    assert.match(msg, /maxMembers/);
    assert.match(msg, /ensemble/);
  }
  assert.throws(() => ws.f64(2 ** 27), (e: Error) => e instanceof RangeError && /1073741824 bytes/.test(e.message));
  assert.is(ws.bytesInUse, 0, 'nothing was allocated');
  ws.dispose();
});

test('when memory cannot grow any more (4 GiB), alloc throws a RangeError instead of a wasm trap', async () => {
  const mod = await loadModule();
  const ws = new Workspace(mod);
  const first = ws.f64(8).set([1, 2, 3, 4, 5, 6, 7, 8]);
  mod.memory.grow(2 ** 32 / PAGE - 1 - mod.memory.buffer.byteLength / PAGE); // one page short of 4 GiB, untouched
  assert.throws(() => ws.f64(1 << 18), (e: Error) => e instanceof RangeError &&
    /could not grow WebAssembly memory \(now 4095\.9 MiB, at most 4096 MiB\) for an f64 buffer of 2097152 bytes/.test(e.message));
  // the allocator is still usable: small blocks come from the room that is left
  const small = ws.f64(4).set([9, 8, 7, 6]);
  assert.equal(Array.from(small.view()), [9, 8, 7, 6]);
  assert.equal(Array.from(first.view()), [1, 2, 3, 4, 5, 6, 7, 8]);
  ws.dispose();
});

test('every Workspace method but dispose throws after dispose; dispose is idempotent', async () => {
  const mod = await loadModule();
  const ws = new Workspace(mod);
  const a = ws.f64(3);
  ws.dispose();
  ws.dispose();
  assert.ok(ws.disposed);
  for (const [name, call] of [
    ['alloc', () => ws.alloc('f64', 2)],
    ['f32', () => ws.f32(2)],
    ['f64', () => ws.f64(2)],
    ['i32', () => ws.i32(2)],
    ['from', () => ws.from('f64', [1, 2])],
    ['free', () => ws.free(a)],
  ] as const) {
    assert.throws(call, (e: Error) => /this Workspace was disposed/.test(e.message), `${name} after dispose`);
  }
  assert.is(ws.owns(a), false);
  assert.is(bytesInUse(mod), 0);
});

test('free of a buffer twice, of another Workspace\'s buffer or of a sub-view throws a clear error', async () => {
  const mod = await loadModule();
  const ws = new Workspace(mod);
  const other = new Workspace(mod);
  const a = ws.f64(4);
  const b = other.f32(4);
  ws.free(a);
  assert.throws(() => ws.free(a), /Workspace\.free: this f64 buffer of length 4 .* was already freed/);
  assert.throws(() => ws.free(b), /Workspace\.free: this f32 buffer of length 4 .* was not allocated by this Workspace/);
  assert.ok(other.owns(b), 'the foreign buffer is untouched');
  const c = ws.f64(8);
  const view = new Buf(ws, c.byteOffset(2), 4, 'f64');
  assert.throws(() => ws.free(view), /was not allocated by this Workspace/);
  assert.throws(() => ws.free(undefined as never), /Workspace\.free: a undefined was not allocated/);
  // a sub-view dies with its Workspace
  ws.dispose();
  assert.throws(() => view.view(), /freed/);
  other.dispose();
  assert.is(bytesInUse(mod), 0);
});

test('Buf.byteOffset(i) is the byte pointer of element i (the old name at() is gone: it read like element access)', async () => {
  const ws = new Workspace(await loadModule());
  const f = ws.f64(10);
  const g = ws.f32(10);
  assert.is(f.byteOffset(0), f.ptr);
  assert.is(f.byteOffset(3), f.ptr + 24);
  assert.is(g.byteOffset(10), g.ptr + 40);
  assert.throws(() => f.byteOffset(11), RangeError);
  assert.throws(() => f.byteOffset(-1), RangeError);
  assert.throws(() => f.byteOffset(1.5), RangeError);
  ws.dispose();
});

test('bad Workspace arguments: a missing module, an unknown dtype', async () => {
  assert.throws(() => new Workspace(undefined as never), (e: Error) => e instanceof TypeError && /loadModule/.test(e.message));
  const ws = new Workspace(await loadModule());
  assert.throws(() => ws.alloc('u8' as never, 4), (e: Error) => e instanceof TypeError && /'f32', 'f64' or 'i32'; got u8/.test(e.message));
  ws.dispose();
});

test.run();
