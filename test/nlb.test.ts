// The never-look-back EnKF (docs/method.md §2) on problems with known answers: the paper's claims made
// checkable (linear convergence for small k, an exact Gauss–Newton step for k ≥ n, escaping the
// local minima of an oscillatory Φ with a decaying σ), plus Tikhonov, trust region, failure
// handling, determinism and argument errors. Every random draw is seeded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  loadModule, Workspace, createNlb, LeastSquares, OptimizationError, NLB_DEFAULTS, type Evaluator, type Buf,
} from '../bindings/internal.js';
import {
  RowEvaluator, gaussian, leastSquares, linearModel, matVec, norm, oscillatory, oscillatoryResiduals, randomMatrix,
  relativeError, rosenbrockResiduals,
} from './optim-oracle.js';

const mod = await loadModule();

function linearProblem(m: number, n: number, seed: number) {
  const A = randomMatrix(m, n, seed);
  const g = gaussian(seed + 1);
  const y = Float64Array.from({ length: m }, () => g());
  return { A, y };
}

test('linear least squares 300×200, k = 10: NLB reaches the minimizer A⁺y to relative error < 1e-6', () => {
  const ws = new Workspace(mod);
  const m = 300;
  const n = 200;
  const { A, y } = linearProblem(m, n, 7);
  const star = leastSquares(A, m, n, y);
  const ev = linearModel(A, m, n);
  const obj = new LeastSquares(ws, y);
  const nlb = createNlb(ws, new Float64Array(n), { ensembleSize: 10, seed: 3 });
  let err = Infinity;
  let it = 0;
  for (; it < 8000 && err >= 1e-6; it++) {
    const d = nlb.step(ev, obj, { newBatch: false });
    assert.ok(d.accepted || d.tries > 0);
    if (it % 50 === 49) err = relativeError(nlb.theta(), star);
  }
  err = relativeError(nlb.theta(), star);
  assert.ok(err < 1e-6, `relative error ${err} after ${it} iterations`);
  // k = 10 ≪ n = 200: each step only sees a 10-dim subspace, so this takes thousands of steps
  assert.ok(it > 500, `suspiciously fast: ${it} iterations`);
  ws.dispose();
});

test('k ≥ n, α → 0, μ = 1, small σ: one NLB step is the exact Gauss–Newton step to θ* (1e-8)', () => {
  const m = 40;
  const n = 24;
  const { A, y } = linearProblem(m, n, 11);
  const star = leastSquares(A, m, n, y);
  for (const k of [n, n + 6]) {
    const ws = new Workspace(mod);
    const obj = new LeastSquares(ws, y);
    const g = gaussian(5);
    const theta0 = Float64Array.from({ length: n }, () => g());
    const nlb = createNlb(ws, theta0, { ensembleSize: k, alpha: 0, alphaMin: 0, sigma: 1e-3, stepSize: 1, seed: 9 });
    const d = nlb.step(linearModel(A, m, n), obj);
    assert.ok(d.accepted, `k = ${k}: step accepted`);
    assert.is(d.tries, 1);
    const err = relativeError(nlb.theta(), star);
    assert.ok(err < 1e-8, `k = ${k}: relative error ${err} after one step`);
    // on a linear problem the k-dim quadratic model is exact: actual / predicted decrease = 1
    assert.ok(Math.abs(d.gainRatio! - 1) < 1e-6, `gain ratio ${d.gainRatio}`);
    ws.dispose();
  }
});

