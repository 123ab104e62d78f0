import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule } from '../bindings/wasm.js';
import { mlp } from '../bindings/nn/mlp.js';
import { fit, FitError, FIT_NLB_DEFAULTS, type FitIteration } from '../bindings/nn/fit.js';
import { OptimizationError } from '../bindings/errors.js';
import { createNlb } from '../bindings/optimizers/nlb.js';
import { mlpBlocks } from '../bindings/optimizers/directions.js';
import type { NlbState } from '../bindings/optimizers/types.js';
import { Workspace } from '../bindings/workspace.js';
import { decodeModel, encodeModel } from '../bindings/nn/serialize.js';
import { epochPermutation } from '../bindings/nn/random.js';
import { blobs, gaussian, mulberry32 } from './nn-oracle.js';

const module = await loadModule();


const small = () => mlp([8, 12, 4], { activation: 'tanh', seed: 3, module });
const fast = { ensembleSize: 12 };

test('NLB fit: a small MLP reaches ≥ 98 % on a separable synthetic set (held-out rows)', async () => {
  const train = blobs(600, 1);
  const val = blobs(300, 2);
  const model = small();
  const before = model.evaluate(val.x, val.y).accuracy;
  const h = await fit(model, train.x, train.y, { batchSize: 100, epochs: 12, nlb: fast, validationData: [val.x, val.y] });
  const after = model.evaluate(val.x, val.y);
  assert.ok(before < 0.9, `untrained accuracy ${before}: training must be what separates the classes`);
  assert.ok(after.accuracy >= 0.98, `held-out accuracy ${after.accuracy}`);
  assert.is(h.stopReason, 'maxIterations');
  assert.is(h.iterations.length, 72);
  assert.is(h.epochs.length, 12);
  // The last validation run is on the final θ: it equals a fresh evaluation.
  assert.is(h.validation[h.validation.length - 1].accuracy, after.accuracy);
  assert.ok(h.epochs[11].loss < h.epochs[0].loss / 3, `epoch loss ${h.epochs[0].loss} → ${h.epochs[11].loss}`);
  // Counters: forward passes add up, the acceptance test makes every step lower the batch loss.
  assert.is(h.forwardPasses, h.iterations.reduce((s, d) => s + d.evaluations, 0));
  for (const d of h.iterations) if (d.accepted) assert.ok(d.loss < d.lossBefore);
});

test('the logged batch cross-entropy is Φ without (λ/2)‖θ‖², measured on the first batch', async () => {
  const train = blobs(300, 12);
  const model = small();
  const lambda = 0.01;
  const h = await fit(model, train.x, train.y, { batchSize: 60, iterations: 1, seed: 5, nlb: { ...fast, lambda } });
  const d = h.iterations[0];
  assert.ok(d.accepted);
  const rows = epochPermutation(300, 5, 0).subarray(0, 60);
  const xb = new Float32Array(60 * 8);
  rows.forEach((r, i) => xb.set(train.x.data.subarray(r * 8, r * 8 + 8), i * 8));
  const ce = model.evaluate({ data: xb, shape: [60, 8] }, Array.from(rows, (r) => train.y[r])).loss;
  const sq = model.params.reduce((s, v) => s + v * v, 0);
  assert.ok(Math.abs(d.crossEntropy - ce) < 1e-5, `logged ${d.crossEntropy}, recomputed ${ce}`);
  assert.ok(Math.abs(d.loss - (ce + 0.5 * lambda * sq)) < 1e-5, `Φ ${d.loss} vs ${ce + 0.5 * lambda * sq}`);
});

test('EKI fit trains the same network well above chance', async () => {
  const train = blobs(600, 1);
  const val = blobs(300, 2);
  const model = small();
  await fit(model, train.x, train.y, { optimizer: 'eki', batchSize: 100, epochs: 8, eki: { ensembleSize: 24, spread: 0.3, step: 10 } });
  const acc = model.evaluate(val.x, val.y).accuracy;
  assert.ok(acc > 0.9, `EKI held-out accuracy ${acc}`);
});

