// Ensemble-space kernels against the plain-TS oracles of test/oracles.ts (explicit ΔF, explicit
// W and cross-entropy Hessian), on seeded random shapes, in both builds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace } from '../bindings/index.js';
import {
  mulberry32, randInt, uniformArray, gaussArray, maxAbs, maxAbsDiff, matmul,
  meanRowsRef, lsSystemRef, ceSystemRef, ceHessianRef, ceLossGradRef, differences, projectRowsRef,
  combineRowsRef, lsLossRef, ceLossRef, ekiUpdateRef,
} from './oracles.js';
import { builds, expectKernelError, label } from './helpers.js';

// Sums of m products in f64 in a different order than the oracle: |error| ≲ m·u·Σ|terms|.
function close(got: ArrayLike<number>, want: ArrayLike<number>, scale: number, what: string, rel = 1e-12): void {
  const err = maxAbsDiff(got, want);
  assert.ok(err <= rel * Math.max(scale, 1e-300), `${what}: max error ${err} > ${rel}·${scale}`);
}

// Shapes (k, m): ones, odd sizes, non-multiples of 2/4/8 around the tile edges, and a large case.
function shapes(rand: () => number): Array<[number, number]> {
  const s: Array<[number, number]> = [[1, 1], [1, 7], [2, 1], [3, 5], [4, 8], [5, 127], [7, 128], [8, 129],
    [9, 257], [13, 300], [16, 64], [32, 5120]];
  for (let i = 0; i < 6; i++) s.push([randInt(rand, 1, 20), randInt(rand, 1, 400)]);
  return s;
}

// A k×m ensemble around a centre: F_i = c + σ·noise, the regime of NLB (differences ≪ values).
function ensemble(rand: () => number, k: number, m: number, sigma = 1e-2): { F: Float64Array; c: Float64Array } {
  const c = uniformArray(rand, m, -3, 3);
  const noise = gaussArray(rand, k * m);
  const F = Float64Array.from(noise, (v, i) => c[i % m] + sigma * v);
  return { F, c };
}

test('meanRows matches the oracle', async () => {
  const rand = mulberry32(201);
  for (const mod of await builds()) {
    for (const [k, m] of shapes(rand)) {
      const ws = new Workspace(mod);
      const F = uniformArray(rand, k * m, -5, 5);
      const out = ws.f64(m);
      mod.exports.meanRows(k, m, ws.from('f64', F).ptr, out.ptr);
      close(out.copy(), meanRowsRef(k, m, F), 5, `${label(mod)} k=${k} m=${m}`, 1e-14);
      ws.dispose();
    }
  }
});

test('lsSystem: A = ΔFᵀWΔF, r = ΔFᵀW(y − c) and the loss, scalar and diagonal W', async () => {
  const rand = mulberry32(202);
  for (const mod of await builds()) {
    for (const [k, m] of shapes(rand)) {
      for (const diag of [false, true]) {
        const ws = new Workspace(mod);
        const { F, c } = ensemble(rand, k, m);
        const y = uniformArray(rand, m, -3, 3);
        const w = diag ? uniformArray(rand, m, 0.1, 2) : undefined;
        const wScalar = diag ? 99 : 0.7; // ignored when w is given
        const A = ws.f64(k * k).set(new Float64Array(k * k).fill(NaN)); // stale contents must not leak
        const r = ws.f64(k).set(new Float64Array(k).fill(NaN));
        const loss = mod.exports.lsSystem(k, m, wScalar, ws.from('f64', F).ptr, ws.from('f64', c).ptr,
          w ? ws.from('f64', w).ptr : 0, ws.from('f64', y).ptr, A.ptr, r.ptr);
        const ref = lsSystemRef(k, m, wScalar, F, c, y, w);
        const what = `${label(mod)} k=${k} m=${m} ${diag ? 'diag' : 'scalar'} W`;
        close(A.copy(), ref.A, maxAbs(ref.A), `${what} A`, 1e-11);
        close(r.copy(), ref.r, maxAbs(ref.r) + 1e-3 * m, `${what} r`, 1e-11);
        assert.ok(Math.abs(loss - ref.loss) <= 1e-12 * ref.loss, `${what} loss ${loss} vs ${ref.loss}`);
        const Av = A.copy();
        for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) assert.is(Av[a * k + b], Av[b * k + a], 'exactly symmetric');
        ws.dispose();
      }
    }
  }
});