test('Tikhonov λ enters the k×k system exactly: one step with k = n lands on (AᵀA + λI)⁻¹Aᵀy', () => {
  const m = 30;
  const n = 16;
  const { A, y } = linearProblem(m, n, 21);
  const lambda = 0.7;
  const ridge = leastSquares(A, m, n, y, lambda);
  const plain = leastSquares(A, m, n, y);
  assert.ok(relativeError(ridge, plain) > 0.05, 'λ changes the answer measurably');
  for (const antithetic of [false, true]) {
    const ws = new Workspace(mod);
    const obj = new LeastSquares(ws, y);
    const theta0 = new Float64Array(n).fill(0.5);
    // antithetic pairs ±ξ span only k/2 directions: 2n members for the full space
    const nlb = createNlb(ws, theta0, {
      ensembleSize: antithetic ? 2 * n : n, alpha: 0, alphaMin: 0, sigma: 1e-2, lambda, seed: 4, antithetic,
    });
    const d = nlb.step(linearModel(A, m, n), obj);
    const err = relativeError(nlb.theta(), ridge);
    assert.ok(err < 1e-8, `antithetic ${antithetic}: relative error ${err}`);
    assert.ok(Math.abs(d.gainRatio! - 1) < 1e-6, `the model includes λ exactly: gain ratio ${d.gainRatio}`);
    // the reported Φ includes (λ/2)‖θ‖²
    const r = matVec(A, m, n, nlb.theta());
    let phi = 0;
    for (let i = 0; i < m; i++) phi += 0.5 * (r[i] - y[i]) ** 2;
    phi += 0.5 * lambda * norm(nlb.theta()) ** 2;
    assert.ok(Math.abs(d.loss - phi) < 1e-10 * phi, `loss ${d.loss} vs ${phi}`);
    ws.dispose();
  }
});

test('antithetic pairs and a large λ converge to the ridge solution with k < n', () => {
  const m = 50;
  const n = 30;
  const { A, y } = linearProblem(m, n, 31);
  const lambda = 0.3;
  const ridge = leastSquares(A, m, n, y, lambda);
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, y);
  const nlb = createNlb(ws, new Float64Array(n), { ensembleSize: 8, antithetic: true, lambda, seed: 2 });
  const ev = linearModel(A, m, n);
  for (let it = 0; it < 400; it++) nlb.step(ev, obj, { newBatch: false });
  const err = relativeError(nlb.theta(), ridge);
  assert.ok(err < 1e-6, `relative error ${err}`);
  ws.dispose();
});

test('antithetic pairs are never split across member chunks (maxMembers 3 → chunks of 2); iterates as unchunked', () => {
  const m = 40;
  const n = 25;
  const { A, y } = linearProblem(m, n, 33);
  const thetas = [3, 8].map((maxMembers) => {
    const ws = new Workspace(mod);
    const obj = new LeastSquares(ws, y);
    const inner = linearModel(A, m, n);
    const counts: number[] = [];
    const ev: Evaluator = {
      n, m,
      evaluate(rows: Buf<'f64'>, count: number, out: Buf<'f64'>) {
        counts.push(count);
        inner.evaluate(rows, count, out);
      },
    };
    const nlb = createNlb(ws, new Float64Array(n), { ensembleSize: 8, antithetic: true, lambda: 0.1, seed: 4, maxMembers });
    for (let it = 0; it < 5; it++) nlb.step(ev, obj, { newBatch: false });
    // member chunks are whole pairs within maxMembers rows; the first call also carries θ_t (row 0)
    const chunks = counts.map((c, i) => (i === 0 ? c - 1 : c)).filter((c) => c > 1);
    assert.ok(counts[0] <= maxMembers, `first call ${counts[0]} rows`);
    assert.ok(chunks.length > 0 && chunks.every((c) => c % 2 === 0 && c <= maxMembers), `chunks ${chunks}`);
    const theta = nlb.theta();
    ws.dispose();
    return theta;
  });
  for (let j = 0; j < n; j++) assert.ok(Object.is(thetas[0][j], thetas[1][j]), `θ_${j}: ${thetas[0][j]} vs ${thetas[1][j]}`);
});