for (const optimizer of ['nlb', 'eki'] as const) {
  test(`${optimizer}: save after 7 iterations + resume to 15 is bit-identical to 15 uninterrupted`, async () => {
    const train = blobs(500, 4);
    const opts = { optimizer, batchSize: 64, seed: 9, nlb: optimizer === 'nlb' ? fast : undefined, eki: optimizer === 'eki' ? { ensembleSize: 8, spread: 0.1 } : undefined };
    const whole = small();
    const hWhole = await fit(whole, train.x, train.y, { ...opts, iterations: 15 });

    const first = small();
    const h1 = await fit(first, train.x, train.y, { ...opts, iterations: 7 });
    const bytes = encodeModel(first);
    const resumed = decodeModel(bytes, { module });
    const h2 = await fit(resumed, train.x, train.y, { ...opts, iterations: 15, resume: true });

    assert.equal(Array.from(resumed.params), Array.from(whole.params), 'θ identical bit for bit');
    const strip = (d: FitIteration) => [d.iteration, d.epoch, d.loss, d.lossBefore, d.sigma, d.alpha, d.mu, d.zNorm, d.stepNorm, d.forwardPasses];
    assert.equal([...h1.iterations, ...h2.iterations].map(strip), hWhole.iterations.map(strip));
    assert.is(h2.iteration, 15);
    assert.is(h2.forwardPasses, hWhole.forwardPasses);
    // The epoch that straddles the save point is logged with the same mean loss.
    assert.equal(h2.epochs.map((e) => [e.epoch, e.loss]), hWhole.epochs.filter((e) => e.iteration >= 7).map((e) => [e.epoch, e.loss]));
  });
}

test('resume is bit-identical with averaging, the exact last layer and early-stopping state too', async () => {
  const train = blobs(400, 13);
  const val = blobs(100, 14);
  const opts = {
    batchSize: 50, seed: 3, nlb: fast, averaging: { decay: 0.9, start: 2 }, exactLastLayer: { every: 4, iterations: 10 },
    validationData: [val.x, val.y] as [typeof val.x, Int32Array], validationEvery: 3, earlyStopping: { patience: 100, restoreBest: true },
  };
  const whole = small();
  const hWhole = await fit(whole, train.x, train.y, { ...opts, iterations: 14 });
  const first = small();
  await fit(first, train.x, train.y, { ...opts, iterations: 6 });
  const resumed = decodeModel(encodeModel(first), { module });
  const h2 = await fit(resumed, train.x, train.y, { ...opts, iterations: 14, resume: true });
  assert.equal(Array.from(resumed.params), Array.from(whole.params));
  assert.is(h2.bestIteration, hWhole.bestIteration);
  assert.equal(h2.validation.map((v) => v.loss), hWhole.validation.filter((v) => v.iteration >= 6).map((v) => v.loss));
});

/** Two noisy clusters in 3-D (40 rows): the data of the version-1 file below. */
function tinySet() {
  const rand = mulberry32(21);
  const x = new Float32Array(40 * 3);
  const y = new Int32Array(40);
  for (let r = 0; r < 40; r++) {
    y[r] = r % 2;
    for (let j = 0; j < 3; j++) x[r * 3 + j] = (y[r] ? 1 : -1) * (j + 1) * 0.5 + gaussian(rand);
  }
  return { x: { data: x, shape: [40, 3] as [number, number] }, y };
}