test('ceSystem equals ΔFᵀHΔF with H formed explicitly (m×m), r = −ΔFᵀg, loss at c', async () => {
  const rand = mulberry32(203);
  for (const mod of await builds()) {
    for (const [k, B, C] of [[1, 1, 2], [1, 3, 1], [2, 4, 3], [3, 5, 10], [5, 7, 4], [8, 3, 7], [9, 11, 10], [4, 40, 3]]) {
      const ws = new Workspace(mod);
      const m = B * C;
      const { F, c } = ensemble(rand, k, m, 0.1);
      const labels = Int32Array.from({ length: B }, () => randInt(rand, 0, C - 1));
      // The oracle of this test builds the whole m×m H and multiplies densely.
      const H = ceHessianRef(B, C, c);
      const D = differences(k, m, F, c);
      const HD = matmul(m, m, k, H, transposeRows(k, m, D));
      const Aref = matmul(k, m, k, D, HD);
      const { loss: lossRef, g } = ceLossGradRef(B, C, c, labels);
      const rref = matmul(k, m, 1, D, g).map((v) => -v);
      const A = ws.f64(k * k);
      const r = ws.f64(k);
      const loss = mod.exports.ceSystem(k, B, C, ws.from('f64', F).ptr, ws.from('f64', c).ptr,
        ws.from('i32', labels).ptr, A.ptr, r.ptr);
      const what = `${label(mod)} k=${k} B=${B} C=${C}`;
      close(A.copy(), Aref, maxAbs(Aref) + 1e-300, `${what} A`, 1e-10);
      close(r.copy(), rref, maxAbs(rref), `${what} r`, 1e-10);
      assert.ok(Math.abs(loss - lossRef) <= 1e-13 * Math.max(1, lossRef), `${what} loss ${loss} vs ${lossRef}`);
      ws.dispose();
    }
  }
});

function transposeRows(k: number, m: number, D: Float64Array): Float64Array {
  const T = new Float64Array(k * m);
  for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) T[j * k + i] = D[i * m + j];
  return T;
}

test('ceSystem on MNIST-like shapes (k = 32, B = 512, C = 10) and with extreme logits', async () => {
  const rand = mulberry32(204);
  for (const mod of await builds()) {
    for (const [k, B, C, offset] of [[32, 512, 10, 0], [6, 9, 5, 800], [17, 33, 10, 0]]) {
      const ws = new Workspace(mod);
      const m = B * C;
      const { F, c } = ensemble(rand, k, m, 0.05);
      // Logits near ±offset: exp(800) overflows unless softmax is shifted by the sample's max.
      for (let j = 0; j < m; j++) {
        const shift = (Math.floor(j / C) % 2 ? -1 : 1) * offset;
        c[j] += shift;
        for (let i = 0; i < k; i++) F[i * m + j] += shift;
      }
      const labels = Int32Array.from({ length: B }, () => randInt(rand, 0, C - 1));
      const ref = ceSystemRef(k, B, C, F, c, labels);
      const A = ws.f64(k * k);
      const r = ws.f64(k);
      const loss = mod.exports.ceSystem(k, B, C, ws.from('f64', F).ptr, ws.from('f64', c).ptr,
        ws.from('i32', labels).ptr, A.ptr, r.ptr);
      const what = `${label(mod)} k=${k} B=${B} C=${C} offset=${offset}`;
      assert.ok(Number.isFinite(loss) && A.copy().every(Number.isFinite), `${what}: finite`);
      close(A.copy(), ref.A, maxAbs(ref.A), `${what} A`, 1e-10);
      close(r.copy(), ref.r, maxAbs(ref.r), `${what} r`, 1e-10);
      assert.ok(Math.abs(loss - ref.loss) <= 1e-12 * Math.max(1, ref.loss), `${what} loss ${loss} vs ${ref.loss}`);
      ws.dispose();
    }
  }
});

