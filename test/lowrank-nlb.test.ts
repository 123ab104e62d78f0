// NLB with rank-r members (perturbation: { kind: 'low-rank', rank }, bindings/optimizers/directions.ts)
// against plain-TS oracles: one step equals the NLB step computed from the materialized directions
// (test/lowrank-oracle.ts) and the recorded outputs; ask() rows are θ + σ·s_i·D_{q_i}; minimize with
// declared blocks solves least squares; fit trains, is bit-identical across worker counts and resumes
// bit-identically; bad blocks / ranks give typed errors. Every random draw is seeded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  loadModule, Workspace, createNlb, createAskTell, minimize, LeastSquares, type Buf, type Evaluator, type PerturbedRequest,
} from '../bindings/internal.js';
import { MlpEvaluator } from '../bindings/nn/evaluator.js';
import { mlp } from '../bindings/nn/mlp.js';
import { fit } from '../bindings/nn/fit.js';
import { decodeModel, encodeModel } from '../bindings/nn/serialize.js';
import { gaussian, leastSquares, matVec, randomMatrix, relativeError, solveSpd } from './optim-oracle.js';
import { memberStream, mulberry32, lsSystemRef } from './oracles.js';
import { referenceForward } from './nn-oracle.js';
import { coordCountRef, directionRef } from './lowrank-oracle.js';

const mod = await loadModule();
const paramCount = (dims: readonly number[]) => dims.slice(1).reduce((s, d, l) => s + dims[l] * d + d, 0);
const blocksOf = (dims: readonly number[]) => dims.slice(1).flatMap((d, l) => [[dims[l], d], [d]]);

// D_q of draw (seed, draw) as a parameter vector, from the module's randn (checked in rng.test.ts).
function direction(dims: readonly number[], rank: number, seed: number, draw: number, q: number): Float64Array {
  const ws = new Workspace(mod);
  try {
    const m = coordCountRef(dims, rank);
    const out = ws.f64(m);
    mod.exports.randn(m, seed, draw, q, 0, out.ptr);
    return directionRef(dims, rank, out.view());
  } finally {
    ws.dispose();
  }
}

/** e_i = s_i·D_{q_i} for members 0 … k − 1. */
function directions(dims: readonly number[], rank: number, seed: number, draw: number, k: number, antithetic: boolean): Float64Array[] {
  return Array.from({ length: k }, (_, i) => {
    const { q, s } = memberStream(i, antithetic);
    return direction(dims, rank, seed, draw, q).map((x) => s * x);
  });
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j] * b[j];
  return s;
};

