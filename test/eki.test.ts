// Classical EKI (docs/method.md §3), the baseline NLB modifies: its known failures made checkable
// (subspace property, collapse), its convergence when J > n, the ensemble mean as prediction,
// perturbed observations, EKI(R) noise and inflation, failure handling and argument errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule, Workspace, createEki, createNlb, LeastSquares, CrossEntropy, OptimizationError, type Evaluator } from '../bindings/internal.js';
import {
  RowEvaluator, gaussian, leastSquares, linearModel, matVec, norm, randomMatrix, relativeError,
} from './optim-oracle.js';

const mod = await loadModule();

function linearProblem(m: number, n: number, seed: number) {
  const A = randomMatrix(m, n, seed);
  const g = gaussian(seed + 1);
  const y = Float64Array.from({ length: m }, () => g());
  return { A, y };
}

// Residual of projecting v on the column span of the J rows of B (J × n) by modified Gram–Schmidt, relative to ‖v‖.
function projectionResidual(B: Float64Array, J: number, n: number, v: Float64Array): number {
  const basis: Float64Array[] = [];
  for (let j = 0; j < J; j++) {
    const u = Float64Array.from(B.subarray(j * n, (j + 1) * n));
    for (const q of basis) {
      let d = 0;
      for (let i = 0; i < n; i++) d += q[i] * u[i];
      for (let i = 0; i < n; i++) u[i] -= d * q[i];
    }
    const s = norm(u);
    if (s > 1e-10) basis.push(u.map((x) => x / s));
  }
  const r = Float64Array.from(v);
  for (let pass = 0; pass < 2; pass++) {
    for (const q of basis) {
      let d = 0;
      for (let i = 0; i < n; i++) d += q[i] * r[i];
      for (let i = 0; i < n; i++) r[i] -= d * q[i];
    }
  }
  return norm(r) / norm(v);
}

// ΔΘ (J × n): members minus their mean.
function deviations(E: Float64Array, J: number, n: number): Float64Array {
  const mean = new Float64Array(n);
  for (let j = 0; j < J; j++) for (let i = 0; i < n; i++) mean[i] += E[j * n + i] / J;
  return E.map((x, idx) => x - mean[idx % n]);
}

test('linear least squares 300×200, J = 10: EKI stalls above 0.1 relative error, its iterates stay in θ̄₀ + span(ΔΘ₀)', () => {
  const m = 300;
  const n = 200;
  const J = 10;
  const { A, y } = linearProblem(m, n, 7);
  const star = leastSquares(A, m, n, y);
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, y);
  const ev = linearModel(A, m, n);
  const eki = createEki(ws, new Float64Array(n), { ensembleSize: J, seed: 3 });
  const E0 = eki.ensemble();
  const mean0 = eki.theta();
  const dTheta0 = deviations(E0, J, n);
  let last = Infinity;
  for (let it = 0; it < 300; it++) last = eki.step(ev, obj).loss;
  const err = relativeError(eki.theta(), star);
  assert.ok(err > 0.1, `EKI relative error ${err}`);
  // the subspace property: every member and the mean minus θ̄₀ lie in span(ΔΘ₀)
  const E = eki.ensemble();
  const shift = eki.theta().map((x, i) => x - mean0[i]);
  assert.ok(norm(shift) > 1, 'the mean moved');
  assert.ok(projectionResidual(dTheta0, J, n, shift) < 1e-8, `mean: residual ${projectionResidual(dTheta0, J, n, shift)}`);
  for (let j = 0; j < J; j++) {
    const v = E.subarray(j * n, (j + 1) * n).map((x, i) => x - mean0[i]);
    const res = projectionResidual(dTheta0, J, n, v);
    assert.ok(res < 1e-8, `member ${j}: residual ${res}`);
  }
  // … and it does minimize within that affine subspace: the loss matches the subspace optimum
  const V = new Float64Array(J * m);
  for (let j = 0; j < J; j++) matVec(A, m, n, dTheta0, V, j * n, j * m);
  const r0 = matVec(A, m, n, mean0).map((v, i) => y[i] - v);
  const G = new Float64Array(J * J);
  const b = new Float64Array(J);
  for (let p = 0; p < J; p++) {
    for (let i = 0; i < m; i++) b[p] += V[p * m + i] * r0[i];
    for (let q = 0; q < J; q++) for (let i = 0; i < m; i++) G[p * J + q] += V[p * m + i] * V[q * m + i];
  }
  // ΔΘ₀ has rank J − 1 (rows sum to zero): minimize over the first J − 1 directions
  const Jr = J - 1;
  const Gr = new Float64Array(Jr * Jr);
  for (let p = 0; p < Jr; p++) for (let q = 0; q < Jr; q++) Gr[p * Jr + q] = G[p * J + q];
  const c = solve(Gr, Jr, b.subarray(0, Jr));
  let best = 0;
  const fit = Float64Array.from(r0);
  for (let p = 0; p < Jr; p++) for (let i = 0; i < m; i++) fit[i] -= c[p] * V[p * m + i];
  for (let i = 0; i < m; i++) best += 0.5 * fit[i] * fit[i];
  assert.ok(last >= best * (1 - 1e-9), `loss ${last} cannot beat the subspace optimum ${best}`);
  assert.ok(last < best * 1.05, `loss ${last} approaches the subspace optimum ${best}`);
  // NLB with the same budget of 10 members per iteration escapes the subspace
  const nlb = createNlb(ws, new Float64Array(n), { ensembleSize: J, seed: 3 });
  for (let it = 0; it < 300; it++) nlb.step(ev, obj, { newBatch: false });
  assert.ok(relativeError(nlb.theta(), star) < err / 2, `NLB ${relativeError(nlb.theta(), star)} vs EKI ${err}`);
  ws.dispose();
});