test('large k: the tile narrows to fit the scratch (lsSystem, projectRows, ceSystem)', async () => {
  const rand = mulberry32(212);
  for (const mod of await builds()) {
    const ws = new Workspace(mod);
    const k = 1500, m = 37;
    const { F, c } = ensemble(rand, k, m);
    const y = uniformArray(rand, m, -3, 3);
    const f = ws.from('f64', F), cb = ws.from('f64', c);
    const A = ws.f64(k * k), r = ws.f64(k);
    const loss = mod.exports.lsSystem(k, m, 2, f.ptr, cb.ptr, 0, ws.from('f64', y).ptr, A.ptr, r.ptr);
    const ref = lsSystemRef(k, m, 2, F, c, y);
    close(A.copy(), ref.A, maxAbs(ref.A), `${label(mod)} lsSystem k=${k} A`, 1e-11);
    close(r.copy(), ref.r, maxAbs(ref.r), `${label(mod)} lsSystem k=${k} r`, 1e-11);
    assert.ok(Math.abs(loss - ref.loss) <= 1e-12 * ref.loss);
    const V = uniformArray(rand, 3 * m);
    const R = ws.f64(k * 3);
    mod.exports.projectRows(k, m, 3, 2, f.ptr, cb.ptr, 0, ws.from('f64', V).ptr, R.ptr);
    const Rref = projectRowsRef(k, m, 3, 2, F, c, V);
    close(R.copy(), Rref, maxAbs(Rref), `${label(mod)} projectRows k=${k}`, 1e-11);
    // ceSystem with 1401·C·8 B per sample: two samples per tile.
    const kc = 700, B = 5, C = 10;
    const e = ensemble(rand, kc, B * C, 0.1);
    const labels = Int32Array.from({ length: B }, () => randInt(rand, 0, C - 1));
    const Ac = ws.f64(kc * kc), rc = ws.f64(kc);
    mod.exports.ceSystem(kc, B, C, ws.from('f64', e.F).ptr, ws.from('f64', e.c).ptr, ws.from('i32', labels).ptr, Ac.ptr, rc.ptr);
    const cref = ceSystemRef(kc, B, C, e.F, e.c, labels);
    close(Ac.copy(), cref.A, maxAbs(cref.A), `${label(mod)} ceSystem k=${kc} A`, 1e-10);
    close(rc.copy(), cref.r, maxAbs(cref.r), `${label(mod)} ceSystem k=${kc} r`, 1e-10);
    ws.dispose();
  }
});

test('projectRows: R = ΔFᵀWVᵀ', async () => {
  const rand = mulberry32(205);
  for (const mod of await builds()) {
    for (const [k, m] of shapes(rand).slice(0, 14)) {
      for (const diag of [false, true]) {
        const p = randInt(rand, 1, 9);
        const ws = new Workspace(mod);
        const { F, c } = ensemble(rand, k, m);
        const V = uniformArray(rand, p * m);
        const w = diag ? uniformArray(rand, m, 0.1, 2) : undefined;
        const R = ws.f64(k * p);
        mod.exports.projectRows(k, m, p, 1.5, ws.from('f64', F).ptr, ws.from('f64', c).ptr,
          w ? ws.from('f64', w).ptr : 0, ws.from('f64', V).ptr, R.ptr);
        const ref = projectRowsRef(k, m, p, 1.5, F, c, V, w);
        close(R.copy(), ref, 2e-2 * Math.sqrt(m) * 3, `${label(mod)} k=${k} m=${m} p=${p}`, 1e-11);
        ws.dispose();
      }
    }
  }
});

