// finiteRows against a plain-TS oracle (Number.isFinite on every value of a row), in both builds:
// huge finite values (1e308, ±MAX_VALUE), subnormals, −0, NaN and ±Inf at random positions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace } from '../bindings/index.js';
import { builds, expectKernelError, label } from './helpers.js';
import { compactFinite } from '../bindings/optimizers/driver.js';
import { gaussArray, mulberry32 } from './oracles.js';

const finiteRowsRef = (k: number, m: number, F: Float64Array): number[] =>
  Array.from({ length: k }, (_, i) => (F.subarray(i * m, (i + 1) * m).every(Number.isFinite) ? 1 : 0));

const SPECIAL = [1e308, -1e308, Number.MAX_VALUE, -Number.MAX_VALUE, 5e-324, -0, NaN, Infinity, -Infinity];

test('finiteRows equals the oracle on rows with huge, tiny, NaN and ±Inf values — both builds', async () => {
  for (const mod of await builds()) {
    const rand = mulberry32(81);
    for (const [k, m] of [[1, 1], [3, 2], [9, 7], [17, 33], [40, 128]]) {
      const F = gaussArray(rand, k * m);
      // each row gets 0–3 special values at random positions
      for (let i = 0; i < k; i++) {
        const specials = Math.floor(rand() * 4);
        for (let s = 0; s < specials; s++) F[i * m + Math.floor(rand() * m)] = SPECIAL[Math.floor(rand() * SPECIAL.length)];
      }
      const ws = new Workspace(mod);
      const flags = ws.i32(k).set(new Int32Array(k).fill(7)); // stale values must be overwritten
      const count = mod.exports.finiteRows(k, m, ws.from('f64', F).ptr, flags.ptr);
      const want = finiteRowsRef(k, m, F);
      assert.equal(Array.from(flags.copy()), want, `${label(mod)} k=${k} m=${m}`);
      assert.is(count, want.reduce((a, b) => a + b, 0), `${label(mod)} k=${k} m=${m}: count`);
      ws.dispose();
    }
  }
});

test('a row of huge finite values is finite, although 0·Σ(F_i − ref)² of it is NaN', async () => {
  for (const mod of await builds()) {
    const ws = new Workspace(mod);
    const m = 5;
    // row 0 huge and finite, row 1 small with one +Inf, row 2 all −MAX_VALUE
    const F = ws.from('f64', [1e308, -1e308, 1e308, 1e308, 1e308, 1, 2, Infinity, 4, 5, ...new Array(m).fill(-Number.MAX_VALUE)]);
    const flags = ws.i32(3);
    assert.is(mod.exports.finiteRows(3, m, F.ptr, flags.ptr), 2);
    assert.equal(Array.from(flags.copy()), [1, 0, 1]);
    // the weighted-loss test it replaces: ½·0·Σ(1e308)² = 0·Inf = NaN, a false "not finite"
    const loss = ws.f64(3);
    mod.exports.lsLoss(3, m, 0, F.ptr, 0, ws.f64(m).ptr, loss.ptr);
    assert.ok(Number.isNaN(loss.copy()[0]), `${label(mod)}: 0·Σ of a huge row`);
    ws.dispose();
  }
});

test('finiteRows: bad arguments abort with a KernelError naming the argument', async () => {
  for (const mod of await builds()) {
    const ws = new Workspace(mod);
    const F = ws.f64(16), flags = ws.i32(4);
    const x = mod.exports;
    expectKernelError(() => x.finiteRows(0, 4, F.ptr, flags.ptr), /finiteRows: k must be ≥ 1; got 0/);
    expectKernelError(() => x.finiteRows(4, -2, F.ptr, flags.ptr), /finiteRows: m must be ≥ 1; got -2/);
    expectKernelError(() => x.finiteRows(4, 4, F.ptr + 4, flags.ptr), /finiteRows: F must be 8-byte aligned; got pointer \d+/);
    expectKernelError(() => x.finiteRows(4, 4, x.memoryBytes() - 64, flags.ptr),
      /finiteRows: F must lie inside memory; got pointer \d+ \+ extent 128 bytes > memory size \d+ bytes/);
    expectKernelError(() => x.finiteRows(4, 4, F.ptr, 0), /finiteRows: flags must be a buffer from alloc; got the null pointer 0/);
    ws.dispose();
  }
});

test('compactFinite keeps huge finite members in order and drops only NaN/±Inf rows (the old 0·Σ test dropped 1e200 rows)', async () => {
  for (const mod of await builds()) {
    const ws = new Workspace(mod);
    try {
      const k = 6;
      const m = 5;
      const rows = [
        [1, 2, 3, 4, 5], [1e200, -1e200, 0, 0, 1], [NaN, 0, 0, 0, 0], [0, 0, 0, 0, 7], [0, Infinity, 0, 0, 0], [-1e300, 1, 1, 1, 1],
      ];
      const F = ws.from('f64', rows.flat());
      const flags = ws.i32(k);
      const index = new Int32Array(k);
      const { count } = compactFinite(ws, F, k, m, flags, index);
      assert.is(count, 4, label(mod));
      assert.equal(Array.from(index.subarray(0, count)), [0, 1, 3, 5]);
      assert.equal(Array.from(F.view().subarray(0, count * m)), [rows[0], rows[1], rows[3], rows[5]].flat());
    } finally {
      ws.dispose();
    }
  }
});

test.run();