// A file of format version 1 (training state version 1) written by the previous release: an MLP
// [3, 4, 2] tanh (seed 1) after 5 NLB iterations of fit(tinySet, { batchSize: 10, seed: 2, nlb: { ensembleSize: 4 } }).
const V1_FILE = [
  'RU5LRi1NTFABAAAAUQMAAHsiZm9ybWF0IjoiZW5rZi13YXNtL21scCIsInZlcnNpb24iOjEsImFyY2hpdGVjdHVyZSI6eyJsYXllcnMiOlszLD',
  'QsMl0sImFjdGl2YXRpb24iOiJ0YW5oIiwiaW5pdCI6Imdsb3JvdCIsInNlZWQiOjEsImxvc3MiOiJzb2Z0bWF4LWNyb3NzLWVudHJvcHkiLCJs',
  'YXlvdXQiOiJwZXIgbGF5ZXI6IFcgKGZhbi1pbiDDlyBmYW4tb3V0LCByb3ctbWFqb3IpIHRoZW4gYiJ9LCJwYXJhbXMiOjI2LCJ0cmFpbmluZy',
  'I6eyJraW5kIjoiZW5rZi13YXNtL2ZpdCIsInZlcnNpb24iOjEsIm9wdGltaXplciI6Im5sYiIsIm9wdGltaXplck9wdGlvbnMiOnsiZW5zZW1i',
  'bGVTaXplIjo0LCJzaWdtYSI6MC4wMSwic2lnbWFTY2hlZHVsZSI6ImNvbnN0YW50IiwidHJ1c3RSZWdpb24iOjEsInN0ZXBTaXplIjoxLCJzdG',
  'VwRGVjYXkiOjIwMCwibGFtYmRhIjowLjAwMywic2VlZCI6Mn0sIm9wdGltaXplclN0YXRlIjp7InRoZXRhIjp7IiRzZWN0aW9uIjoxfSwidCI6',
  'NSwiZHJhd3MiOjUsImFscGhhIjoxLjAwMDAwMDAwMDAwMDAwMDNlLTExLCJzaWdtYSI6MC4wMX0sInNlZWQiOjIsImJhdGNoU2l6ZSI6MTAsIn',
  'Jvd3MiOjQwLCJpdGVyYXRpb24iOjUsImZvcndhcmRQYXNzZXMiOjMwLCJlbGFwc2VkTXMiOjguMjE2MTgzMDAwMDAwMDAxLCJlcG9jaExvc3NT',
  'dW0iOjAuMTEzNDc4NTEzMDYyNzE3MTMsImVwb2NoSXRlcmF0aW9ucyI6MSwiZWFybHkiOm51bGwsImF2ZXJhZ2luZyI6bnVsbCwiZXhhY3RMYX',
  'N0TGF5ZXIiOm51bGwsImF2ZXJhZ2UiOm51bGx9LCJzZWN0aW9ucyI6W3siZHR5cGUiOiJmNjQiLCJsZW5ndGgiOjI2LCJvZmZzZXQiOjB9LHsi',
  'ZHR5cGUiOiJmNjQiLCJsZW5ndGgiOjI2LCJvZmZzZXQiOjIwOH1dfQAAAAAAAAAKpk34QsbBP2q8Xiz8J8K/xsCLVvL/2j+DTfMQSN/lPxz3pw',
  'uLwvA/0o11EksD8z9e+07dwUbPP8HCcVk7qQDAlXX2EDPB4D/8pPyWWSruPxZVWxAMXL0/+2QtTmda6z8VtYVRViHUvyasX9a7GJi/5BQtiSHA',
  '6j9urMlrmjDgP1iU4X5NedQ/qvPW4rbf+j+02FAeG4nnv5LD6K8DMru/lC8B/19F9r9W8hDcWdXjv60nN9iP/Oe/5uvJFU5a7r9Fza0iBmLfP+',
  'voSKskTto/CqZN+ELGwT9qvF4s/CfCv8bAi1by/9o/g03zEEjf5T8c96cLi8LwP9KNdRJLA/M/XvtO3cFGzz/BwnFZO6kAwJV19hAzweA//KT8',
  'llkq7j8WVVsQDFy9P/tkLU5nWus/FbWFUVYh1L8mrF/WuxiYv+QULYkhwOo/bqzJa5ow4D9YlOF+TXnUP6rz1uK23/o/tNhQHhuJ57+Sw+ivAz',
  'K7v5QvAf9fRfa/VvIQ3FnV47+tJzfYj/znv+bryRVOWu6/Rc2tIgZi3z/r6EirJE7aPzU8OOg='
].join('');