function solve(M: Float64Array, n: number, b: Float64Array): Float64Array {
  const a = Float64Array.from(M);
  const x = Float64Array.from(b);
  for (let p = 0; p < n; p++) {
    for (let i = p + 1; i < n; i++) {
      const f = a[i * n + p] / a[p * n + p];
      for (let q = p; q < n; q++) a[i * n + q] -= f * a[p * n + q];
      x[i] -= f * x[p];
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i];
    for (let q = i + 1; q < n; q++) s -= a[i * n + q] * x[q];
    x[i] = s / a[i * n + i];
  }
  return x;
}

test('collapse: on a linear problem the EKI spread shrinks toward 0 and the steps stall', () => {
  const m = 40;
  const n = 20;
  const { A, y } = linearProblem(m, n, 17);
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, y);
  const ev = linearModel(A, m, n);
  const eki = createEki(ws, new Float64Array(n), { ensembleSize: 8, spread: 1, seed: 5 });
  const spreads: number[] = [eki.spread()];
  const steps: number[] = [];
  for (let it = 0; it < 400; it++) {
    const d = eki.step(ev, obj);
    steps.push(d.stepNorm);
    spreads.push(eki.spread());
  }
  // spread ~ 1/√t for ILS with a fixed step: monotone decrease, a factor > 10 over 400 steps
  for (let t = 1; t < spreads.length; t++) assert.ok(spreads[t] <= spreads[t - 1] * (1 + 1e-12), `spread rose at ${t}`);
  assert.ok(spreads[400] < spreads[0] / 10, `spread ${spreads[0]} → ${spreads[400]}`);
  assert.ok(steps[399] < 1e-2 * steps[0], `step ${steps[0]} → ${steps[399]}`);
  // inflation ρ > 1 counteracts the collapse (EKI(R)-style)
  const inflated = createEki(ws, new Float64Array(n), { ensembleSize: 8, spread: 1, seed: 5, inflation: 1.05 });
  for (let it = 0; it < 400; it++) inflated.step(ev, obj);
  assert.ok(inflated.spread() > 5 * spreads[400], `inflated spread ${inflated.spread()} vs ${spreads[400]}`);
  ws.dispose();
});

test('J > n: EKI converges to θ* on linear least squares (the ensemble spans the space)', () => {
  const m = 30;
  const n = 8;
  const { A, y } = linearProblem(m, n, 27);
  const star = leastSquares(A, m, n, y);
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, y);
  const eki = createEki(ws, new Float64Array(n), { ensembleSize: 16, seed: 2, step: 1e6 });
  const ev = linearModel(A, m, n);
  for (let it = 0; it < 20; it++) eki.step(ev, obj);
  assert.ok(relativeError(eki.theta(), star) < 1e-4, `relative error ${relativeError(eki.theta(), star)}`);
  ws.dispose();
});

