// The .wasm in a bare WebAssembly host: no loader, no JS glue, only the `env.abort` import.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';

for (const file of ['enkf.wasm', 'enkf-scalar.wasm']) {
  test(`${file} runs with nothing but an abort import`, async () => {
    const bytes = await readFile(new URL(`../build/${file}`, import.meta.url));
    const aborts: number[][] = [];
    const { instance } = await WebAssembly.instantiate(bytes, {
      env: { abort: (...args: number[]) => { aborts.push(args); throw new Error('abort'); } },
    });
    const x = instance.exports as Record<string, any>;
    const memory = x.memory as WebAssembly.Memory;
    const n = 1000;
    const ptr = x.alloc(n * 8) as number;
    assert.is(ptr % 16, 0, 'alloc is 16-byte aligned');
    x.randn(n, 42, 0, 0, 0, ptr);
    const z = new Float64Array(memory.buffer, ptr, n);
    const mean = z.reduce((s, v) => s + v, 0) / n;
    const variance = z.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
    // N(0,1) sample of 1000: |mean| < 5/√n and variance within ±5·√(2/n) of 1.
    assert.ok(Math.abs(mean) < 5 / Math.sqrt(n), `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 5 * Math.sqrt(2 / n), `variance ${variance}`);
    assert.throws(() => x.randn(n, 42, 0, 0, 0, memory.buffer.byteLength - 8));
    assert.is(aborts.length, 1, 'an out-of-bounds buffer calls abort instead of trapping');
    x.free(ptr);
  });
}

test('the SIMD and scalar builds export the same functions and memory', async () => {
  const names = async (file: string) => WebAssembly.Module.exports(new WebAssembly.Module(await readFile(new URL(`../build/${file}`, import.meta.url))))
    .map((e) => `${e.kind} ${e.name}`).sort();
  const simd = await names('enkf.wasm');
  assert.equal(simd, await names('enkf-scalar.wasm'));
  assert.ok(simd.includes('memory memory') && simd.includes('function sgemm') && simd.includes('function nlbUpdate'));
});

test.run();