for (const antithetic of [false, true]) {
  test(`one step with rank-2 members (antithetic ${antithetic}) is the plain-TS NLB step from materialized E, Tikhonov included`, () => {
    const dims = [5, 7, 3];
    const n = paramCount(dims);
    const B = 9;
    const k = 6;
    const rank = 2;
    const sigma = 0.05;
    const lambda = 0.02;
    const alpha = 1e-3;
    const rand = mulberry32(4);
    const X = Float32Array.from({ length: B * dims[0] }, () => rand() * 2 - 1);
    const y = Float64Array.from({ length: B * dims[2] }, () => rand() * 2 - 1);
    const g = gaussian(8);
    const theta0 = Float64Array.from({ length: n }, () => 0.4 * g());
    const ev = new MlpEvaluator(mod, { layers: dims, activation: 'tanh', batchSize: B, maxMembers: k + 2 });  // θ and all members in one call, pairs whole
    ev.setBatch(X, Int32Array.from({ length: B }, (_, i) => i));
    // the outputs the optimizer saw, recorded from the fast path
    let F: Float64Array | null = null;
    let seen: PerturbedRequest | null = null;
    const recording: Evaluator = {
      n: ev.n, m: ev.m, maxMembers: ev.maxMembers,
      evaluate: (rows, count, out) => ev.evaluate(rows, count, out),
      evaluatePerturbed: (req: PerturbedRequest, out: Buf<'f64'>) => {
        ev.evaluatePerturbed(req, out);
        assert.is(seen, null, 'one call');
        seen = req;
        F = out.view().slice(0, (req.count + 1) * ev.m);
      },
    };
    const ws = new Workspace(mod);
    const obj = new LeastSquares(ws, y);
    const nlb = createNlb(ws, theta0, {
      ensembleSize: k, sigma, lambda, alpha, seed: 5, antithetic, perturbation: { kind: 'low-rank', rank }, blocks: blocksOf(dims),
    });
    const d = nlb.step(recording, obj);
    assert.ok(seen && F, 'the fast path was used');
    assert.equal((seen as PerturbedRequest).perturbation, { kind: 'low-rank', rank, shapes: [[5, 7], [7, 3]], dims });
    assert.ok(d.accepted && d.tries === 1, 'the first candidate is accepted');
    const Fr = F as Float64Array;
    const m = ev.m;
    // the members' outputs are the network's at θ + σ e_i (f32 forward: loose bound; lowrank.test.ts is exact)
    const E = directions(dims, rank, 5, 0, k, antithetic);
    for (let i = 0; i < k; i++) {
      const member = theta0.map((t, j) => t + sigma * E[i][j]);
      const ref = referenceForward(dims, 'tanh', member, X, B);
      for (let j = 0; j < m; j++) assert.ok(Math.abs(Fr[(i + 1) * m + j] - ref[j]) < 1e-5, `member ${i} output ${j}: ${Fr[(i + 1) * m + j]} vs ${ref[j]} (F0 ${Fr[j]})`);
    }
    // the plain-TS step: A = ΔFᵀΔF + λσ²ΞᵀΞ, r = ΔFᵀ(y − F0) − λσΞᵀθ, z = (A + α·mean diag·I)⁻¹r, θ⁺ = θ + σ E z
    const sys = lsSystemRef(k, m, 1, Fr.subarray(m), Fr.subarray(0, m), y);
    const A = sys.A;
    const r = sys.r;
    for (let a = 0; a < k; a++) {
      r[a] -= lambda * sigma * dot(E[a], theta0);
      for (let b = 0; b < k; b++) A[a * k + b] += lambda * sigma * sigma * dot(E[a], E[b]);
    }
    let meanDiag = 0;
    for (let a = 0; a < k; a++) meanDiag += A[a * k + a] / k;
    const M = A.map((v, idx) => (idx % (k + 1) === 0 ? v + alpha * meanDiag : v));
    const z = solveSpd(M, k, r);
    const expected = Float64Array.from(theta0);
    for (let a = 0; a < k; a++) for (let j = 0; j < n; j++) expected[j] += sigma * z[a] * E[a][j];
    const step = expected.map((v, j) => v - theta0[j]);
    const got = nlb.theta().map((v, j) => v - theta0[j]);
    assert.ok(relativeError(got, step) < 1e-9, `step relative error ${relativeError(got, step)}`);
    ev.dispose();
    ws.dispose();
  });
}

test('ask() rows are θ + σ·s_i·D_{q_i}; ask/tell, minimize sync and async give the same iterates; maxMembers chunks', async () => {
  const dims = [4, 3, 2];
  const n = paramCount(dims);
  const m = 40;
  const A = randomMatrix(m, n, 3);
  const g = gaussian(4);
  const y = Float64Array.from({ length: m }, () => g());
  const forward = (thetas: Float64Array, k: number): Float64Array => {
    const out = new Float64Array(k * m);
    for (let r = 0; r < k; r++) matVec(A, m, n, thetas, out, r * n, r * m);
    return out;
  };
  const theta0 = Float64Array.from({ length: n }, () => 0.3 * g());
  const options = {
    theta0, y, ensembleSize: 6, seed: 12, maxIterations: 12, module: mod, antithetic: true, sigma: 0.2,
    perturbation: { kind: 'low-rank' as const, rank: 1 }, blocks: blocksOf(dims),
  };
  const sync = await minimize({ ...options, forward });
  const asyncRun = await minimize({ ...options, forward: async (t, k) => { await new Promise((r) => setTimeout(r, 0)); return forward(t, k); } });
  const chunked = await minimize({ ...options, forward, maxMembers: 3 });
  const opt = await createAskTell(options);
  let first = true;
  while (!opt.done) {
    const rows = opt.ask();
    const k = rows.length / n;
    if (first) {
      // θ₀ then members 0 … 5 of draw 0
      assert.is(k, 7);
      const E = directions(dims, 1, 12, 0, 6, true);
      assert.equal(Array.from(rows.subarray(0, n)), Array.from(theta0));
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < n; j++) {
          const want = theta0[j] + 0.2 * E[i][j];
          assert.ok(Math.abs(rows[(i + 1) * n + j] - want) <= 1e-15 * (1 + Math.abs(want)), `member ${i} coordinate ${j}`);
        }
      }
      first = false;
    }
    opt.tell(forward(rows, k));
  }
  assert.equal(Array.from(opt.theta()), Array.from(sync.theta));
  assert.equal(Array.from(asyncRun.theta), Array.from(sync.theta));
  assert.equal(Array.from(chunked.theta), Array.from(sync.theta));
  opt.dispose();
});