test('EKI update matches a plain-TS ILS oracle for one step, with and without perturbed observations', () => {
  const m = 12;
  const n = 6;
  const J = 5;
  const { A, y } = linearProblem(m, n, 37);
  const gamma = 0.5;
  for (const perturbed of [false, true]) {
    const ws = new Workspace(mod);
    const obj = new LeastSquares(ws, y, gamma);
    const eki = createEki(ws, new Float64Array(n).fill(0.3), { ensembleSize: J, seed: 9, step: 0.7, perturbedObservations: perturbed });
    const Theta = eki.ensemble();
    let noise: Float64Array | null = null;
    const ev = linearModel(A, m, n);
    eki.step(ev, obj);
    const after = eki.ensemble();
    // oracle: θ_j += ΔΘ (ΔFᵀΓ⁻¹ΔF + (J/h)I)⁻¹ ΔFᵀΓ⁻¹(y_j − F_j)
    const F = new Float64Array(J * m);
    for (let j = 0; j < J; j++) matVec(A, m, n, Theta, F, j * n, j * m);
    const Fbar = new Float64Array(m);
    const Tbar = new Float64Array(n);
    for (let j = 0; j < J; j++) {
      for (let i = 0; i < m; i++) Fbar[i] += F[j * m + i] / J;
      for (let i = 0; i < n; i++) Tbar[i] += Theta[j * n + i] / J;
    }
    const M = new Float64Array(J * J);
    for (let p = 0; p < J; p++) {
      for (let q = 0; q < J; q++) {
        let s = 0;
        for (let i = 0; i < m; i++) s += (F[p * m + i] - Fbar[i]) * (F[q * m + i] - Fbar[i]) / gamma;
        M[p * J + q] = s + (p === q ? J / 0.7 : 0);
      }
    }
    if (perturbed) {
      // recover the η the optimizer drew: the same counter RNG, draw 1 (draw 0 drew the ensemble)
      const buf = ws.f64(m);
      noise = new Float64Array(J * m);
      for (let j = 0; j < J; j++) {
        mod.exports.randn(m, 9, 1, j, 0, buf.ptr);
        for (let i = 0; i < m; i++) noise[j * m + i] = buf.view()[i] * Math.sqrt(gamma);
      }
    }
    let maxErr = 0;
    for (let j = 0; j < J; j++) {
      const rhs = new Float64Array(J);
      for (let p = 0; p < J; p++) {
        let s = 0;
        for (let i = 0; i < m; i++) {
          const yj = y[i] + (noise ? noise[j * m + i] : 0);
          s += (F[p * m + i] - Fbar[i]) * (yj - F[j * m + i]) / gamma;
        }
        rhs[p] = s;
      }
      const z = solve(M, J, rhs);
      for (let i = 0; i < n; i++) {
        let v = Theta[j * n + i];
        for (let l = 0; l < J; l++) v += (Theta[l * n + i] - Tbar[i]) * z[l];
        maxErr = Math.max(maxErr, Math.abs(v - after[j * n + i]));
      }
    }
    assert.ok(maxErr < 1e-12, `perturbed ${perturbed}: max deviation from the oracle ${maxErr}`);
    ws.dispose();
  }
});

test('cross-entropy EKI (Kovachki–Stuart form, adaptive step) lowers the loss of the ensemble mean', () => {
  const B = 60;
  const C = 3;
  const d = 4;
  const n = d * C;
  const g = gaussian(47);
  const X = Float64Array.from({ length: B * d }, () => g());
  const W = Float64Array.from({ length: n }, () => g());
  const labels = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let best = 0;
    let arg = 0;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += X[b * d + i] * W[i * C + c];
      if (c === 0 || s > best) { best = s; arg = c; }
    }
    labels[b] = arg;
  }
  const ws = new Workspace(mod);
  const obj = new CrossEntropy(ws, C, labels);
  const ev = new RowEvaluator(n, B * C, (t, o) => {
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += X[b * d + i] * t[i * C + c];
        o[b * C + c] = s;
      }
    }
  });
  const eki = createEki(ws, new Float64Array(n), { ensembleSize: 20, adaptiveStep: true, step: 2, seed: 4 });
  const first = eki.step(ev, obj);
  let last = first;
  for (let it = 0; it < 60; it++) last = eki.step(ev, obj);
  assert.ok(Math.abs(first.loss - Math.log(C)) < 1e-12, `θ̄₀ = 0 gives log C: ${first.loss}`);
  assert.ok(last.loss < 0.5 * first.loss, `loss ${first.loss} → ${last.loss}`);
  assert.ok(last.mu > 0 && Number.isFinite(last.mu), 'adaptive h reported');
  assert.throws(() => createEki(ws, new Float64Array(n), { perturbedObservations: true }).step(ev, obj), /least squares/);
  ws.dispose();
});

