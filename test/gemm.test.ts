// sgemm against a plain-TS f64 oracle, in both builds. Tolerance: the classical bound for an
// f32 dot product of length K, |fl(s) − s| ≤ (K + 4)·u·(|α|Σ|a||b| + |β||c|), u = 2⁻²⁴ (the +4
// covers the α and β products and the final add). A wrong element is off by O(Σ|a||b|), far above.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule, Workspace } from '../bindings/index.js';
import type { EnkfModule } from '../bindings/index.js';
import { mulberry32 } from './oracles.js';
import { expectKernelError } from './helpers.js';

const U = 2 ** -24;
const SENTINEL = 12345.5;

const simd = await loadModule({ simd: true });
const scalar = await loadModule({ simd: false });
const builds: [string, EnkfModule][] = [['simd', simd], ['scalar', scalar]];


interface Case {
  tA: number; tB: number; M: number; N: number; K: number; alpha: number; beta: number;
  lda: number; ldb: number; ldc: number;
  A: Float32Array; B: Float32Array; C: Float32Array; // C: initial contents, ldc-strided
}

function makeCase(rand: () => number, tA: number, tB: number, M: number, N: number, K: number,
  alpha: number, beta: number, pad: [number, number, number]): Case {
  const aRows = tA ? K : M, aCols = tA ? M : K;
  const bRows = tB ? N : K, bCols = tB ? K : N;
  const lda = aCols + pad[0], ldb = bCols + pad[1], ldc = N + pad[2];
  const fill = (n: number) => Float32Array.from({ length: n }, () => rand() * 2 - 1);
  const A = fill((aRows - 1) * lda + aCols);
  const B = fill((bRows - 1) * ldb + bCols);
  const C = new Float32Array((M - 1) * ldc + N).fill(SENTINEL);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) C[i * ldc + j] = beta === 0 ? NaN : rand() * 2 - 1;
  }
  return { tA, tB, M, N, K, alpha, beta, lda, ldb, ldc, A, B, C };
}

// f64 reference value and error scale S = |α|Σ|a||b| + |β||c| of every C element.
function oracle(c: Case): { ref: Float64Array; scale: Float64Array } {
  const { tA, tB, M, N, K, alpha, beta, lda, ldb, ldc, A, B, C } = c;
  const ref = Float64Array.from(C);
  const scale = new Float64Array(C.length);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0, sa = 0;
      for (let k = 0; k < K; k++) {
        const a = tA ? A[k * lda + i] : A[i * lda + k];
        const b = tB ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
        sa += Math.abs(a * b);
      }
      const c0 = C[i * ldc + j];
      ref[i * ldc + j] = alpha * s + (beta === 0 ? 0 : beta * c0);
      scale[i * ldc + j] = Math.abs(alpha) * sa + (beta === 0 ? 0 : Math.abs(beta * c0));
    }
  }
  return { ref, scale };
}

function runSgemm(mod: EnkfModule, c: Case): Float32Array {
  const ws = new Workspace(mod);
  try {
    const a = ws.from('f32', c.A), b = ws.from('f32', c.B), cc = ws.from('f32', c.C);
    const work = ws.alloc('f32', mod.exports.sgemmWorkBytes(c.M, c.N, c.K) / 4);
    mod.exports.sgemm(c.tA, c.tB, c.M, c.N, c.K, c.alpha, a.ptr, c.lda, b.ptr, c.ldb, c.beta, cc.ptr, c.ldc, work.ptr);
    return cc.copy();
  } finally {
    ws.dispose();
  }
}

function describeCase(c: Case): string {
  return `tA=${c.tA} tB=${c.tB} M=${c.M} N=${c.N} K=${c.K} α=${c.alpha} β=${c.beta} ld=${c.lda},${c.ldb},${c.ldc}`;
}

// Checks every element against the oracle and that the padding between C rows is untouched.
function check(got: Float32Array, c: Case, o: { ref: Float64Array; scale: Float64Array }, what: string): void {
  for (let i = 0; i < c.M; i++) {
    for (let j = 0; j < c.ldc && i * c.ldc + j < got.length; j++) {
      const idx = i * c.ldc + j;
      if (j >= c.N) {
        if (got[idx] !== SENTINEL) assert.unreachable(`${what} ${describeCase(c)}: padding C[${i}][${j}] overwritten`);
        continue;
      }
      const tol = (c.K + 4) * U * o.scale[idx] + 1e-30;
      const err = Math.abs(got[idx] - o.ref[idx]);
      if (!(err <= tol)) {
        assert.unreachable(`${what} ${describeCase(c)}: C[${i}][${j}] = ${got[idx]}, expected ${o.ref[idx]} ± ${tol}`);
      }
    }
  }
}

const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17, 31, 33];

