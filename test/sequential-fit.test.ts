// fit() on sequential() models: a tiny CNN learns bars, a sign-activation network learns where back
// propagation's gradient is zero, resume and workers keep the bits, the exact last layer and the
// evaluator's low-rank blocks follow the model.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { builds, expectRejection } from './helpers.js';
import { conv2d, dense, flatten, maxPool2d } from '../bindings/nn/layers.js';
import { sequential, Sequential } from '../bindings/nn/sequential.js';
import { fit } from '../bindings/nn/fit.js';
import { LastLayerSolver } from '../bindings/nn/lastlayer.js';
import { decodeModel, encodeModel } from '../bindings/nn/serialize.js';
import { SeededRandom } from '../bindings/nn/random.js';
import { withNetworkBlocks } from '../bindings/nn/lowrank-evaluator.js';
import { modelBlocks } from '../bindings/nn/model.js';
import { FIT_NLB_DEFAULTS } from '../bindings/optimizers/nlb.js';

/** 8×8 images with one bright bar on a noisy background: class 0 horizontal, class 1 vertical. */
function bars(rows: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new SeededRandom(seed);
  const x = new Float32Array(rows * 64);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    y[r] = r % 2;
    const at = 1 + rng.int(6);
    for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) {
      const on = y[r] === 0 ? i === at : j === at;
      x[r * 64 + i * 8 + j] = (on ? 1 : 0) + 0.3 * rng.normal();
    }
  }
  return { x, y };
}

const cnn = (module: any, seed = 1): Sequential => sequential([
  conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), maxPool2d({ poolSize: 2 }), flatten(), dense({ units: 2 }),
], { inputShape: [8, 8, 1], seed, module });

test('a tiny CNN learns horizontal vs vertical bars to ≥ 98 % with fit (rank-1 members per weight block)', async () => {
  const [module] = await builds();
  const train = bars(400, 1);
  const held = bars(400, 2);
  const model = cnn(module);
  const before = model.evaluate(held.x, held.y).accuracy;
  const h = await fit(model, train.x, train.y, { batchSize: 64, iterations: 100, seed: 3 });
  const after = model.evaluate(held.x, held.y);
  assert.ok(after.accuracy >= 0.98, `held-out accuracy ${after.accuracy} (before training ${before})`);
  assert.ok(before < 0.8 && h.iteration === 100 && Number.isFinite(after.loss), `before ${before}`);
  // fit drew rank-r members over the model's own blocks: conv [3, 3, 1, 4], [4], dense [36, 2], [2]
  assert.equal(modelBlocks(model), [[3, 3, 1, 4], [4], [36, 2], [2]]);
  assert.equal((withNetworkBlocks({ ...FIT_NLB_DEFAULTS }, modelBlocks(model)) as any).blocks, [[3, 3, 1, 4], [4], [36, 2], [2]]);
});

/** Points of R^4 labelled by a hyperplane, kept ≥ 0.3 away from it. */
function halfSpace(rows: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new SeededRandom(seed);
  const w = [0.8, -0.5, 0.3, 0.1];
  const x = new Float32Array(rows * 4);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows;) {
    const p = [0, 1, 2, 3].map(() => rng.normal());
    const s = p.reduce((a, v, i) => a + v * w[i], 0);
    if (Math.abs(s) < 0.3) continue;
    x.set(p, r * 4);
    y[r++] = s > 0 ? 1 : 0;
  }
  return { x, y };
}

test('a sign-activation network: the first layer\'s gradient is exactly 0, yet NLB learns the set to ≥ 95 %', async () => {
  const [module] = await builds();
  const train = halfSpace(400, 5);
  const held = halfSpace(400, 6);
  const model = sequential([dense({ units: 16, activation: 'sign' }), dense({ units: 2 })], { inputShape: 4, seed: 2, module });
  // Back propagation's gradient w.r.t. the first layer's weights: a small change of any of them
  // (large enough to change its f32 value) leaves every sign unit, hence the loss, exactly as it was.
  const base = model.evaluate(train.x, train.y).loss;
  const theta = model.params.slice();
  const h = 1e-4;
  for (let i = 0; i < 4 * 16; i++) {
    const t = theta.slice();
    t[i] += h;
    assert.ok(Math.fround(t[i]) !== Math.fround(theta[i]));
    model.setParameters(t);
    assert.is(model.evaluate(train.x, train.y).loss, base, `∂loss/∂W1[${i}] is 0`);
  }
  // the same step on a last-layer weight does move the loss (the check above can fail)
  const t = theta.slice();
  t[model.placement.layers[1].weights] += h;
  model.setParameters(t);
  assert.ok(model.evaluate(train.x, train.y).loss !== base);
  model.setParameters(theta);
  const start = model.evaluate(held.x, held.y).accuracy;
  await fit(model, train.x, train.y, { batchSize: 100, iterations: 100, seed: 4 });
  const acc = model.evaluate(held.x, held.y).accuracy;
  assert.ok(start < 0.7 && acc >= 0.95, `held-out accuracy ${start} → ${acc}`);
  // the first layer moved: NLB trained through the zero-gradient units
  assert.ok(model.params.subarray(0, 64).some((v, i) => v !== theta[i]));
});