test('a version-1 file (training state v1) still loads and resumes bit-identically', async () => {
  const bytes = Uint8Array.from(atob(V1_FILE), (c) => c.charCodeAt(0));
  assert.is(new DataView(bytes.buffer).getUint32(8, true), 1, 'the fixture is a version-1 file');
  const { x, y } = tinySet();
  const opts = { batchSize: 10, seed: 2, nlb: { ensembleSize: 4 } };
  const whole = mlp([3, 4, 2], { activation: 'tanh', seed: 1, module });
  // The file was written under fit's former defaults (Gaussian members, trust region 1); resuming
  // it keeps them, so the uninterrupted run spells them out.
  await fit(whole, x, y, { ...opts, nlb: { ensembleSize: 4, perturbation: 'gaussian', trustRegion: 1 }, iterations: 9 });
  const old = decodeModel(bytes, { module });
  assert.is((old.trainingState as { version: number }).version, 1);
  const h = await fit(old, x, y, { ...opts, iterations: 9, resume: true });
  assert.equal(h.iterations.map((d) => d.iteration), [5, 6, 7, 8]);
  assert.equal(Array.from(old.params), Array.from(whole.params));
});

test('the saved state is the optimizers\' public state, and a file holds θ once', async () => {
  const train = blobs(300, 15);
  const val = blobs(60, 16);
  // With averaging the iterate θ_t and θ̄ (the model's θ) are two different vectors: two sections.
  const cases = [
    { extra: {}, sections: 1 },
    { extra: { averaging: { decay: 0.5 } }, sections: 2 },
    { extra: { validationData: [val.x, val.y] as [typeof val.x, Int32Array], earlyStopping: { patience: 50, restoreBest: true } }, sections: 1 },
  ];
  for (const { extra, sections } of cases) {
    const model = small();
    await fit(model, train.x, train.y, { batchSize: 50, iterations: 4, nlb: fast, ...extra });
    const st = model.trainingState as { optimizerState: NlbState; version: number };
    assert.is(st.version, 2);
    // A fresh optimizer takes the state through loadState and reports it back unchanged.
    const ws = new Workspace(module);
    const opt = createNlb(ws, new Float64Array(model.params.length), { ...FIT_NLB_DEFAULTS, ...fast, blocks: mlpBlocks(model.layers) });
    opt.loadState(st.optimizerState);
    assert.equal(opt.saveState(), st.optimizerState);
    opt.dispose();
    ws.dispose();
    // Sections of the file: θ alone (the iterate, the average or the best parameters are θ's bits).
    const bytes = encodeModel(model);
    const dv = new DataView(bytes.buffer);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + dv.getUint32(12, true))));
    assert.equal(header.sections.map((s: { length: number }) => s.length), Array(sections).fill(model.params.length), JSON.stringify(extra));
    const back = decodeModel(bytes, { module });
    const theta = (back.trainingState as { optimizerState: NlbState }).optimizerState.theta;
    assert.equal(Array.from(theta), Array.from(st.optimizerState.theta));
    // The state's θ is a copy: changing the model's parameters leaves the saved run intact.
    back.setParameters(new Float64Array(back.params.length));
    assert.equal(Array.from(theta), Array.from(st.optimizerState.theta));
  }
});