test('random shapes, all transposes, α/β variants, padded leading dimensions — both builds', () => {
  const rand = mulberry32(20240611);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  let cases = 0;
  for (let rep = 0; rep < 40; rep++) {
    for (const [tA, tB] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
      const M = pick(SIZES), N = pick(SIZES), K = pick(SIZES);
      const alpha = pick([1, -0.5, 2.5]), beta = pick([0, 1, -1.5]);
      const pad: [number, number, number] = [pick([0, 0, 1, 3]), pick([0, 0, 2, 5]), pick([0, 0, 1, 4])];
      const c = makeCase(rand, tA, tB, M, N, K, alpha, beta, pad);
      const o = oracle(c);
      const gs = runSgemm(simd, c);
      const gc = runSgemm(scalar, c);
      check(gs, c, o, 'simd');
      check(gc, c, o, 'scalar');
      cases++;
    }
  }
  assert.is(cases, 160);
});

test('every edge of the 4×8 tiling (M, N = 1…17) with K = 1 and K = 3', () => {
  const rand = mulberry32(7);
  for (let M = 1; M <= 17; M++) {
    for (let N = 1; N <= 17; N++) {
      for (const K of [1, 3]) {
        const c = makeCase(rand, 0, 0, M, N, K, 1, 0.5, [0, 0, 2]);
        const o = oracle(c);
        check(runSgemm(simd, c), c, o, 'simd');
        check(runSgemm(scalar, c), c, o, 'scalar');
      }
    }
  }
});

test('large products spanning several K blocks (K = 1100), NN and AᵀB; the builds agree', () => {
  const rand = mulberry32(99);
  for (const [tA, tB] of [[0, 0], [1, 0], [0, 1]]) {
    const c = makeCase(rand, tA, tB, 67, 45, 1100, 1, tA ? 0 : 0.25, [1, 0, 3]);
    const o = oracle(c);
    const gs = runSgemm(simd, c);
    const gc = runSgemm(scalar, c);
    check(gs, c, o, 'simd');
    check(gc, c, o, 'scalar');
    let maxDiff = 0, maxTol = 0;
    for (let i = 0; i < c.M; i++) {
      for (let j = 0; j < c.N; j++) {
        const idx = i * c.ldc + j;
        maxDiff = Math.max(maxDiff, Math.abs(gs[idx] - gc[idx]) / (o.scale[idx] * (c.K + 4) * U));
      }
    }
    maxTol = Math.max(maxTol, maxDiff);
    assert.ok(maxTol <= 2, `SIMD and scalar differ by ${maxTol} × the rounding bound`);
  }
});

test('one 256×784 · 784×128 product (the benchmark shape) matches the oracle', () => {
  const rand = mulberry32(3);
  const c = makeCase(rand, 0, 0, 256, 128, 784, 1, 0, [0, 0, 0]);
  check(runSgemm(simd, c), c, oracle(c), 'simd');
});

test('β = 0 never reads C (NaN garbage is overwritten); α = 0 never reads A or B', () => {
  for (const [name, mod] of builds) {
    const rand = mulberry32(5);
    const c = makeCase(rand, 0, 0, 9, 11, 6, 1, 0, [0, 0, 0]);
    const got = runSgemm(mod, c);
    assert.ok(got.every(Number.isFinite), `${name}: NaN in C leaked through β = 0`);
    check(got, c, oracle(c), name);

    const z = makeCase(rand, 1, 1, 5, 6, 7, 0, -2, [0, 0, 1]);
    z.A.fill(NaN);
    z.B.fill(NaN);
    const gz = runSgemm(mod, z);
    for (let i = 0; i < z.M; i++) {
      for (let j = 0; j < z.N; j++) assert.is(gz[i * z.ldc + j], Math.fround(-2 * z.C[i * z.ldc + j]), `${name}: α = 0 gives β·C`);
    }
  }
});

