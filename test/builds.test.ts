// The f64 kernels give the same bits in the SIMD and the scalar build: every reduction runs in the
// lane order of gram.ts (even positions + odd positions, then the odd tail), which the scalar
// build reproduces. Odd k, m, C and B, and m past one Gram tile (128 columns) so that tiles of odd
// length occur; each result is also checked against its f64 oracle, so equal garbage cannot pass.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type EnkfModule } from '../bindings/index.js';
import { builds } from './helpers.js';
import {
  ceSystemRef, choleskyRef, gaussArray, lsLossRef, lsSystemRef, maxAbs, maxAbsDiff, mulberry32, projectRowsRef,
  randomSpd,
} from './oracles.js';

const [simd, scalar] = await builds();

// Runs fn on a fresh workspace of each build; returns both results.
function both<T>(fn: (ws: Workspace, mod: EnkfModule) => T): [T, T] {
  return [simd, scalar].map((mod) => {
    const ws = new Workspace(mod);
    try {
      return fn(ws, mod);
    } finally {
      ws.dispose();
    }
  }) as [T, T];
}

// Bit equality of two f64 arrays (NaN payloads included), with the first differing index.
function sameBits(a: Float64Array, b: Float64Array, what: string): void {
  assert.is(a.length, b.length, `${what}: lengths`);
  const x = new BigUint64Array(a.buffer, a.byteOffset, a.length);
  const y = new BigUint64Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) assert.unreachable(`${what}: simd ${a[i]} ≠ scalar ${b[i]} at ${i}`);
  }
}

// Close to the oracle, relative to its size (the oracle sums in another order).
function near(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  const tol = 1e-12 * Math.max(1, maxAbs(want));
  assert.ok(maxAbsDiff(got, want) <= tol, `${what}: off the oracle by ${maxAbsDiff(got, want)}`);
}

const SHAPES: [number, number][] = [[1, 1], [3, 3], [5, 129], [7, 301], [13, 257], [4, 255]];

test('lsSystem: SIMD and scalar builds give the same bits (weighted and scalar W)', () => {
  const rand = mulberry32(71);
  for (const [k, m] of SHAPES) {
    for (const weighted of [false, true]) {
      const F = gaussArray(rand, k * m), c = gaussArray(rand, m), y = gaussArray(rand, m);
      const w = Float64Array.from(gaussArray(rand, m), (v) => 0.5 + v * v);
      const wScalar = 0.7;
      const [a, b] = both((ws) => {
        const A = ws.f64(k * k), r = ws.f64(k);
        const loss = ws.raw.lsSystem(k, m, wScalar, ws.from('f64', F).ptr, ws.from('f64', c).ptr,
          weighted ? ws.from('f64', w).ptr : 0, ws.from('f64', y).ptr, A.ptr, r.ptr);
        return { A: A.copy(), r: r.copy(), loss: Float64Array.of(loss) };
      });
      const what = `lsSystem k=${k} m=${m} ${weighted ? 'w' : 'wScalar'}`;
      sameBits(a.A, b.A, `${what} A`);
      sameBits(a.r, b.r, `${what} r`);
      sameBits(a.loss, b.loss, `${what} loss`);
      const ref = lsSystemRef(k, m, wScalar, F, c, y, weighted ? w : undefined);
      near(a.A, ref.A, `${what} A`);
      near(a.r, ref.r, `${what} r`);
    }
  }
});

test('ceSystem: SIMD and scalar builds give the same bits (odd C and B)', () => {
  const rand = mulberry32(72);
  for (const [k, B, C] of [[1, 1, 2], [3, 7, 3], [5, 50, 5], [7, 13, 10], [6, 31, 1]]) {
    const m = B * C;
    const F = gaussArray(rand, k * m), c = gaussArray(rand, m);
    const labels = Int32Array.from({ length: B }, () => Math.floor(rand() * C));
    const [a, b] = both((ws) => {
      const A = ws.f64(k * k), r = ws.f64(k);
      const loss = ws.raw.ceSystem(k, B, C, ws.from('f64', F).ptr, ws.from('f64', c).ptr, ws.from('i32', labels).ptr,
        A.ptr, r.ptr);
      return { A: A.copy(), r: r.copy(), loss: Float64Array.of(loss) };
    });
    const what = `ceSystem k=${k} B=${B} C=${C}`;
    sameBits(a.A, b.A, `${what} A`);
    sameBits(a.r, b.r, `${what} r`);
    sameBits(a.loss, b.loss, `${what} loss`);
    const ref = ceSystemRef(k, B, C, F, c, labels);
    near(a.A, ref.A, `${what} A`);
    near(a.r, ref.r, `${what} r`);
  }
});

test('projectRows and lsLoss: SIMD and scalar builds give the same bits', () => {
  const rand = mulberry32(73);
  for (const [k, m] of SHAPES) {
    for (const p of [1, 3, 5]) {
      const weighted = p !== 3;
      const F = gaussArray(rand, k * m), c = gaussArray(rand, m), V = gaussArray(rand, p * m);
      const w = Float64Array.from(gaussArray(rand, m), (v) => 0.5 + v * v);
      const [a, b] = both((ws) => {
        const R = ws.f64(k * p), L = ws.f64(k);
        const Fp = ws.from('f64', F).ptr, wp = weighted ? ws.from('f64', w).ptr : 0;
        ws.raw.projectRows(k, m, p, 1.3, Fp, ws.from('f64', c).ptr, wp, ws.from('f64', V).ptr, R.ptr);
        ws.raw.lsLoss(k, m, 1.3, Fp, wp, ws.from('f64', c).ptr, L.ptr);
        return { R: R.copy(), L: L.copy() };
      });
      const what = `k=${k} m=${m} p=${p}`;
      sameBits(a.R, b.R, `projectRows ${what}`);
      sameBits(a.L, b.L, `lsLoss ${what}`);
      near(a.R, projectRowsRef(k, m, p, 1.3, F, c, V, weighted ? w : undefined), `projectRows ${what}`);
      near(a.L, lsLossRef(k, m, 1.3, F, c, weighted ? w : undefined), `lsLoss ${what}`);
    }
  }
});

