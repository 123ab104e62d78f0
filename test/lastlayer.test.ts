import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule } from '../bindings/wasm.js';
import { mlp } from '../bindings/nn/mlp.js';
import { fit } from '../bindings/nn/fit.js';
import { LastLayerSolver } from '../bindings/nn/lastlayer.js';
import { mulberry32, gaussian, referenceForward } from './nn-oracle.js';

const module = await loadModule();

// Plain-TS objective and gradient of the last-layer problem (f64): features from the reference forward.
function oracle(layers: number[], activation: string, theta: Float64Array, x: Float32Array, y: Int32Array, l2: number) {
  const rows = y.length;
  const L = layers.length - 1;
  const hiddenLayers = layers.slice(0, L);
  let hiddenParams = 0;
  for (let l = 0; l + 1 < L; l++) hiddenParams += layers[l] * layers[l + 1] + layers[l + 1];
  // Hidden features: the reference forward of the hidden stack leaves its last layer linear, so
  // the activation is applied here.
  const act = activation === 'tanh' ? Math.tanh : (v: number) => 1 / (1 + Math.exp(-v));
  const H = Array.from(referenceForward(hiddenLayers, activation, theta.subarray(0, hiddenParams), x, rows), act);
  const d = layers[L - 1];
  const C = layers[L];
  const W = theta.subarray(hiddenParams, hiddenParams + d * C);
  const b = theta.subarray(hiddenParams + d * C);
  const grad = new Float64Array(d * C + C);
  let f = 0;
  for (let r = 0; r < rows; r++) {
    const z = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      z[c] = b[c];
      for (let i = 0; i < d; i++) z[c] += H[r * d + i] * W[i * C + c];
    }
    const max = Math.max(...z);
    const sum = z.reduce((s, v) => s + Math.exp(v - max), 0);
    f += Math.log(sum) + max - z[y[r]];
    for (let c = 0; c < C; c++) {
      const g = (Math.exp(z[c] - max) / sum - (c === y[r] ? 1 : 0)) / rows;
      grad[d * C + c] += g;
      for (let i = 0; i < d; i++) grad[i * C + c] += H[r * d + i] * g;
    }
  }
  let ridge = 0;
  for (let i = 0; i < d * C; i++) {
    grad[i] += l2 * W[i];
    ridge += W[i] * W[i];
  }
  return { f: f / rows + 0.5 * l2 * ridge, gradNorm: Math.hypot(...grad) };
}

test('the exact last layer reaches a stationary point of the convex last-layer problem; hidden layers unchanged', () => {
  const layers = [6, 9, 4];
  const rand = mulberry32(12);
  const rows = 200;
  const x = Float32Array.from({ length: rows * 6 }, () => gaussian(rand));
  // Labels from a random nonlinear rule, so the problem is not separable (a finite minimizer exists).
  const y = Int32Array.from({ length: rows }, (_, r) => (Math.floor(2 * Math.abs(x[r * 6] + x[r * 6 + 1] * x[r * 6 + 2])) + (rand() < 0.2 ? 1 : 0)) % 4);
  for (const activation of ['tanh', 'sigmoid'] as const) {
    const model = mlp(layers, { activation, seed: 5 });
    const l2 = 1e-3;
    const solver = new LastLayerSolver(module, layers, activation, x, y);
    try {
      const theta = model.params;
      const before = oracle(layers, activation, theta, x, y, l2);
      const solved = solver.solve(theta, { iterations: 200, l2 });
      const after = oracle(layers, activation, solved, x, y, l2);
      assert.ok(after.f < before.f - 0.1, `${activation}: objective ${before.f} → ${after.f}`);
      assert.ok(after.gradNorm < 1e-3 * before.gradNorm + 1e-5, `${activation}: ‖∇‖ ${before.gradNorm} → ${after.gradNorm}`);
      const hidden = 6 * 9 + 9;
      assert.equal(Array.from(solved.subarray(0, hidden)), Array.from(theta.subarray(0, hidden)));
    } finally {
      solver.dispose();
    }
  }
});

test('fit with exactLastLayer (NLB) lowers the training loss at equal iterations; rejected with EKI', async () => {
  const rand = mulberry32(3);
  const rows = 400;
  const x = Float32Array.from({ length: rows * 6 }, () => gaussian(rand));
  const y = Int32Array.from({ length: rows }, (_, r) => (x[r * 6] > 0 ? 1 : 0) + (x[r * 6 + 1] * x[r * 6 + 2] > 0 ? 2 : 0));
  const data = { data: x, shape: [rows, 6] as [number, number] };
  const plain = mlp([6, 16, 4], { seed: 2, module });
  const exact = mlp([6, 16, 4], { seed: 2, module });
  const opts = { batchSize: 100, iterations: 40, nlb: { ensembleSize: 8 } };
  await fit(plain, data, y, opts);
  await fit(exact, data, y, { ...opts, exactLastLayer: { every: 10 } });
  const lp = plain.evaluate(data, y).loss;
  const le = exact.evaluate(data, y).loss;
  assert.ok(le < 0.9 * lp, `training loss plain ${lp}, exact last layer ${le}`);
  try {
    await fit(exact, data, y, { ...opts, optimizer: 'eki', exactLastLayer: {} });
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, RangeError);
    assert.match((e as Error).message, /exactLastLayer needs a process whose θ is the whole iterate \(such as 'nlb'\)/);
  }
});

test.run();