// Φ(x) = ‖x‖² + a Σ(1 − cos(2πωx_i)) as least squares of 2n residuals (√2·x_i and
// 2√a·|sin(πωx_i)|; ½‖r‖² = Φ exactly): our objectives are losses of outputs, and the residual form
// keeps Φ exact while F stays cheap. The |sin| kinks sit where the cosine term is 0, never at a
// local minimum of Φ (there Φ' = 2x ≠ 0), so Gauss–Newton is well defined near every minimum.
const A_OSC = 1;
const OMEGA = 2.3;
for (const n of [2, 10]) {
  test(`oscillatory Φ, ${n}-D from x₀ = 3·𝟙: σ decay ends in the global basin, a tiny fixed σ in a local minimum`, () => {
    const ws = new Workspace(mod);
    const ev = new RowEvaluator(n, 2 * n, oscillatoryResiduals(A_OSC, OMEGA));
    const obj = new LeastSquares(ws, new Float64Array(2 * n));
    const x0 = new Float64Array(n).fill(3);
    const wide = createNlb(ws, x0, { ensembleSize: 2 * n, sigmaSchedule: 'decay', sigma: 3, sigmaDecay: 0.9, sigmaMin: 1e-7, seed: 1 });
    const tiny = createNlb(ws, x0, { ensembleSize: 2 * n, sigmaSchedule: 'constant', sigma: 1e-6, seed: 1 });
    for (let it = 0; it < 300; it++) {
      wide.step(ev, obj, { newBatch: false });
      tiny.step(ev, obj, { newBatch: false });
    }
    const xw = wide.theta();
    assert.ok(norm(xw) < 0.5 / OMEGA, `decay: ‖x‖ = ${norm(xw)} (global basin: < ${0.5 / OMEGA})`);
    assert.ok(oscillatory(A_OSC, OMEGA, xw).phi < 1e-10, `decay: Φ = ${oscillatory(A_OSC, OMEGA, xw).phi}`);
    const xt = tiny.theta();
    const local = oscillatory(A_OSC, OMEGA, xt);
    assert.ok(norm(xt) > 1, `tiny σ: ‖x‖ = ${norm(xt)} should stay far from 0`);
    assert.ok(norm(local.grad) < 1e-4, `tiny σ: ‖∇Φ‖ = ${norm(local.grad)} (a stationary point)`);
    // a local minimum: Φ rises along every coordinate direction
    for (let i = 0; i < n; i++) {
      for (const h of [-1e-3, 1e-3]) {
        const x = Float64Array.from(xt);
        x[i] += h;
        assert.ok(oscillatory(A_OSC, OMEGA, x).phi > local.phi, `tiny σ: Φ rises along ±e_${i}`);
      }
    }
    ws.dispose();
  });
}

test('Rosenbrock (n = 10) as least-squares residuals: NLB reaches Φ < 1e-8', () => {
  const n = 10;
  const ws = new Workspace(mod);
  const ev = new RowEvaluator(n, 2 * (n - 1), rosenbrockResiduals);
  const obj = new LeastSquares(ws, new Float64Array(2 * (n - 1)));
  const x0 = Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -1.2 : 1));
  const nlb = createNlb(ws, x0, { ensembleSize: 10, seed: 5 });
  let loss = Infinity;
  for (let it = 0; it < 3000 && loss >= 1e-8; it++) loss = nlb.step(ev, obj, { newBatch: false }).loss;
  assert.ok(loss < 1e-8, `Φ = ${loss}`);
  assert.ok(relativeError(nlb.theta(), new Float64Array(n).fill(1)) < 1e-3);
  ws.dispose();
});

test('trust region: every accepted step changes the outputs by at most τ (max|ΔF z| ≤ τ)', () => {
  const m = 20;
  const n = 12;
  const { A, y } = linearProblem(m, n, 41);
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, y);
  const tau = 0.01;
  const nlb = createNlb(ws, new Float64Array(n), { ensembleSize: 6, trustRegion: tau, seed: 8 });
  const ev = linearModel(A, m, n);
  let hit = 0;
  for (let it = 0; it < 30; it++) {
    const before = nlb.theta();
    const d = nlb.step(ev, obj, { newBatch: false });
    if (!d.accepted) continue;
    const after = nlb.theta();
    const delta = after.map((v, i) => v - before[i]);
    const change = matVec(A, m, n, delta);
    const peak = Math.max(...Array.from(change, Math.abs));
    assert.ok(peak <= tau * (1 + 1e-9), `iteration ${it}: max|AΔθ| = ${peak} > τ`);
    if (peak > 0.99 * tau) hit++;
  }
  assert.ok(hit > 10, `the trust region was active (${hit} steps at τ)`);
  ws.dispose();
});