const bits = (a: Float64Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

test('resume after save/load continues bit-identically; workers: 1 gives the bits of workers: 0 (Gaussian and rank-r)', async () => {
  const [module] = await builds();
  const { x, y } = bars(200, 7);
  for (const nlb of [undefined, { perturbation: 'gaussian' as const, ensembleSize: 16 }]) {
    const options = { batchSize: 32, seed: 9, ...(nlb && { nlb }) };
    const straight = cnn(module, 3);
    await fit(straight, x, y, { ...options, iterations: 12 });
    const half = cnn(module, 3);
    await fit(half, x, y, { ...options, iterations: 5 });
    const loaded = decodeModel(encodeModel(half), { module }) as Sequential;
    await fit(loaded, x, y, { ...options, iterations: 12, resume: true });
    assert.is(bits(loaded.params), bits(straight.params), `resume ${nlb ? 'gaussian' : 'rank-1'}`);
    for (const workers of nlb ? [1] : [1, 2]) {
      const threaded = cnn(module, 3);
      await fit(threaded, x, y, { ...options, iterations: 12, workers });
      assert.is(bits(threaded.params), bits(straight.params), `workers: ${workers} ${nlb ? 'gaussian' : 'rank-1'}`);
    }
  }
});

test('exactLastLayer on a sequential model: the solve lowers the loss and keeps the layers before the last', async () => {
  const [module] = await builds();
  const { x, y } = bars(300, 11);
  const model = cnn(module, 5);
  const solver = new LastLayerSolver(module, model.placement, 'tanh', x, y);
  try {
    const before = model.evaluate(x, y).loss;
    const solved = solver.solve(model.params, { iterations: 40, l2: 1e-4 });
    const last = model.placement.layers[3];
    assert.equal(Array.from(solved.subarray(0, last.weights)), Array.from(model.params.subarray(0, last.weights)));
    model.setParameters(solved);
    const after = model.evaluate(x, y).loss;
    assert.ok(after < 0.8 * before, `loss ${before} → ${after}`);
  } finally {
    solver.dispose();
  }
  // and through fit: the solves run every 3 iterations on the model's features
  const fitted = cnn(module, 5);
  const start = fitted.evaluate(x, y).loss;
  const h = await fit(fitted, x, y, { batchSize: 50, iterations: 6, exactLastLayer: { every: 3 } });
  assert.is(h.iteration, 6);
  assert.ok(fitted.evaluate(x, y).loss < 0.8 * start);
  // a quantized last layer would round the real-valued solution: refused before training, θ untouched
  const ternary = sequential([flatten(), dense({ units: 2, quantize: { levels: 3 } })], { inputShape: [8, 8, 1], seed: 3, module });
  const theta = ternary.params.slice();
  await expectRejection(() => fit(ternary, x, y, { batchSize: 50, iterations: 2, exactLastLayer: { every: 1 } }), RangeError,
    /exactLastLayer solves the last layer in real numbers, but this model's last layer quantizes its weights to 3 levels/);
  assert.equal(Array.from(ternary.params), Array.from(theta));
});

test('fit options on a sequential model: validation, early stopping, averaging, callbacks, abort, EKI', async () => {
  const [module] = await builds();
  const train = bars(200, 21);
  const held = bars(100, 22);
  const model = cnn(module, 8);
  let calls = 0;
  const h = await fit(model, train.x, train.y, {
    batchSize: 40, epochs: 4, validationData: [held.x, held.y], earlyStopping: { monitor: 'val_accuracy', patience: 50, restoreBest: true },
    averaging: { decay: 0.5, start: 2 }, callbacks: { onEpochEnd: () => { calls++; } },
  });
  // 4 epochs of 5 batches, one validation per epoch end, the callback after each
  assert.equal([h.iteration, h.validation.length, calls, h.history.val_acc!.length], [20, 4, 4, 4]);
  assert.ok(h.bestIteration! >= 0 && model.evaluate(held.x, held.y).accuracy === Math.max(...h.validation.map((v) => v.accuracy)));
  // an abort from a callback ends the run after that iteration, resumable
  const ctrl = new AbortController();
  const aborted = cnn(module, 8);
  const ha = await fit(aborted, train.x, train.y, { batchSize: 40, iterations: 50, signal: ctrl.signal, callbacks: { onIterationEnd: (l) => { if (l.iteration === 2) ctrl.abort(); } } });
  assert.equal([ha.stopReason, ha.iteration], ['aborted', 3]);
  // EKI evaluates explicit parameter rows (SeqEvaluator.evaluate) and lowers the loss
  const eki = cnn(module, 8);
  const start = eki.evaluate(train.x, train.y).loss;
  await fit(eki, train.x, train.y, { optimizer: 'eki', batchSize: 100, iterations: 30, eki: { ensembleSize: 24 } });
  const end = eki.evaluate(train.x, train.y).loss;
  assert.ok(end < 0.9 * start, `EKI loss ${start} → ${end}`);
});

test.run();