test('a low-rank minimize solves a least-squares problem (n = 26) to relative error < 1e-6', async () => {
  const dims = [3, 5, 1];
  const n = paramCount(dims);
  const m = 60;
  const A = randomMatrix(m, n, 21);
  const g = gaussian(22);
  const y = Float64Array.from({ length: m }, () => g());
  const star = leastSquares(A, m, n, y);
  const result = await minimize({
    theta0: new Float64Array(n), y, module: mod, ensembleSize: 8, seed: 2, maxIterations: 1500,
    perturbation: { kind: 'low-rank', rank: 1 }, blocks: blocksOf(dims),
    forward: (thetas, k) => {
      const out = new Float64Array(k * m);
      for (let r = 0; r < k; r++) matVec(A, m, n, thetas, out, r * n, r * m);
      return out;
    },
  });
  const err = relativeError(result.theta, star);
  assert.ok(err < 1e-6, `relative error ${err} after ${result.history.length} iterations`);
  assert.ok(result.history.length > 100, 'k = 8 ≪ n: many steps');
});

/** Four Gaussian blobs in 8-D (noise 0.35). */
function blobs(rows: number, seed: number) {
  const rand = mulberry32(seed);
  const x = new Float32Array(rows * 8);
  const yv = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = Math.floor(rand() * 4);
    yv[r] = c;
    for (let j = 0; j < 8; j++) x[r * 8 + j] = (j % 4 === c ? 3 : 0) * (j < 4 ? 1 : 0.3) + 0.35 * gaussianOf(rand);
  }
  return { x: { data: x, shape: [rows, 8] as [number, number] }, y: yv };
}
function gaussianOf(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-300)) * Math.cos(2 * Math.PI * rand());
}

const net = () => mlp([8, 12, 4], { activation: 'tanh', seed: 3, module: mod });
const lowRank = { ensembleSize: 16, perturbation: { kind: 'low-rank' as const, rank: 1 } };

test('fit with rank-1 members trains a small MLP to ≥ 97 % held-out accuracy', async () => {
  const train = blobs(600, 1);
  const val = blobs(300, 2);
  const model = net();
  const before = model.evaluate(val.x, val.y).accuracy;
  await fit(model, train.x, train.y, { batchSize: 100, epochs: 12, nlb: lowRank });
  const after = model.evaluate(val.x, val.y).accuracy;
  assert.ok(before < 0.9, `untrained accuracy ${before}`);
  assert.ok(after >= 0.97, `held-out accuracy ${after}`);
});

test('fit with low-rank members: workers 0, 1, 2 give bit-identical θ; resume after save/load is bit-identical', async () => {
  const train = blobs(300, 5);
  const opts = { batchSize: 60, seed: 7, nlb: { ...lowRank, antithetic: true, perturbation: { kind: 'low-rank' as const, rank: 2 } } };
  const runs: number[][] = [];
  for (const workers of [0, 1, 2]) {
    const model = net();
    await fit(model, train.x, train.y, { ...opts, iterations: 10, workers });
    runs.push(Array.from(model.params));
  }
  assert.equal(runs[1], runs[0]);
  assert.equal(runs[2], runs[0]);
  const first = net();
  await fit(first, train.x, train.y, { ...opts, iterations: 4 });
  const resumed = decodeModel(encodeModel(first), { module: mod });
  await fit(resumed, train.x, train.y, { ...opts, iterations: 10, resume: true });
  assert.equal(Array.from(resumed.params), runs[0]);
  // the saved options are the user's (blocks come from the model, not from the file)
  const st = first.trainingState as { optimizerOptions: Record<string, unknown> };
  assert.equal(st.optimizerOptions.perturbation, { kind: 'low-rank', rank: 2 });
  assert.is(st.optimizerOptions.blocks, undefined);
  // and a Gaussian run differs (the option is used)
  const gaussianModel = net();
  await fit(gaussianModel, train.x, train.y, { ...opts, nlb: { ensembleSize: 16, antithetic: true }, iterations: 10 });
  assert.not.equal(Array.from(gaussianModel.params), runs[0]);
});