test('gain-ratio damping: α falls after very successful steps and doubles-up after rejections', () => {
  const n = 10;
  const m = 18;
  const ws = new Workspace(mod);
  const ev = new RowEvaluator(n, m, rosenbrockResiduals);
  const obj = new LeastSquares(ws, new Float64Array(m));
  const x0 = Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -1.2 : 1));
  const nlb = createNlb(ws, x0, { dampingControl: 'gain-ratio', alpha: 1e-2, seed: 5 });
  let loss = Infinity;
  let sawDecrease = false;
  for (let it = 0; it < 400 && loss >= 1e-8; it++) {
    const before = nlb.alpha;
    const d = nlb.step(ev, obj, { newBatch: false });
    loss = d.loss;
    if (d.accepted && d.tries === 1 && d.gainRatio! > 0.9) {
      // Nielsen: α·max(1/3, 1 − (2ρ − 1)³) < α for ρ > ½
      assert.ok(nlb.alpha < before, `α ${before} → ${nlb.alpha} after ρ = ${d.gainRatio}`);
      sawDecrease = true;
    }
  }
  assert.ok(sawDecrease);
  assert.ok(loss < 1e-8, `Φ = ${loss}`);
  assert.throws(() => createNlb(ws, x0, { dampingControl: 'nielsen' as never }), /'factors', 'gain-ratio'/);
  ws.dispose();
});

test('σ schedules: decay follows σ₀γ^t; implicit filtering halves σ after a failed step only', () => {
  const m = 20;
  const n = 8;
  const { A, y } = linearProblem(m, n, 51);
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, y);
  const ev = linearModel(A, m, n);
  const decay = createNlb(ws, new Float64Array(n), { sigmaSchedule: 'decay', sigma: 0.5, sigmaDecay: 0.8, ensembleSize: 4 });
  for (let t = 0; t < 5; t++) {
    const d = decay.step(ev, obj, { newBatch: false });
    assert.ok(Math.abs(d.sigma - 0.5 * 0.8 ** t) < 1e-15, `σ_${t} = ${d.sigma}`);
  }
  // a forward model whose every candidate is worse: the step fails, σ halves; θ is unchanged
  let calls = 0;
  const spiteful: Evaluator = {
    n, m,
    evaluate(rows: Buf<'f64'>, count: number, out: Buf<'f64'>) {
      const r = rows.view();
      const o = out.view();
      for (let i = 0; i < count; i++) {
        calls++;
        matVec(A, m, n, r, o, i * n, i * m);
        // F(θ_t) is the first call; later single-row calls are candidates: make them bad
        if (count === 1 && calls > 1) o.fill(1e3, i * m, (i + 1) * m);
      }
    },
  };
  const impl = createNlb(ws, new Float64Array(n), { sigmaSchedule: 'implicit-filtering', sigma: 0.4, ensembleSize: 4, maxRetries: 3 });
  const d0 = impl.step(spiteful, obj, { newBatch: false });
  assert.is(d0.accepted, false);
  assert.is(d0.tries, 3);
  assert.is(d0.stepNorm, 0);
  assert.equal(Array.from(impl.theta()), new Array(n).fill(0));
  const { alpha, alphaUp } = NLB_DEFAULTS;
  assert.ok(Math.abs(d0.alpha - alpha * alphaUp ** 2) < 1e-15, `α raised ×alphaUp per rejection: ${d0.alpha}`);
  assert.is(impl.sigma, 0.2);
  const d1 = impl.step(ev, obj, { newBatch: false });
  assert.is(d1.accepted, true);
  assert.is(impl.sigma, 0.2, 'kept after success (sigmaGrow = 1)');
  ws.dispose();
});

test('members with NaN outputs are dropped and counted; the step still converges', () => {
  const m = 30;
  const n = 10;
  const { A, y } = linearProblem(m, n, 61);
  const star = leastSquares(A, m, n, y);
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, y);
  let row = 0;
  // every 5th member row fails; F(θ) (row 0 of the 11-row call that carries it) and candidates never do
  const flaky = new RowEvaluator(n, m, (t, o) => {
    matVec(A, m, n, t, o);
  });
  const ev: Evaluator = {
    n, m,
    evaluate(rows, count, out) {
      flaky.evaluate(rows, count, out);
      if (count > 1) {
        const o = out.view();
        for (let i = count === 11 ? 1 : 0; i < count; i++) if (row++ % 5 === 0) o[i * m + 3] = NaN;
      }
    },
  };
  const nlb = createNlb(ws, new Float64Array(n), { ensembleSize: 10, seed: 12, maxMembers: 11 });
  let dropped = 0;
  for (let it = 0; it < 200; it++) dropped += nlb.step(ev, obj, { newBatch: false }).dropped;
  assert.is(dropped, 200 * 2);
  assert.ok(relativeError(nlb.theta(), star) < 1e-6, `relative error ${relativeError(nlb.theta(), star)}`);
  ws.dispose();
});