test('combineRows: Σ z_i ΔF_i and its max |·|', async () => {
  const rand = mulberry32(206);
  for (const mod of await builds()) {
    for (const [k, m] of shapes(rand)) {
      const ws = new Workspace(mod);
      const { F, c } = ensemble(rand, k, m);
      const z = gaussArray(rand, k);
      const out = ws.f64(m);
      const mx = mod.exports.combineRows(k, m, ws.from('f64', F).ptr, ws.from('f64', c).ptr, ws.from('f64', z).ptr, out.ptr);
      const ref = combineRowsRef(k, m, F, c, z);
      close(out.copy(), ref.out, ref.max, `${label(mod)} k=${k} m=${m}`, 1e-12);
      assert.ok(Math.abs(mx - ref.max) <= 1e-12 * ref.max, `max ${mx} vs ${ref.max}`);
      assert.is(mx, maxAbs(out.copy()), 'the returned max is the max of what was written');
      ws.dispose();
    }
  }
});

test('lsLoss per member, scalar and diagonal W', async () => {
  const rand = mulberry32(207);
  for (const mod of await builds()) {
    for (const [k, m] of shapes(rand)) {
      for (const diag of [false, true]) {
        const ws = new Workspace(mod);
        const F = uniformArray(rand, k * m, -2, 2);
        const y = uniformArray(rand, m, -2, 2);
        const w = diag ? uniformArray(rand, m, 0, 3) : undefined;
        const out = ws.f64(k);
        mod.exports.lsLoss(k, m, 0.25, ws.from('f64', F).ptr, w ? ws.from('f64', w).ptr : 0, ws.from('f64', y).ptr, out.ptr);
        const ref = lsLossRef(k, m, 0.25, F, y, w);
        close(out.copy(), ref, maxAbs(ref), `${label(mod)} k=${k} m=${m}`, 1e-13);
        ws.dispose();
      }
    }
  }
});

test('ceLoss (mean loss, #correct, correct pointer optional) and ceGrad', async () => {
  const rand = mulberry32(208);
  for (const mod of await builds()) {
    for (const [k, B, C] of [[1, 1, 1], [1, 1, 3], [3, 7, 10], [2, 64, 2], [5, 33, 9], [32, 100, 10]]) {
      const ws = new Workspace(mod);
      const F = uniformArray(rand, k * B * C, -4, 4);
      if (C > 1) F[1] = F[0]; // a tie: the first maximum wins
      const labels = Int32Array.from({ length: B }, () => randInt(rand, 0, C - 1));
      const out = ws.f64(k);
      const correct = ws.i32(k);
      const f = ws.from('f64', F);
      const l = ws.from('i32', labels);
      mod.exports.ceLoss(k, B, C, f.ptr, l.ptr, out.ptr, correct.ptr);
      const ref = ceLossRef(k, B, C, F, labels);
      const what = `${label(mod)} k=${k} B=${B} C=${C}`;
      close(out.copy(), ref.loss, maxAbs(ref.loss) + 1, `${what} loss`, 1e-13);
      assert.equal(Array.from(correct.copy()), Array.from(ref.correct), `${what} correct`);
      const out2 = ws.f64(k);
      mod.exports.ceLoss(k, B, C, f.ptr, l.ptr, out2.ptr, 0);
      assert.equal(Array.from(out2.copy()), Array.from(out.copy()), 'correct = 0 gives the same losses');
      const G = ws.f64(k * B * C);
      mod.exports.ceGrad(k, B, C, f.ptr, l.ptr, G.ptr);
      for (let i = 0; i < k; i++) {
        const { g } = ceLossGradRef(B, C, F.subarray(i * B * C, (i + 1) * B * C), labels);
        close(G.copy(i * B * C, (i + 1) * B * C), g, 1 / B, `${what} grad member ${i}`, 1e-14);
      }
      ws.dispose();
    }
  }
});