test('an iteration that fails keeps the last good θ, throws a FitError, and the run can resume', async () => {
  const train = blobs(300, 17);
  const seed = 6;
  // One row of iteration 3's batch overflows f32 in the first layer: F(θ_3) is not finite.
  const bad = epochPermutation(300, seed, 0)[3 * 50];
  const data = train.x.data.slice();
  data.fill(3e38, bad * 8, bad * 8 + 8);
  const x = { data, shape: [300, 8] as [number, number] };
  const relu = () => mlp([8, 12, 4], { activation: 'relu', seed: 3, module });
  const opts = { batchSize: 50, seed, nlb: fast };
  // Oracle: the same run stopped after 3 iterations (its batches never hold the bad row).
  const three = relu();
  await fit(three, x, train.y, { ...opts, iterations: 3 });
  const model = relu();
  const start = Array.from(model.params);
  let error: unknown;
  await fit(model, x, train.y, { ...opts, iterations: 10 }).catch((e) => { error = e; });
  assert.instance(error, FitError);
  assert.instance(error, OptimizationError);
  const fe = error as FitError;
  assert.is(fe.iteration, 3);
  assert.match(fe.message, /iteration 3 failed \(OptimizationError: F\(θ\) at iteration 3 has non-finite outputs/);
  assert.match(fe.message, /keeps the parameters after iteration 2/);
  assert.instance(fe.cause, OptimizationError);
  assert.is(fe.history.stopReason, 'error');
  assert.equal(fe.history.iterations.map((d) => d.iteration), [0, 1, 2]);
  assert.is(fe.history.iteration, 3);
  assert.ok(model.params.some((v, i) => v !== start[i]), 'training moved θ before the failure');
  assert.equal(Array.from(model.params), Array.from(three.params), 'θ after iteration 2, bit for bit');
  // The saved state continues the run: with the row repaired, resuming equals an uninterrupted run.
  assert.is((model.trainingState as { iteration: number }).iteration, 3);
  const whole = relu();
  await fit(whole, train.x, train.y, { ...opts, iterations: 6 });
  const h = await fit(model, train.x, train.y, { ...opts, iterations: 6, resume: true });
  assert.equal(h.iterations.map((d) => d.iteration), [3, 4, 5]);
  assert.equal(Array.from(model.params), Array.from(whole.params));
});

test('resume checks that the settings match the saved run', async () => {
  const train = blobs(200, 5);
  const model = small();
  await fit(model, train.x, train.y, { batchSize: 50, iterations: 2, nlb: fast });
  await assert_rejects(fit(model, train.x, train.y, { batchSize: 40, iterations: 4, nlb: fast, resume: true }), RangeError, /saved run used batchSize 50, this call 40/);
  await assert_rejects(fit(model, train.x, train.y, { batchSize: 50, iterations: 4, nlb: { ensembleSize: 10 }, resume: true }), RangeError, /nlb options/);
  await assert_rejects(fit(small(), train.x, train.y, { resume: true }), RangeError, /no training state from fit\(\)/);
});

test('epochs: each epoch visits every row once in a seeded order; onEpochEnd once per epoch', async () => {
  const p = epochPermutation(1000, 7, 3);
  assert.equal(Array.from(p).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.equal(Array.from(epochPermutation(1000, 7, 3)), Array.from(p));
  assert.ok(Array.from(epochPermutation(1000, 7, 4)).some((v, i) => v !== p[i]), 'a new order each epoch');
  const train = blobs(300, 6);
  const epochs: number[] = [];
  const h = await fit(small(), train.x, train.y, {
    batchSize: 100, epochs: 3, nlb: fast, callbacks: { onEpochEnd: (e, logs) => { assert.is(logs.epoch, e); epochs.push(e); } },
  });
  assert.equal(epochs, [0, 1, 2]);
  assert.equal(h.iterations.map((d) => d.epoch), [0, 0, 0, 1, 1, 1, 2, 2, 2]);
});

test('tfjs habits: onEpochEnd(epoch, logs) with loss/val_loss/val_acc, and history.history per epoch', async () => {
  const train = blobs(300, 16);
  const val = blobs(120, 17);
  const seen: [number, number, number | undefined, number | undefined][] = [];
  const h = await fit(small(), train.x, train.y, {
    batchSize: 100, epochs: 3, nlb: fast, validationData: [val.x, val.y],
    callbacks: { onEpochEnd: (epoch, logs) => { seen.push([epoch, logs.loss, logs.val_loss, logs.val_acc]); } },
  });
  assert.equal(h.epoch, [0, 1, 2]);
  assert.equal(Object.keys(h.history).sort(), ['loss', 'val_acc', 'val_loss']);
  // the columnar form is the epoch records read by name, and what the callback saw
  assert.equal(h.history.loss, h.epochs.map((e) => e.loss));
  assert.equal(h.history.val_loss, h.epochs.map((e) => e.valLoss));
  assert.equal(h.history.val_acc, h.epochs.map((e) => e.valAccuracy));
  assert.equal(seen, h.epochs.map((e) => [e.epoch, e.loss, e.valLoss, e.valAccuracy]));
  // val_loss is the validation run at the epoch's end: the same number as the validation log
  assert.equal(h.history.val_loss, h.validation.map((v) => v.loss));
  assert.ok(h.history.val_acc!.every((a) => a >= 0 && a <= 1));
  // without validation data there are no val_ columns; with validationEvery off the epoch grid, NaN
  const h2 = await fit(small(), train.x, train.y, { batchSize: 100, epochs: 2, nlb: fast });
  assert.equal(Object.keys(h2.history), ['loss']);
  const h3 = await fit(small(), train.x, train.y, { batchSize: 100, epochs: 2, nlb: fast, validationData: [val.x, val.y], validationEvery: 2 });
  assert.ok(Number.isNaN(h3.history.val_loss![0]) && Number.isFinite(h3.history.val_loss![1]), `${h3.history.val_loss}`);
});

test('callbacks stop training; AbortSignal stops it; yieldEvery lets timers run', async () => {
  const train = blobs(300, 7);
  const h1 = await fit(small(), train.x, train.y, {
    batchSize: 50, iterations: 50, nlb: fast, callbacks: { onIterationEnd: (d) => d.iteration < 4 },
  });
  assert.is(h1.stopReason, 'callback');
  assert.is(h1.iterations.length, 5);

  const ctrl = new AbortController();
  let timerFiredAt = -1;
  let current = 0;
  setTimeout(() => { timerFiredAt = current; ctrl.abort(); }, 0);
  const h2 = await fit(small(), train.x, train.y, {
    batchSize: 50, iterations: 10000, nlb: fast, signal: ctrl.signal, yieldEvery: 1,
    callbacks: { onIterationEnd: async (d) => { current = d.iteration; } },
  });
  assert.is(h2.stopReason, 'aborted');
  assert.ok(timerFiredAt >= 0, 'the timer ran during training');
  assert.ok(h2.iterations.length < 10000 && h2.iterations.length >= 1);
  assert.is(h2.iteration, h2.iterations.length);
});

test('early stopping on a validation set the model cannot learn restores the best θ', async () => {
  const train = blobs(400, 8);
  const val = blobs(200, 9);
  // Labels rotated by one class: the better the fit, the worse this "validation" loss.
  const wrong = val.y.map((c) => (c + 1) % 4);
  const model = small();
  const h = await fit(model, train.x, train.y, {
    batchSize: 50, iterations: 400, nlb: fast, validationData: { x: val.x, labels: wrong }, validationEvery: 2,
    earlyStopping: { patience: 3, restoreBest: true },
  });
  assert.is(h.stopReason, 'earlyStopping');
  assert.ok(h.iterations.length < 400);
  const best = Math.min(...h.validation.map((v) => v.loss));
  const bestLog = h.validation.find((v) => v.loss === best)!;
  assert.is(h.bestIteration, bestLog.iteration);
  // Patience 3: exactly three validations after the best one.
  assert.is(h.validation[h.validation.length - 1].iteration, bestLog.iteration + 6);
  assert.ok(Math.abs(model.evaluate(val.x, wrong).loss - best) < 1e-12, 'the model holds the best θ');
});

test('iterate averaging: the model ends at the EMA of the iterates from `start` on', async () => {
  const train = blobs(300, 11);
  const base = { batchSize: 60, nlb: fast, seed: 4 };
  // θ_1 … θ_8, one iteration at a time (resume continues the same run).
  const stepper = small();
  const iterates: Float64Array[] = [];
  for (let t = 1; t <= 8; t++) {
    await fit(stepper, train.x, train.y, { ...base, iterations: t, resume: t > 1 });
    iterates.push(stepper.params.slice());
  }
  const decay = 0.75;
  const start = 3;
  const avg = iterates[start].slice(); // θ after iteration index `start` (0-based) seeds the average
  for (let t = start; t < 8; t++) for (let i = 0; i < avg.length; i++) avg[i] = decay * avg[i] + (1 - decay) * iterates[t][i];
  const model = small();
  await fit(model, train.x, train.y, { ...base, iterations: 8, averaging: { decay, start } });
  let err = 0;
  for (let i = 0; i < avg.length; i++) err = Math.max(err, Math.abs(model.params[i] - avg[i]));
  assert.ok(err < 1e-12, `max |θ̄ − oracle| = ${err}`);
  assert.ok(iterates[7].some((v, i) => Math.abs(v - avg[i]) > 1e-6), 'the average differs from the last iterate');
});

async function assert_rejects(p: Promise<unknown>, type: new (...a: never[]) => Error, pattern: RegExp) {
  try {
    await p;
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, type);
    assert.match((e as Error).message, pattern);
  }
}

test('bad shapes, labels, values and options give typed errors before training', async () => {
  const train = blobs(100, 10);
  const model = small();
  const before = Array.from(model.params);
  await assert_rejects(fit(model, { data: train.x.data, shape: [100, 7] }, train.y), RangeError, /7 columns; expected 8 \(network input size\)/);
  await assert_rejects(fit(model, train.x, train.y.subarray(0, 99)), RangeError, /99 entries but the data has 100 rows/);
  await assert_rejects(fit(model, train.x, Int32Array.from(train.y, (c, i) => (i === 17 ? 4 : c))), RangeError, /labels\[17\] = 4 is not a class id in \[0, 3\]/);
  await assert_rejects(fit(model, train.x, Array.from(train.y, (c, i) => (i === 3 ? 1.5 : c))), RangeError, /labels\[3\] = 1\.5/);
  const nan = train.x.data.slice();
  nan[8 * 5 + 2] = NaN;
  await assert_rejects(fit(model, { data: nan, shape: [100, 8] }, train.y), RangeError, /non-finite value \(NaN\) at row 5, column 2/);
  await assert_rejects(fit(model, train.x, train.y, { batchSize: 101 }), RangeError, /batchSize must be an integer in \[1, 100\]; got 101/);
  await assert_rejects(fit(model, train.x, train.y, { optimizer: 'adam' as never }), TypeError, /optimizer must be one of 'nlb', 'eki'; got "adam"/);
  await assert_rejects(fit(model, train.x, train.y, { learningRate: 0.1 } as never), TypeError, /Unknown option 'learningRate' for fit\(\)\. Known options: optimizer, nlb, eki, batchSize/);
  await assert_rejects(fit(model, train.x, train.y, { nlb: { ensembleSise: 4 } as never }), TypeError, /Unknown option 'ensembleSise'/);
  await assert_rejects(fit(model, train.x, train.y, { earlyStopping: { patience: 2, monitor: 'val_loss' } }), RangeError, /needs validationData/);
  await assert_rejects(fit(model, train.x, train.y, { validationData: [{ data: new Float32Array(9), shape: [1, 9] }, [0]] }), RangeError, /validationData X has 9 columns/);
  assert.equal(Array.from(model.params), before, 'θ untouched by failed calls');
});

test('option mistakes are named before training: both budgets, the other optimizer\'s options, typos, non-functions', async () => {
  const train = blobs(100, 18);
  const model = small();
  const before = Array.from(model.params);
  await assert_rejects(fit(model, train.x, train.y, { epochs: 2, iterations: 5 }), TypeError, /both epochs \(2\) and iterations \(5\); give one of them/);
  await assert_rejects(fit(model, train.x, train.y, { optimizer: 'eki', nlb: fast }), RangeError, /nlb options, but the optimizer is 'eki'/);
  await assert_rejects(fit(model, train.x, train.y, { eki: { ensembleSize: 8 } }), RangeError, /eki options, but the optimizer is 'nlb'. Pass optimizer: 'eki'/);
  await assert_rejects(fit(model, train.x, train.y, { exactLastLayer: { evry: 5 } as never }), TypeError, /Unknown option 'evry' for exactLastLayer/);
  await assert_rejects(fit(model, train.x, train.y, { averaging: { decay: 0.9, begin: 3 } as never }), TypeError, /Unknown option 'begin' for averaging/);
  await assert_rejects(fit(model, train.x, train.y, { earlyStopping: { patience: 2, restore_best: true } as never }), TypeError, /Unknown option 'restore_best' for earlyStopping/);
  await assert_rejects(fit(model, train.x, train.y, { earlyStopping: { patience: 2, restoreBest: 1 as never } }), TypeError, /restoreBest must be true or false; got 1/);
  await assert_rejects(fit(model, train.x, train.y, { callbacks: { onIterationEnd: 'log' as never } }), TypeError, /callbacks.onIterationEnd must be a function; got "log"/);
  await assert_rejects(fit(model, train.x, train.y, { callbacks: { onTrainEnd: () => {} } as never }), TypeError, /Unknown option 'onTrainEnd' for callbacks/);
  await assert_rejects(fit(model, train.x, train.y, { resume: 'yes' as never }), TypeError, /resume must be true or false/);
  // Misspelt options name the nearest one, as minimize's do; a renamed option names its new name.
  await assert_rejects(fit(model, train.x, train.y, { epoch: 2 } as never), TypeError, /Unknown option 'epoch' for fit\(\)\. Did you mean 'epochs'\?/);
  await assert_rejects(fit(model, train.x, train.y, { BatchSize: 20 } as never), TypeError, /Did you mean 'batchSize'\?/);
  await assert_rejects(fit(model, train.x, train.y, { validationdata: [train.x, train.y] } as never), TypeError, /Did you mean 'validationData'\?/);
  await assert_rejects(fit(model, train.x, train.y, { nlb: { memberBatch: 4 } as never }), TypeError, /'memberBatch' for the nlb optimizer was renamed to 'maxMembers'/);
  await assert_rejects(fit(model, train.x, train.y, { nlb: { maxIterations: 4 } as never }), TypeError, /no nlb\.maxIterations; its budget is the iterations or epochs option/);
  await assert_rejects(fit(model, train.x, train.y, { optimizer: 'eki', exactLastLayer: {} }), RangeError, /exactLastLayer needs a process whose θ is the whole iterate \(such as 'nlb'\); 'eki' is not one/);
  assert.equal(Array.from(model.params), before, 'θ untouched by failed calls');
  // Resuming with a budget the saved run already passed is an error; an equal budget does nothing.
  await fit(model, train.x, train.y, { batchSize: 25, iterations: 6, nlb: fast });
  const trained = Array.from(model.params);
  await assert_rejects(fit(model, train.x, train.y, { batchSize: 25, epochs: 1, nlb: fast, resume: true }), RangeError, /already did 6 iterations, but this call asks for 4 in total/);
  const h = await fit(model, train.x, train.y, { batchSize: 25, iterations: 6, nlb: fast, resume: true });
  assert.is(h.iterations.length, 0);
  assert.equal(Array.from(model.params), trained);
});

test('a training state resumes twice the same: a run does not change the state it started from', async () => {
  const train = blobs(200, 19);
  const val = blobs(50, 20);
  const opts = {
    batchSize: 40, nlb: fast, averaging: { decay: 0.5 }, validationData: [val.x, val.y] as [typeof val.x, Int32Array],
    validationEvery: 1, earlyStopping: { patience: 100, restoreBest: true },
  };
  const model = small();
  await fit(model, train.x, train.y, { ...opts, iterations: 3 });
  const snapshot = model.trainingState;
  const params = model.params.slice();
  await fit(model, train.x, train.y, { ...opts, iterations: 6, resume: true });
  const first = Array.from(model.params);
  const firstBest = (model.trainingState as { early: { best: number } }).early.best;
  model.trainingState = snapshot;
  model.setParameters(params);
  await fit(model, train.x, train.y, { ...opts, iterations: 6, resume: true });
  assert.equal(Array.from(model.params), first);
  assert.is((model.trainingState as { early: { best: number } }).early.best, firstBest);
});

test.run();