test('bad perturbations and blocks give typed errors that say what was expected', async () => {
  const ws = new Workspace(mod);
  const n = paramCount([4, 3, 2]);
  const theta = new Float64Array(n);
  const lr = { kind: 'low-rank' as const, rank: 1 };
  const bad: [Record<string, unknown>, new (...a: never[]) => Error, RegExp][] = [
    [{ perturbation: lr }, TypeError, /needs blocks: θ's parameter shapes in order, each weight shape with ≥ 2 dims/],
    [{ perturbation: lr, blocks: [[4, 3], [3], [3, 2]] }, TypeError, /needs blocks/],
    [{ perturbation: lr, blocks: [[4, 3], [2], [3, 2], [2]] }, TypeError, /blocks\[1\] must be the bias shape \[3\]/],
    [{ perturbation: lr, blocks: [[12], [3], [3, 2], [2]] }, TypeError, /blocks\[0\] must be a weight shape of ≥ 2 positive integers/],
    [{ perturbation: lr, blocks: [[2, 2, 3], [4], [3, 2], [2]] }, TypeError, /blocks\[1\] must be the bias shape \[3\]/],
    [{ perturbation: lr, blocks: [[4, 3], [3], [2, 2], [2]] }, RangeError, /blocks hold 21 parameters but θ has n = 23/],
    [{ perturbation: lr, blocks: [[4, 3], [3], [3, 3], [3]] }, RangeError, /blocks hold 27 parameters but θ has n = 23/],
    [{ perturbation: lr, blocks: [[4, 0], [0], [0, 2], [2]] }, TypeError, /blocks\[0\] must be a weight shape/],
    [{ perturbation: { kind: 'low-rank', rank: 0 }, blocks: blocksOf([4, 3, 2]) }, RangeError, /rank must be an integer in \[1, 64\]; got 0/],
    [{ perturbation: { kind: 'low-rank', rank: 1.5 }, blocks: blocksOf([4, 3, 2]) }, RangeError, /rank must be an integer/],
    [{ perturbation: { kind: 'low-rank', rank: 65 }, blocks: blocksOf([4, 3, 2]) }, RangeError, /rank must be an integer/],
    [{ perturbation: { kind: 'low-rank', rank: 1, blocks: [] } }, TypeError, /unknown key 'blocks'/],
    [{ perturbation: 'dense' }, TypeError, /perturbation must be 'gaussian' or \{ kind: 'low-rank', rank \}/],
    [{ blocks: blocksOf([4, 3, 2]) }, TypeError, /with Gaussian members it is not used/],
  ];
  for (const [options, kind, pattern] of bad) {
    assert.throws(() => createNlb(ws, theta, options), (e: Error) => e instanceof kind && pattern.test(e.message), JSON.stringify(options));
  }
  const before = ws.bytesInUse;
  assert.throws(() => createNlb(ws, theta, { perturbation: lr }));
  assert.is(ws.bytesInUse, before, 'a rejected option allocates nothing');
  // members drawn for other layers than the evaluator's network are refused
  const ev = new MlpEvaluator(mod, { layers: [4, 3, 2], activation: 'tanh', batchSize: 2, maxMembers: 4 });
  ev.setBatch(new Float32Array(8), [0, 1]);
  const th = ws.f64(n);
  const out = ws.f64(4 * ev.m);
  assert.throws(() => ev.evaluatePerturbed({
    theta: th, sigma: 0.1, seed: 1, draw: 0, member0: 0, count: 2, antithetic: false, center: false,
    perturbation: { kind: 'low-rank', rank: 1, shapes: [[4, 3], [3, 1], [1, 2]], dims: [4, 3, 1, 2] },
  }, out), (e: Error) => e instanceof RangeError && /drawn for layers \[4, 3, 1, 2\] but this network has \[4, 3, 2\]/.test(e.message));
  ev.dispose();
  ws.dispose();
  // EKI has no perturbation option
  let err: unknown;
  try {
    await minimize({ theta0: theta, y: new Float64Array(3), module: mod, optimizer: 'eki', perturbation: lr, forward: (_t, k) => new Float64Array(3 * k) });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof Error && /perturbation/.test(err.message), String(err));
});

test.run();