test('ekiUpdate: Θ_j += Σ_l Z_lj (Θ_l − θ̄), all from the old Θ', async () => {
  const rand = mulberry32(209);
  for (const mod of await builds()) {
    // J = 5, 7, 10: four-row blocks plus single rows; n = 257, 777, 1030: partial column groups.
    for (const [J, n] of [[1, 1], [2, 3], [3, 255], [5, 256], [7, 257], [10, 1000], [16, 777], [32, 1030]]) {
      const ws = new Workspace(mod);
      const Theta = uniformArray(rand, J * n, -1, 1);
      const Z = uniformArray(rand, J * J, -0.5, 0.5);
      const th = ws.from('f64', Theta);
      mod.exports.ekiUpdate(J, n, th.ptr, ws.from('f64', Z).ptr, ws.f64(n + J * 256).ptr);
      const ref = ekiUpdateRef(J, n, Theta, Z);
      close(th.copy(), ref, maxAbs(ref), `${label(mod)} J=${J} n=${n}`, 1e-13);
      ws.dispose();
    }
  }
});

test('ekiUpdate: SIMD and scalar builds give the same bits (each sum runs over l in order, whatever the blocking)', async () => {
  const rand = mulberry32(213);
  const [simd, scalar] = await builds();
  for (const [J, n] of [[6, 259], [32, 1030]]) {
    const Theta = uniformArray(rand, J * n, -1, 1);
    const Z = uniformArray(rand, J * J, -0.5, 0.5);
    const [a, b] = [simd, scalar].map((mod) => {
      const ws = new Workspace(mod);
      const th = ws.from('f64', Theta);
      mod.exports.ekiUpdate(J, n, th.ptr, ws.from('f64', Z).ptr, ws.f64(n + J * 256).ptr);
      const v = th.copy();
      ws.dispose();
      return v;
    });
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.unreachable(`J=${J} n=${n} element ${i}: ${a[i]} vs ${b[i]}`);
  }
});

test('widen is exact; narrow rounds to nearest like Math.fround', async () => {
  const rand = mulberry32(210);
  for (const mod of await builds()) {
    for (const n of [1, 2, 3, 8, 9, 1001]) {
      const ws = new Workspace(mod);
      const src = Float64Array.from(gaussArray(rand, n), (v, i) => v * 10 ** ((i % 9) - 4));
      const s32 = Float32Array.from(src);
      const a = ws.from('f32', s32);
      const d = ws.f64(n);
      mod.exports.widen(n, a.ptr, d.ptr);
      assert.equal(Array.from(d.copy()), Array.from(s32, (v) => v), `${label(mod)} widen n=${n}`);
      const b = ws.f32(n);
      mod.exports.narrow(n, ws.from('f64', src).ptr, b.ptr);
      assert.equal(Array.from(b.copy()), Array.from(src, Math.fround), `${label(mod)} narrow n=${n}`);
      ws.dispose();
    }
  }
});

