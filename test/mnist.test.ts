import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule } from '../bindings/wasm.js';
import { loadMnist, mnistSplit, stratifiedSplit, takeDigits, MNIST_FEATURES } from '../bindings/data/mnist.js';
import { mlp } from '../bindings/nn/mlp.js';
import { fit } from '../bindings/nn/fit.js';

test('the mnist package gives 10 000 digits of 784 values in [0, 1], every class present', async () => {
  const all = await loadMnist();
  assert.is(all.count, 10000);
  assert.is(all.images.length, 10000 * MNIST_FEATURES);
  let min = Infinity;
  let max = -Infinity;
  for (const v of all.images) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  assert.is(min, 0);
  assert.ok(max <= 1 && max > 0.99, `max pixel ${max}`);
  const counts = new Array(10).fill(0);
  for (const c of all.labels) counts[c]++;
  // The package's per-class files: 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978 digits.
  assert.equal(counts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
  assert.is(await loadMnist(), all, 'read once, then cached');
});

test('8 000 / 2 000 split: disjoint, complete, stratified, deterministic per seed', async () => {
  const all = await loadMnist();
  const { train, test: held } = await mnistSplit(0);
  assert.is(train.count, 8000);
  assert.is(held.count, 2000);
  // Every digit lands in exactly one set: compare multisets of row fingerprints.
  const key = (set: typeof all, i: number) => {
    let h = 0;
    for (let j = 0; j < MNIST_FEATURES; j += 1) h = (Math.imul(h, 31) + Math.round(set.images[i * MNIST_FEATURES + j] * 1000)) | 0;
    return `${set.labels[i]}:${h}`;
  };
  const whole = Array.from({ length: all.count }, (_, i) => key(all, i)).sort();
  const parts = [...Array.from({ length: 8000 }, (_, i) => key(train, i)), ...Array.from({ length: 2000 }, (_, i) => key(held, i))].sort();
  assert.equal(parts, whole);
  const total = new Array(10).fill(0);
  const inTest = new Array(10).fill(0);
  for (const c of all.labels) total[c]++;
  for (const c of held.labels) inTest[c]++;
  for (let c = 0; c < 10; c++) assert.ok(Math.abs(inTest[c] - total[c] / 5) <= 1, `class ${c}: ${inTest[c]} of ${total[c]} in the test set`);
  // Shuffled: the test set is not sorted by class.
  assert.ok(held.labels.slice(0, 50).some((c, i, a) => i > 0 && c < a[i - 1]));
  const again = stratifiedSplit(all, 2000, 0);
  assert.equal(Array.from(again.test.labels), Array.from(held.labels));
  assert.equal(Array.from(again.test.images.subarray(0, 5000)), Array.from(held.images.subarray(0, 5000)));
  const other = stratifiedSplit(all, 2000, 1);
  assert.ok(Array.from(other.test.labels).some((c, i) => c !== held.labels[i]), 'another seed, another split');
  assert.throws(() => stratifiedSplit(all, 0, 0), RangeError);
  assert.throws(() => stratifiedSplit(all, 10000, 0), RangeError);
});

test('NLB on 2 000 MNIST digits beats chance (10 %) by a wide margin in a small budget', async () => {
  const module = await loadModule();
  const { train } = await mnistSplit(0);
  const fitRows = takeDigits(train, Int32Array.from({ length: 1500 }, (_, i) => i));
  const heldRows = takeDigits(train, Int32Array.from({ length: 500 }, (_, i) => 1500 + i));
  const x = { data: fitRows.images, shape: [fitRows.count, MNIST_FEATURES] as [number, number] };
  const xv = { data: heldRows.images, shape: [heldRows.count, MNIST_FEATURES] as [number, number] };
  const model = mlp([MNIST_FEATURES, 32, 10], { activation: 'tanh', init: 'lecun', seed: 2, module });
  const h = await fit(model, x, fitRows.labels, { batchSize: 250, iterations: 100, seed: 2, nlb: { ensembleSize: 16, lambda: 0 } });
  const acc = model.evaluate(xv, heldRows.labels).accuracy;
  assert.ok(acc > 0.65, `held-out accuracy ${acc} after ${h.forwardPasses} forward passes`);
});

test.run();