test('EKI(R) noise leaves the subspace; failed members are dropped; contraction then a clear error', () => {
  const m = 20;
  const n = 10;
  const J = 4;
  const { A, y } = linearProblem(m, n, 57);
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, y);
  const ev = linearModel(A, m, n);
  const noisy = createEki(ws, new Float64Array(n), { ensembleSize: J, seed: 6, noise: 0.1 });
  const dTheta0 = deviations(noisy.ensemble(), J, n);
  const mean0 = noisy.theta();
  for (let it = 0; it < 5; it++) noisy.step(ev, obj);
  const shift = noisy.theta().map((x, i) => x - mean0[i]);
  assert.ok(projectionResidual(dTheta0, J, n, shift) > 1e-3, 'noise injection leaves span(ΔΘ₀)');
  // member rows whose first parameter exceeds 0.5 fail
  let failing = 0;
  const flaky = new RowEvaluator(n, m, (t, o) => {
    matVec(A, m, n, t, o);
    if (t[0] > 0.5) { o[0] = Infinity; failing++; }
  });
  const eki = createEki(ws, new Float64Array(n), { ensembleSize: 12, spread: 0.5, seed: 7 });
  const d = eki.step(flaky, obj);
  assert.ok(d.dropped > 0 && d.dropped === failing, `dropped ${d.dropped} of ${failing} failing`);
  const broken: Evaluator = { n, m, evaluate: (_r, _c, out) => { out.view().fill(NaN); } };
  const doomed = createEki(ws, new Float64Array(n), { ensembleSize: 4, maxRedraws: 2 });
  const before = doomed.ensemble();
  try {
    doomed.step(broken, obj);
    assert.unreachable('should fail');
  } catch (e) {
    assert.instance(e, OptimizationError);
    assert.match((e as Error).message, /finite outputs/);
  }
  // two contractions by ½ toward the mean happened before giving up
  const after = doomed.ensemble();
  assert.ok(Math.abs(norm(deviations(after, 4, n)) - norm(deviations(before, 4, n)) / 4) < 1e-12);
  ws.dispose();
});

test('EKI saveState/loadState resumes bit-identically (perturbed observations draws included)', () => {
  const m = 15;
  const n = 6;
  const { A, y } = linearProblem(m, n, 67);
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, y, 0.2);
  const ev = linearModel(A, m, n);
  const opts = { ensembleSize: 5, seed: 2, perturbedObservations: true, noise: 0.01 };
  const straight = createEki(ws, new Float64Array(n), opts);
  for (let it = 0; it < 10; it++) straight.step(ev, obj);
  const first = createEki(ws, new Float64Array(n), opts);
  for (let it = 0; it < 4; it++) first.step(ev, obj);
  const resumed = createEki(ws, new Float64Array(n), opts);
  resumed.loadState(structuredClone(first.saveState()));
  assert.equal(Array.from(resumed.theta()), Array.from(first.theta()));
  for (let it = 4; it < 10; it++) resumed.step(ev, obj);
  assert.equal(Array.from(resumed.ensemble()), Array.from(straight.ensemble()));
  assert.throws(() => resumed.loadState({ kind: 'eki', ensemble: new Float64Array(4), iteration: 0, draws: 0 }), /J × n = 5 × 6/);
  ws.dispose();
});

test('EKI argument errors', () => {
  const ws = new Workspace(mod);
  assert.throws(() => createEki(ws, new Float64Array(3), { ensembleSize: 1 }), (e: Error) => e instanceof RangeError && /ensembleSize/.test(e.message));
  assert.throws(() => createEki(ws, new Float64Array(3), { spread: 0 }), RangeError);
  assert.throws(() => createEki(ws, new Float64Array(3), { inflation: 0.5 }), RangeError);
  assert.throws(() => createEki(ws, new Float64Array(3), { sigma: 1 } as never), (e: Error) => e instanceof TypeError && /Unknown option 'sigma'/.test(e.message));
  ws.dispose();
});

test.run();