test('SIMD and scalar builds agree to rounding on the MNIST-sized systems', async () => {
  const rand = mulberry32(213);
  const k = 32, B = 512, C = 10, m = B * C;
  const { F, c } = ensemble(rand, k, m, 0.05);
  const y = uniformArray(rand, m, -3, 3);
  const w = uniformArray(rand, m, 0.5, 2);
  const labels = Int32Array.from({ length: B }, () => randInt(rand, 0, C - 1));
  const z = gaussArray(rand, k);
  const results = (await builds()).map((mod) => {
    const ws = new Workspace(mod);
    const f = ws.from('f64', F), cb = ws.from('f64', c);
    const A1 = ws.f64(k * k), r1 = ws.f64(k), A2 = ws.f64(k * k), r2 = ws.f64(k), out = ws.f64(m);
    const l1 = mod.exports.lsSystem(k, m, 0, f.ptr, cb.ptr, ws.from('f64', w).ptr, ws.from('f64', y).ptr, A1.ptr, r1.ptr);
    const l2 = mod.exports.ceSystem(k, B, C, f.ptr, cb.ptr, ws.from('i32', labels).ptr, A2.ptr, r2.ptr);
    const mx = mod.exports.combineRows(k, m, f.ptr, cb.ptr, ws.from('f64', z).ptr, out.ptr);
    const res = { A1: A1.copy(), r1: r1.copy(), A2: A2.copy(), r2: r2.copy(), out: out.copy(), l1, l2, mx };
    ws.dispose();
    return res;
  });
  const [a, b] = results;
  close(a.A1, b.A1, maxAbs(a.A1), 'lsSystem A', 1e-12);
  close(a.r1, b.r1, maxAbs(a.r1), 'lsSystem r', 1e-12);
  close(a.A2, b.A2, maxAbs(a.A2), 'ceSystem A', 1e-12);
  close(a.r2, b.r2, maxAbs(a.r2), 'ceSystem r', 1e-12);
  close(a.out, b.out, a.mx, 'combineRows', 1e-13);
  close([a.l1, a.l2, a.mx], [b.l1, b.l2, b.mx], Math.max(a.l1, a.l2, a.mx), 'losses and max', 1e-13);
});

test('bad arguments: sizes, out-of-bounds or misaligned buffers, labels, weights → KernelError', async () => {
  for (const mod of await builds()) {
    const ws = new Workspace(mod);
    const x = mod.exports;
    const big = ws.f64(4096);
    const p = big.ptr;
    const end = x.memoryBytes();
    const labels = ws.from('i32', [0, 1, 2]);
    expectKernelError(() => x.meanRows(0, 4, p, p), /meanRows: k must be ≥ 1; got 0/);
    expectKernelError(() => x.meanRows(2, -1, p, p), /meanRows: m must be ≥ 1; got -1/);
    expectKernelError(() => x.meanRows(2, 4, end - 32, p), /meanRows: F must lie inside memory; got pointer \d+ \+ extent \d+ bytes > memory size \d+ bytes/);
    expectKernelError(() => x.lsSystem(2, 4, 1, p, p, 0, p, p + 4, p), /lsSystem: A must be 8-byte aligned; got pointer \d+/);
    expectKernelError(() => x.lsSystem(2, 4, NaN, p, p, 0, p, p, p), /lsSystem: wScalar must be finite and ≥ 0 when w = 0; got NaN/);
    expectKernelError(() => x.lsSystem(2, 4, -1, p, p, 0, p, p, p), /lsSystem: wScalar must be finite and ≥ 0 when w = 0; got -1/);
    expectKernelError(() => x.lsSystem(70000, 4, 1, p, p, 0, p, p, p), /lsSystem: k must be ≤ 16384 \(Gram tile scratch; split the ensemble\); got 70000/);
    expectKernelError(() => x.lsSystem(2, 1 << 30, 1, p, p, 0, p, p, p), /lsSystem: F must lie inside memory; got pointer \d+ \+ extent 17179869184 bytes > memory size/); // 2·2³⁰·8 B: no u32 wrap
    labels.set([0, 3, 1]);
    expectKernelError(() => x.ceSystem(2, 3, 3, p, p, labels.ptr, p + 8 * 100, p + 8 * 200), /ceSystem: labels\[1\] must be a class id in \[0, C = 3\); got 3/);
    labels.set([-1, 0, 1]);
    expectKernelError(() => x.ceLoss(2, 3, 3, p, labels.ptr, p, 0), /ceLoss: labels\[0\] must be a class id in \[0, C = 3\); got -1/);
    expectKernelError(() => x.ceGrad(2, 3, 3, p, labels.ptr, p + 8 * 100), /ceGrad: labels\[0\] must be a class id in \[0, C = 3\); got -1/);
    expectKernelError(() => x.ceLoss(2, 3, 3, p, labels.ptr + 2, p, 0), /ceLoss: labels must be 4-byte aligned; got pointer \d+/);
    expectKernelError(() => x.ceSystem(0, 3, 3, p, p, labels.ptr, p, p), /ceSystem: k must be ≥ 1; got 0/);
    expectKernelError(() => x.projectRows(2, 4, 0, 1, p, p, 0, p, p), /projectRows: p must be ≥ 1; got 0/);
    expectKernelError(() => x.combineRows(2, 4, p, p, end - 8, p), /combineRows: z must lie inside memory; got pointer \d+ \+ extent \d+ bytes > memory size \d+ bytes/);
    expectKernelError(() => x.lsLoss(2, 4, Infinity, p, 0, p, p), /lsLoss: wScalar must be finite and ≥ 0 when w = 0; got Infinity/);
    expectKernelError(() => x.ekiUpdate(4, 100, p, p, end - 8 * 1000), /ekiUpdate: work must lie inside memory; got pointer \d+ \+ extent \d+ bytes > memory size \d+ bytes/);
    expectKernelError(() => x.widen(0, p, p), /widen: n must be ≥ 1; got 0/);
    expectKernelError(() => x.narrow(3, p + 4, p), /narrow: src must be 8-byte aligned; got pointer \d+/);
    ws.dispose();
  }
});