test('cholesky + cholSolve: SIMD and scalar builds give the same bits (odd n)', () => {
  const rand = mulberry32(74);
  for (const n of [1, 2, 5, 9, 17]) {
    const A = randomSpd(rand, n);
    const rhs = gaussArray(rand, n * 3);
    const [a, b] = both((ws) => {
      const L = ws.f64(n * n), X = ws.from('f64', rhs);
      assert.is(ws.raw.cholesky(n, 0.01, ws.from('f64', A).ptr, L.ptr), 0);
      ws.raw.cholSolve(n, 3, L.ptr, X.ptr);
      return { L: L.copy(), X: X.copy() };
    });
    sameBits(a.L, b.L, `cholesky n=${n}`);
    sameBits(a.X, b.X, `cholSolve n=${n}`);
    near(a.L, choleskyRef(n, A, 0.01)!, `cholesky n=${n}`);
  }
});

test('combineRows, meanRows, ekiUpdate, ceLoss, ceGrad: SIMD and scalar builds give the same bits', () => {
  const rand = mulberry32(75);
  for (const [k, m] of SHAPES) {
    const F = gaussArray(rand, k * m), c = gaussArray(rand, m), z = gaussArray(rand, k), Z = gaussArray(rand, k * k);
    const C = m % 2 === 0 ? 2 : 1, B = m / C;
    const labels = Int32Array.from({ length: B }, () => Math.floor(rand() * C));
    const [a, b] = both((ws) => {
      const Fp = ws.from('f64', F).ptr;
      const out = ws.f64(m), mean = ws.f64(m), Theta = ws.from('f64', F), loss = ws.f64(k), G = ws.f64(k * m);
      const peak = ws.raw.combineRows(k, m, Fp, ws.from('f64', c).ptr, ws.from('f64', z).ptr, out.ptr);
      ws.raw.meanRows(k, m, Fp, mean.ptr);
      ws.raw.ekiUpdate(k, m, Theta.ptr, ws.from('f64', Z).ptr, ws.f64(m + k * 256).ptr);
      ws.raw.ceLoss(k, B, C, Fp, ws.from('i32', labels).ptr, loss.ptr, 0);
      ws.raw.ceGrad(k, B, C, Fp, ws.from('i32', labels).ptr, G.ptr);
      return { out: out.copy(), peak: Float64Array.of(peak), mean: mean.copy(), Theta: Theta.copy(), loss: loss.copy(), G: G.copy() };
    });
    for (const key of Object.keys(a) as (keyof typeof a)[]) sameBits(a[key], b[key], `${key} k=${k} m=${m}`);
  }
});

// The f32 forward kernels: the same bits unless the SIMD build takes its dot tile, which sums over k
// in four lanes (op(A) rows contiguous in k and N mod 8 ∈ {1, 2}); here no width is 1 or 2 mod 8.
test('sgemm and mlpForward: SIMD and scalar builds give the same bits when N mod 8 ∉ {1, 2}', () => {
  const rand = mulberry32(76);
  const f32 = (n: number) => Float32Array.from(gaussArray(rand, n));
  for (const [tA, tB, M, N, K] of [[0, 0, 9, 16, 37], [1, 0, 5, 12, 33], [0, 1, 7, 4, 600], [1, 1, 3, 5, 70], [0, 0, 6, 3, 17]]) {
    const A = f32(M * K), Bm = f32(K * N);
    const [a, b] = both((ws) => {
      const Cm = ws.f32(M * N);
      const work = ws.alloc('f32', ws.raw.sgemmWorkBytes(M, N, K) / 4);
      ws.raw.sgemm(tA, tB, M, N, K, 1, ws.from('f32', A).ptr, tA ? M : K, ws.from('f32', Bm).ptr, tB ? K : N, 0, Cm.ptr, N, work.ptr);
      return Float64Array.from(Cm.copy());
    });
    sameBits(a, b, `sgemm ${tA}${tB} ${M}×${N}×${K}`);
  }
  for (const act of [0, 1, 2, 3]) {
    for (const dims of [[7, 16, 12], [5, 11, 3], [9, 4, 20, 6]]) {
      const L = dims.length - 1, rows = 6;
      let n = 0;
      for (let l = 0; l < L; l++) n += dims[l] * dims[l + 1] + dims[l + 1];
      const X = f32(rows * dims[0]).map((v) => 3 * v), P = f32(n).map((v) => 0.5 * v);
      const [a, b] = both((ws) => {
        const D = ws.from('i32', dims), out = ws.f32(rows * dims[L]), net = ws.i32(ws.raw.mlpNetworkBytes() / 4);
        const work = ws.alloc('f32', ws.raw.mlpWorkBytes(rows, L, D.ptr) / 4);
        ws.raw.mlpNetwork(net.ptr, L, act, act, rows, D.ptr, ws.from('f32', X).ptr, ws.from('f32', P).ptr, n, out.ptr,
          ws.f32(rows * 20).ptr, ws.f32(rows * 20).ptr, work.ptr);
        ws.raw.mlpForward(net.ptr, 1);
        return Float64Array.from(out.copy());
      });
      sameBits(a, b, `mlpForward act ${act} ${dims.join('-')}`);
    }
  }
});

test.run();