test('fewer than 2 finite members: redraws with smaller σ, then a clear error with θ unchanged', () => {
  const m = 6;
  const n = 4;
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, new Float64Array(m));
  // finite only within 0.01 of θ₀ = 0: σ = 1 needs several halvings before members survive
  const fragile = new RowEvaluator(n, m, (t, o) => {
    const far = Math.max(...Array.from(t, Math.abs)) > 0.01;
    for (let i = 0; i < m; i++) o[i] = far ? NaN : t[i % n] + 1;
  });
  const nlb = createNlb(ws, new Float64Array(n), { ensembleSize: 4, sigma: 1, maxRedraws: 12, seed: 3 });
  const d = nlb.step(fragile, obj);
  assert.ok(d.redraws >= 5, `redraws ${d.redraws}`);
  assert.ok(d.sigma <= 1 / 2 ** d.redraws + 1e-15);
  assert.ok(d.dropped >= 3 * d.redraws, `dropped ${d.dropped}: each redraw had ≥ 3 of 4 failures`);
  const stubborn = createNlb(ws, new Float64Array(n).fill(0.005), { ensembleSize: 4, sigma: 1, maxRedraws: 2, seed: 3 });
  const before = stubborn.theta();
  try {
    stubborn.step(fragile, obj);
    assert.unreachable('should fail');
  } catch (e) {
    assert.instance(e, OptimizationError);
    assert.match((e as Error).message, /finite outputs/);
    assert.match((e as Error).message, /after 2 redraws/);
  }
  assert.equal(Array.from(stubborn.theta()), Array.from(before));
  // a non-finite F(θ) itself cannot be repaired by σ
  const broken = createNlb(ws, new Float64Array(n).fill(1), { ensembleSize: 4 });
  assert.throws(() => broken.step(fragile, obj), (e: Error) => e instanceof OptimizationError && /F\(θ\)/.test(e.message));
  ws.dispose();
});

test('same seed → same iterates, in the SIMD and the scalar build; another seed → other iterates', async () => {
  const m = 25;
  const n = 15;
  const { A, y } = linearProblem(m, n, 71);
  const run = (module: typeof mod, seed: number) => {
    const ws = new Workspace(module);
    const obj = new LeastSquares(ws, y);
    const nlb = createNlb(ws, new Float64Array(n), { ensembleSize: 5, seed, lambda: 1e-3 });
    const ev = linearModel(A, m, n);
    for (let it = 0; it < 20; it++) nlb.step(ev, obj, { newBatch: false });
    const t = nlb.theta();
    ws.dispose();
    return t;
  };
  const a = run(mod, 42);
  const b = run(mod, 42);
  assert.equal(Array.from(a), Array.from(b));
  const scalar = await loadModule({ simd: false });
  const c = run(scalar, 42);
  assert.ok(relativeError(c, a) < 1e-12, `SIMD vs scalar: ${relativeError(c, a)}`);
  const d = run(mod, 43);
  assert.ok(relativeError(d, a) > 1e-6);
});

test('saveState/loadState resumes bit-identically (implicit filtering σ, α, draw counter)', () => {
  const m = 25;
  const n = 15;
  const { A, y } = linearProblem(m, n, 91);
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, y);
  const ev = linearModel(A, m, n);
  const opts = { ensembleSize: 5, seed: 6, lambda: 1e-2, sigma: 0.3, maxRetries: 1 };
  const straight = createNlb(ws, new Float64Array(n), opts);
  for (let it = 0; it < 30; it++) straight.step(ev, obj);
  const first = createNlb(ws, new Float64Array(n), opts);
  for (let it = 0; it < 12; it++) first.step(ev, obj);
  const state = structuredClone(first.saveState());
  assert.ok(state.kind === 'nlb' && state.iteration === 12 && state.draws >= 12);
  const resumed = createNlb(ws, new Float64Array(n), opts);
  resumed.loadState(state);
  assert.is(resumed.sigma, first.sigma);
  for (let it = 12; it < 30; it++) resumed.step(ev, obj);
  assert.equal(Array.from(resumed.theta()), Array.from(straight.theta()));
  assert.throws(() => resumed.loadState({ ...state, theta: new Float64Array(3) }), (e: Error) => e instanceof RangeError && /n = 15/.test(e.message));
  assert.throws(() => resumed.loadState({ kind: 'eki' } as never), TypeError);
  ws.dispose();
});