test('ceSystem: (k + 1)·C beyond its scratch aborts with the limit', async () => {
  for (const mod of await builds()) {
    const ws = new Workspace(mod);
    const k = 4000;
    const C = 10;
    const F = ws.f64(k * C);
    const c = ws.f64(C);
    const A = ws.f64(k * k);
    const r = ws.f64(k);
    expectKernelError(() => mod.exports.ceSystem(k, 1, C, F.ptr, c.ptr, ws.from('i32', [0]).ptr, A.ptr, r.ptr),
      /\(2k \+ 1\)·C must be ≤ 32768/);
    ws.dispose();
  }
});

test('memory does not grow over 10⁴ calls of every kernel', async () => {
  const rand = mulberry32(211);
  for (const mod of await builds()) {
    const ws = new Workspace(mod);
    const k = 5, B = 6, C = 3, m = B * C;
    const { F, c } = ensemble(rand, k, m);
    const f = ws.from('f64', F), cb = ws.from('f64', c), y = ws.from('f64', uniformArray(rand, m));
    const A = ws.f64(k * k), r = ws.f64(k), out = ws.f64(m), z = ws.from('f64', gaussArray(rand, k));
    const l = ws.from('i32', [0, 1, 2, 0, 1, 2]), corr = ws.i32(k), G = ws.f64(k * m), work = ws.f64(m + k * 256);
    const f32 = ws.f32(m);
    const x = mod.exports;
    const before = x.memoryBytes();
    for (let i = 0; i < 10_000; i++) {
      x.meanRows(k, m, f.ptr, out.ptr);
      x.lsSystem(k, m, 1, f.ptr, cb.ptr, 0, y.ptr, A.ptr, r.ptr);
      x.ceSystem(k, B, C, f.ptr, cb.ptr, l.ptr, A.ptr, r.ptr);
      x.projectRows(k, m, 1, 1, f.ptr, cb.ptr, 0, y.ptr, r.ptr);
      x.combineRows(k, m, f.ptr, cb.ptr, z.ptr, out.ptr);
      x.lsLoss(k, m, 1, f.ptr, 0, y.ptr, r.ptr);
      x.ceLoss(k, B, C, f.ptr, l.ptr, r.ptr, corr.ptr);
      x.ceGrad(k, B, C, f.ptr, l.ptr, G.ptr);
      x.ekiUpdate(k, m, G.ptr, A.ptr, work.ptr);
      x.narrow(m, cb.ptr, f32.ptr);
      x.widen(m, f32.ptr, out.ptr);
    }
    assert.is(x.memoryBytes(), before);
    ws.dispose();
  }
});

test.run();