test('bad arguments raise a KernelError naming the problem, not a trap or garbage', () => {
  for (const [, mod] of builds) {
    const ws = new Workspace(mod);
    const A = ws.f32(64), B = ws.f32(64), C = ws.f32(64);
    const work = ws.alloc('f32', mod.exports.sgemmWorkBytes(8, 8, 8) / 4);
    const g = mod.exports.sgemm;
    expectKernelError(() => g(0, 0, 0, 8, 8, 1, A.ptr, 8, B.ptr, 8, 0, C.ptr, 8, work.ptr), /sgemm: M must be ≥ 1; got 0/);
    expectKernelError(() => g(0, 0, 8, -2, 8, 1, A.ptr, 8, B.ptr, 8, 0, C.ptr, 8, work.ptr), /N must be ≥ 1; got -2/);
    expectKernelError(() => g(0, 0, 8, 8, 0, 1, A.ptr, 8, B.ptr, 8, 0, C.ptr, 8, work.ptr), /K must be ≥ 1/);
    expectKernelError(() => g(2, 0, 8, 8, 8, 1, A.ptr, 8, B.ptr, 8, 0, C.ptr, 8, work.ptr), /transA must be 0 .* or 1/);
    expectKernelError(() => g(0, 0, 8, 8, 8, 1, A.ptr, 7, B.ptr, 8, 0, C.ptr, 8, work.ptr), /sgemm: lda must be ≥ the row length of A = 8; got 7/);
    expectKernelError(() => g(0, 1, 4, 8, 6, 1, A.ptr, 6, B.ptr, 5, 0, C.ptr, 8, work.ptr), /sgemm: ldb must be ≥ the row length of B = 6; got 5/);
    expectKernelError(() => g(0, 0, 8, 8, 8, 1, A.ptr, 8, B.ptr, 8, 0, C.ptr, 4, work.ptr), /sgemm: ldc must be ≥ N = 8; got 4/);
    expectKernelError(() => g(0, 0, 8, 8, 8, 1, A.ptr + 2, 8, B.ptr, 8, 0, C.ptr, 8, work.ptr), /sgemm: A must be 4-byte aligned; got pointer \d+/);
    expectKernelError(() => g(0, 0, 8, 8, 8, 1, A.ptr, 8, B.ptr, 8, 0, C.ptr, 8, work.ptr + 4), /sgemm: work \(sgemmWorkBytes\(M, N, K\) bytes, 16-aligned\) must be 16-byte aligned; got pointer \d+/);
    expectKernelError(() => g(0, 0, 8, 8, 8, 1, 0, 8, B.ptr, 8, 0, C.ptr, 8, work.ptr), /sgemm: A must be a buffer from alloc; got the null pointer 0/);
    const end = mod.exports.memoryBytes();
    expectKernelError(() => g(0, 0, 8, 8, 8, 1, A.ptr, 8, end - 128, 8, 0, C.ptr, 8, work.ptr), /sgemm: B must lie inside memory; got pointer \d+ \+ extent 256 bytes > memory size \d+ bytes/);
    expectKernelError(() => g(0, 0, 8, 8, 8, 1, A.ptr, 8, B.ptr, 8, 0, C.ptr, 1 << 30, work.ptr), /sgemm: C must lie inside memory; got pointer \d+ \+ extent 30064771104 bytes > memory size \d+ bytes/);
    expectKernelError(() => g(0, 0, 8, 8, 8, NaN, A.ptr, 8, B.ptr, 8, 0, C.ptr, 8, work.ptr), /sgemm: alpha must be finite; got NaN/);
    expectKernelError(() => g(0, 0, 8, 8, 8, 1, A.ptr, 8, B.ptr, 8, Infinity, C.ptr, 8, work.ptr), /sgemm: beta must be finite; got Infinity/);
    expectKernelError(() => g(0, 0, 8, 8, 8, 1, A.ptr, 8, B.ptr, 8, 0, A.ptr, 8, work.ptr), /sgemm: C and A must not overlap \(pass separate buffers\); got \[\d+, \d+\) and \[\d+, \d+\)/);
    expectKernelError(() => g(0, 0, 8, 8, 8, 1, A.ptr, 8, B.ptr, 8, 0, C.ptr, 8, B.ptr), /sgemm: work and B must not overlap/);
    expectKernelError(() => mod.exports.sgemmWorkBytes(1, 0, 1), /sgemmWorkBytes: N must be ≥ 1; got 0/);
    // The module is still usable after the aborts.
    const c = makeCase(mulberry32(1), 0, 0, 8, 8, 8, 1, 0, [0, 0, 0]);
    check(runSgemm(mod, c), c, oracle(c), 'after errors');
    ws.dispose();
  }
});

test('memory does not grow over 10⁴ calls', () => {
  for (const [name, mod] of builds) {
    const ws = new Workspace(mod);
    const M = 13, N = 10, K = 21;
    const A = ws.f32(M * K), B = ws.f32(K * N), C = ws.f32(M * N);
    const work = ws.alloc('f32', mod.exports.sgemmWorkBytes(M, N, K) / 4);
    A.view().fill(0.5);
    B.view().fill(0.25);
    const before = mod.memory.buffer.byteLength;
    for (let r = 0; r < 10_000; r++) {
      mod.exports.sgemm(r & 1, 0, M, N, K, 1, A.ptr, r & 1 ? M : K, B.ptr, N, 0.5, C.ptr, N, work.ptr);
      mod.exports.sgemmWorkBytes(M, N, K);
    }
    assert.is(mod.memory.buffer.byteLength, before, `${name}: memory grew`);
    assert.ok(C.view().every(Number.isFinite));
    ws.dispose();
  }
});

test.run();