test('diagnostics: evaluations, times and the gradient proxy are consistent', () => {
  const m = 30;
  const n = 10;
  const { A, y } = linearProblem(m, n, 81);
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, y);
  const ev = linearModel(A, m, n);
  const nlb = createNlb(ws, new Float64Array(n), { ensembleSize: 6, seed: 1 });
  const d0 = nlb.step(ev, obj, { newBatch: false });
  assert.is(d0.evaluations, 1 + 6 + d0.tries, 'F(θ), k members, candidates');
  const d1 = nlb.step(ev, obj, { newBatch: false });
  assert.is(d1.evaluations, 6 + d1.tries, 'F(θ) reused from the acceptance test');
  const d2 = nlb.step(ev, obj, { newBatch: true });
  assert.is(d2.evaluations, 1 + 6 + d2.tries, 'a new batch re-evaluates F(θ)');
  for (const d of [d0, d1, d2]) {
    assert.ok(d.forwardMs >= 0 && d.algebraMs >= 0 && d.totalMs >= d.forwardMs + d.algebraMs - 1e-9);
    assert.ok(d.lossBefore >= d.loss);
  }
  // gradient proxy ≈ ‖∇Φ(θ)‖ = ‖Aᵀ(Aθ − y)‖ at θ = 0 (a statistical estimate: within a factor 2)
  const fresh = createNlb(ws, new Float64Array(n), { ensembleSize: 6, seed: 1, sigma: 1e-4 });
  let grad = 0;
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += A[i * n + j] * -y[i];
    grad += s * s;
  }
  const proxy = fresh.step(ev, obj).gradientNorm;
  assert.ok(proxy > 0.5 * Math.sqrt(grad) && proxy < 2 * Math.sqrt(grad), `proxy ${proxy} vs ‖∇Φ‖ ${Math.sqrt(grad)}`);
  ws.dispose();
});

test('bad arguments throw typed errors before any work', () => {
  const ws = new Workspace(mod);
  const theta0 = new Float64Array(4);
  assert.throws(() => createNlb(ws, theta0, { ensembleSize: 0 }), (e: Error) => e instanceof RangeError && /ensembleSize/.test(e.message));
  assert.throws(() => createNlb(ws, theta0, { sigma: -1 }), (e: Error) => e instanceof RangeError && /sigma/.test(e.message));
  assert.throws(() => createNlb(ws, theta0, { sigma: NaN }), RangeError);
  assert.throws(() => createNlb(ws, theta0, { sigmaSchedule: 'fast' as never }), (e: Error) => e instanceof TypeError && /'decay'/.test(e.message));
  assert.throws(() => createNlb(ws, theta0, { Sigma: 1 } as never), (e: Error) => e instanceof TypeError && /Did you mean 'sigma'/.test(e.message));
  assert.throws(() => createNlb(ws, theta0, { antithetic: true, ensembleSize: 5 }), (e: Error) => e instanceof RangeError && /even/.test(e.message));
  const nlb = createNlb(ws, theta0, { ensembleSize: 3 });
  const obj = new LeastSquares(ws, new Float64Array(5));
  const wrongN = new RowEvaluator(3, 5, () => {});
  assert.throws(() => nlb.step(wrongN, obj), (e: Error) => e instanceof RangeError && /n = 4/.test(e.message));
  const wrongM = new RowEvaluator(4, 6, () => {});
  assert.throws(() => nlb.step(wrongM, obj), (e: Error) => e instanceof RangeError && /5 outputs/.test(e.message));
  const asyncEv: Evaluator = { n: 4, m: 5, evaluate: async () => {} };
  assert.throws(() => nlb.step(asyncEv, obj), (e: Error) => e instanceof TypeError && /stepAsync/.test(e.message));
  assert.throws(() => new LeastSquares(ws, [1, NaN]), (e: Error) => e instanceof RangeError && /y\[1\]/.test(e.message));
  assert.throws(() => new LeastSquares(ws, [1, 2], [1, 0]), (e: Error) => e instanceof RangeError && /positive/.test(e.message));
  nlb.dispose();
  assert.throws(() => nlb.theta(), /disposed/);
  ws.dispose();
});

test.run();
