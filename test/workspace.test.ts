import { readFile } from 'node:fs/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule, hostHasSimd, Workspace, KernelError } from '../bindings/internal.js';

test('both builds load; SIMD is chosen when the host validates it', async () => {
  const auto = await loadModule();
  assert.is(auto.simd, hostHasSimd());
  const scalar = await loadModule({ simd: false });
  assert.is(scalar.simd, false);
  for (const file of ['enkf.wasm', 'enkf-scalar.wasm']) {
    const bytes = await readFile(new URL(`../build/${file}`, import.meta.url));
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes)).map((i) => `${i.module}.${i.name}`);
    assert.equal(imports, ['env.abort'], `${file} imports only abort`);
  }
});

test('a Workspace survives memory growth with its data intact', async () => {
  const mod = await loadModule();
  const ws = new Workspace(mod);
  const a = ws.f64(1000);
  const ref = Float64Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 1e3);
  a.set(ref);
  const before = mod.memory.buffer.byteLength;
  const big = ws.f32(8 << 20); // 32 MiB forces growth past the initial 1 MiB
  assert.ok(mod.memory.buffer.byteLength > before, 'memory grew');
  assert.equal(Array.from(a.view()), Array.from(ref));
  big.view()[big.length - 1] = 7;
  assert.is(big.view()[big.length - 1], 7);
  ws.dispose();
  assert.throws(() => a.view(), /freed/);
});

test('alloc of a non-positive size aborts as a KernelError with the kernel message', async () => {
  const mod = await loadModule();
  try {
    mod.exports.alloc(0);
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, KernelError);
    assert.is((e as KernelError).kernelMessage, 'alloc: bytes must be ≥ 1; got 0');
    assert.match((e as Error).message, /^WebAssembly kernel aborted: alloc:/);
  }
});

test('typed errors for bad buffer lengths', async () => {
  const ws = new Workspace(await loadModule());
  assert.throws(() => ws.f64(0), (e: Error) => e instanceof RangeError && /buffer length must be/.test(e.message));
  assert.throws(() => ws.f64(-3), RangeError);
  assert.throws(() => ws.f64(1.5), RangeError);
});

test.run();
