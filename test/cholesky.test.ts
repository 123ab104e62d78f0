// cholesky / cholSolve against a textbook Cholesky and against their defining identities
// (L·Lᵀ = A + shift·I, A·X = B), in both builds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, NotPositiveDefiniteError } from '../bindings/index.js';
import { mulberry32, randomSpd, choleskyRef, matmul, transpose, gaussArray, maxAbs, maxAbsDiff } from './oracles.js';
import { builds, expectKernelError, label } from './helpers.js';

const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 200];

test('L·Lᵀ = A + shift·I on random SPD matrices; matches a textbook Cholesky; upper zeroed', async () => {
  const rand = mulberry32(101);
  for (const mod of await builds()) {
    for (const n of SIZES) {
      const ws = new Workspace(mod);
      const A = randomSpd(rand, n);
      const shift = n % 2 ? 0 : 0.25;
      const a = ws.from('f64', A);
      const l = ws.f64(n * n).set(new Float64Array(n * n).fill(7)); // stale values must be overwritten
      assert.is(mod.exports.cholesky(n, shift, a.ptr, l.ptr), 0, `${label(mod)} n=${n} status`);
      const L = l.copy();
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assert.is(L[i * n + j], 0, `upper (${i},${j}) zeroed`);
      const As = Float64Array.from(A);
      for (let i = 0; i < n; i++) As[i * n + i] += shift;
      // Backward error of Cholesky: ‖LLᵀ − A‖ ≤ c·n·u·‖A‖ (Higham, Thm 10.3); c = 4 is generous.
      const LLt = matmul(n, n, n, L, transpose(n, n, L));
      const bound = 4 * n * 2.3e-16 * maxAbs(As);
      assert.ok(maxAbsDiff(LLt, As) <= bound, `${label(mod)} n=${n}: ‖LLᵀ − A‖ = ${maxAbsDiff(LLt, As)} > ${bound}`);
      const ref = choleskyRef(n, A, shift)!;
      assert.ok(maxAbsDiff(L, ref) <= 1e-10 * maxAbs(ref), `${label(mod)} n=${n} vs textbook`);
      ws.dispose();
    }
  }
});

test('A and L may alias (in-place factorization gives the same factor)', async () => {
  const rand = mulberry32(102);
  for (const mod of await builds()) {
    for (const n of [1, 6, 13, 40]) {
      const ws = new Workspace(mod);
      const A = randomSpd(rand, n);
      const a = ws.from('f64', A);
      const l = ws.f64(n * n);
      assert.is(mod.exports.cholesky(n, 0.5, a.ptr, l.ptr), 0);
      assert.is(mod.exports.cholesky(n, 0.5, a.ptr, a.ptr), 0);
      assert.equal(Array.from(a.copy()), Array.from(l.copy()), `${label(mod)} n=${n}`);
      ws.dispose();
    }
  }
});

test('cholSolve: residual ‖A·X − B‖ is at rounding level, nrhs 1, 3 and 8', async () => {
  const rand = mulberry32(103);
  for (const mod of await builds()) {
    for (const n of [1, 2, 5, 8, 17, 64]) {
      for (const nrhs of [1, 3, 8]) {
        const ws = new Workspace(mod);
        const A = randomSpd(rand, n, 0.5);
        const Bm = gaussArray(rand, n * nrhs);
        const l = ws.f64(n * n);
        assert.is(mod.exports.cholesky(n, 0, ws.from('f64', A).ptr, l.ptr), 0);
        const b = ws.from('f64', Bm);
        mod.exports.cholSolve(n, nrhs, l.ptr, b.ptr);
        const X = b.copy();
        const AX = matmul(n, n, nrhs, A, X);
        // Backward-stable solve: ‖AX − B‖ ≲ c·n·u·‖A‖‖X‖.
        const bound = 8 * n * 2.3e-16 * maxAbs(A) * maxAbs(X) * n;
        assert.ok(maxAbsDiff(AX, Bm) <= bound, `${label(mod)} n=${n} nrhs=${nrhs}: residual ${maxAbsDiff(AX, Bm)}`);
        ws.dispose();
      }
    }
  }
});

test('a known 3×3 system: exact factor and solution', async () => {
  // A = L₀L₀ᵀ with L₀ = [[2,0,0],[1,3,0],[−1,2,4]], so chol(A) = L₀ exactly in binary floating point.
  const A = [4, 2, -2, 2, 10, 5, -2, 5, 21];
  const x = [1, -2, 3];
  const Bv = [4 - 4 - 6, 2 - 20 + 15, -2 - 10 + 63];
  for (const mod of await builds()) {
    const ws = new Workspace(mod);
    const l = ws.f64(9);
    assert.is(mod.exports.cholesky(3, 0, ws.from('f64', A).ptr, l.ptr), 0);
    assert.equal(Array.from(l.copy()), [2, 0, 0, 1, 3, 0, -1, 2, 4]);
    const b = ws.from('f64', Bv);
    mod.exports.cholSolve(3, 1, l.ptr, b.ptr);
    assert.ok(maxAbsDiff(b.copy(), x) < 1e-14, `${label(mod)} solution ${Array.from(b.copy())}`);
    ws.dispose();
  }
});

