// Models ready to use: loadModel attaches a module by itself (as tfjs's loadLayersModel returns a
// usable model), and setDefaultModule sets the module of every call that is not given one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule, setDefaultModule } from '../bindings/wasm.js';
import { bytesInUse } from '../bindings/workspace.js';
import { mlp } from '../bindings/nn/mlp.js';
import { fit } from '../bindings/nn/fit.js';
import { encodeModel, loadModel, modelToBlob } from '../bindings/nn/serialize.js';
import { minimize } from '../bindings/optimizers/minimize.js';
import { gaussian, mulberry32, referenceForward } from './nn-oracle.js';

const LAYERS = [3, 5, 2];
const rand = mulberry32(17);
const rows = 8;
const xs = Float32Array.from({ length: rows * 3 }, () => gaussian(rand));
const x = { data: xs, shape: [rows, 3] as [number, number] };
const labels = Int32Array.from({ length: rows }, (_, r) => r % 2);

// The mean softmax cross-entropy and accuracy of logits (rows × 2), in plain TypeScript.
function crossEntropyOracle(logits: ArrayLike<number>) {
  let loss = 0, hits = 0;
  for (let r = 0; r < rows; r++) {
    const a = logits[2 * r], b = logits[2 * r + 1];
    const max = Math.max(a, b);
    const lse = max + Math.log(Math.exp(a - max) + Math.exp(b - max));
    loss += lse - (labels[r] ? b : a);
    hits += Number((b > a ? 1 : 0) === labels[r]);
  }
  return { loss: loss / rows, accuracy: hits / rows };
}

test.after.each(() => setDefaultModule(undefined));

test('loadModel(bytes | Blob) without a module gives a model that predicts and evaluates', async () => {
  const saved = mlp(LAYERS, { activation: 'tanh', seed: 3 });
  const bytes = encodeModel(saved);
  for (const source of [bytes, modelToBlob(saved)]) {
    const model = await loadModel(source);
    assert.ok(model.module, 'a module is attached');
    const probabilities = model.predict(x);
    const logits = referenceForward(LAYERS, 'tanh', saved.params, xs, rows);
    for (let r = 0; r < rows; r++) {
      const p1 = 1 / (1 + Math.exp(logits[2 * r] - logits[2 * r + 1]));
      assert.ok(Math.abs(probabilities[2 * r + 1] - p1) < 1e-5, `row ${r}: P(class 1) ${probabilities[2 * r + 1]} vs ${p1}`);
    }
    const got = model.evaluate(x, labels);
    const want = crossEntropyOracle(logits);
    assert.ok(Math.abs(got.loss - want.loss) < 1e-5, `loss ${got.loss} vs ${want.loss}`);
    assert.is(got.accuracy, want.accuracy);
  }
});

test('loadModel keeps an explicit module; without a default every loaded model gets its own instance', async () => {
  const bytes = encodeModel(mlp(LAYERS, { seed: 1 }));
  const mod = await loadModule();
  assert.ok((await loadModel(bytes, { module: mod })).module === mod);
  const [a, b] = [await loadModel(bytes), await loadModel(bytes)];
  assert.ok(a.module !== b.module && a.module !== mod);
  assert.ok(a.module!.compiled === mod.compiled, 'compiled once');
});

test('setDefaultModule: loadModel, fit and minimize run on it when not given a module', async () => {
  const mod = await loadModule();
  setDefaultModule(mod);
  assert.ok((await loadModel(encodeModel(mlp(LAYERS, { seed: 1 })))).module === mod);
  const model = mlp(LAYERS, { seed: 2 });
  await fit(model, x, labels, { iterations: 2, batchSize: rows, nlb: { ensembleSize: 4 } });
  assert.ok(model.module === mod, 'fit attached the default module');
  let usedDuringRun = 0;
  const y = Float64Array.from([1, -2, 3]);
  const r = await minimize({
    forward: (t, k) => t.slice(0, k * 3).map((v) => 2 * v), y, theta0: new Float64Array(3), ensembleSize: 6, seed: 9,
    maxIterations: 40, tolerance: 1e-20, onIteration: () => { usedDuringRun = Math.max(usedDuringRun, bytesInUse(mod)); },
  });
  assert.ok(usedDuringRun > 0, 'minimize allocated its buffers in the default module');
  assert.is(bytesInUse(mod), 0, 'and gave them back');
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(r.theta[i] - y[i] / 2) < 1e-8);
  setDefaultModule(undefined);
  assert.ok((await loadModel(encodeModel(model))).module !== mod, 'cleared: a new instance again');
});

test('setDefaultModule rejects what loadModule did not return', () => {
  for (const bad of [null, {}, 3, { exports: {}, memory: {} }]) {
    assert.throws(() => setDefaultModule(bad as never), (e: Error) => e instanceof TypeError && /setDefaultModule expects a module from `await loadModule\(\)`/.test(e.message));
  }
});

test.run();