test('not positive definite: status = failing pivot + 1, never a silent NaN', async () => {
  const cases: Array<{ n: number; A: number[]; shift?: number; pivot: number }> = [
    { n: 4, A: [1, 0, 0, 0, 0, 2, 0, 0, 0, 0, -1, 0, 0, 0, 0, 4], pivot: 3 },
    { n: 2, A: [1, 2, 2, 1], pivot: 2 }, // eigenvalues 3 and −1
    { n: 2, A: [1, 2, 2, 1], shift: 2, pivot: 0 }, // the shift makes it PD
    { n: 3, A: [0, 0, 0, 0, 0, 0, 0, 0, 0], pivot: 1 },
    { n: 2, A: [1, NaN, NaN, 1], pivot: 2 },
    { n: 1, A: [NaN], pivot: 1 },
    { n: 2, A: [1, 1, 1, 1], pivot: 2 }, // singular: zero pivot
  ];
  for (const mod of await builds()) {
    for (const c of cases) {
      const ws = new Workspace(mod);
      const l = ws.f64(c.n * c.n);
      const status = mod.exports.cholesky(c.n, c.shift ?? 0, ws.from('f64', c.A).ptr, l.ptr);
      assert.is(status, c.pivot, `${label(mod)} ${JSON.stringify(c)}`);
      if (status === 0) assert.ok(l.copy().every(Number.isFinite));
      ws.dispose();
    }
  }
});

test('NotPositiveDefiniteError exists for callers that get a non-zero status', () => {
  const e = new NotPositiveDefiniteError('The 4×4 Gauss–Newton matrix', 3);
  assert.instance(e, Error);
  assert.is(e.name, 'NotPositiveDefiniteError');
  assert.is(e.pivot, 3);
  assert.match(e.message, /pivot 3/);
  assert.match(e.message, /alpha/);
});

test('bad arguments abort with a KernelError naming the argument', async () => {
  for (const mod of await builds()) {
    const ws = new Workspace(mod);
    const a = ws.f64(16);
    const x = mod.exports;
    const end = x.memoryBytes();
    expectKernelError(() => x.cholesky(0, 0, a.ptr, a.ptr), /cholesky: n must be ≥ 1; got 0/);
    expectKernelError(() => x.cholesky(-3, 0, a.ptr, a.ptr), /cholesky: n must be ≥ 1; got -3/);
    expectKernelError(() => x.cholesky(4, NaN, a.ptr, a.ptr), /cholesky: shift must be finite; got NaN/);
    expectKernelError(() => x.cholesky(4, 0, end - 64, a.ptr), /cholesky: A must lie inside memory; got pointer \d+ \+ extent \d+ bytes > memory size \d+ bytes/);
    expectKernelError(() => x.cholesky(4, 0, a.ptr, a.ptr + 4), /cholesky: L must be 8-byte aligned; got pointer \d+/);
    expectKernelError(() => x.cholesky(4, 0, 0, a.ptr), /cholesky: A must be a buffer from alloc; got the null pointer 0/);
    expectKernelError(() => x.cholesky(70000, 0, a.ptr, a.ptr), /cholesky: A must lie inside memory; got pointer \d+ \+ extent 39200000000 bytes/); // n² · 8 bytes: no u32 wrap
    expectKernelError(() => x.cholSolve(4, 0, a.ptr, a.ptr), /cholSolve: nrhs must be ≥ 1; got 0/);
    expectKernelError(() => x.cholSolve(4, 1, a.ptr, end - 16), /cholSolve: B must lie inside memory; got pointer \d+ \+ extent \d+ bytes > memory size \d+ bytes/);
    a.set(new Float64Array(16)); // zero diagonal: not a factor
    expectKernelError(() => x.cholSolve(4, 1, a.ptr, a.ptr), /cholSolve: L\[0\]\[0\] must be positive \(pass a factor from a successful cholesky\(\)\); got 0/);
    ws.dispose();
  }
});

test('memory does not grow over 10⁴ factorizations and solves', async () => {
  for (const mod of await builds()) {
    const ws = new Workspace(mod);
    const n = 12;
    const A = ws.from('f64', randomSpd(mulberry32(104), n));
    const L = ws.f64(n * n);
    const b = ws.f64(n * 2);
    const before = mod.exports.memoryBytes();
    for (let i = 0; i < 10_000; i++) {
      mod.exports.cholesky(n, 1e-3, A.ptr, L.ptr);
      mod.exports.cholSolve(n, 2, L.ptr, b.ptr);
    }
    assert.is(mod.exports.memoryBytes(), before);
    ws.dispose();
  }
});

test.run();
