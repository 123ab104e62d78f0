import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule } from '../bindings/wasm.js';
import { mlp, parameterLayout, parameterCount, crossEntropy } from '../bindings/nn/mlp.js';
import { MlpEvaluator } from '../bindings/nn/evaluator.js';
import { portableLog, SeededRandom } from '../bindings/nn/random.js';
import { Workspace } from '../bindings/workspace.js';
import { mulberry32, gaussian, referenceForward } from './nn-oracle.js';

function randomData(rows: number, cols: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: rows * cols }, () => gaussian(rand));
}

test('layout: per layer W (fan-in × fan-out) then b, contiguous', () => {
  const layers = [784, 64, 10];
  assert.equal(parameterLayout(layers), [
    { fanIn: 784, fanOut: 64, weights: 0, bias: 784 * 64 },
    { fanIn: 64, fanOut: 10, weights: 784 * 64 + 64, bias: 784 * 64 + 64 + 640 },
  ]);
  assert.is(parameterCount(layers), 784 * 64 + 64 + 64 * 10 + 10);
  assert.is(mlp(layers).parameterCount, 50890);
});

test('init: seeded, zero biases, He/Glorot/LeCun standard deviations within a 4σ band', () => {
  const a = mlp([400, 300, 10], { activation: 'relu', seed: 7 });
  const b = mlp([400, 300, 10], { activation: 'relu', seed: 7 });
  const c = mlp([400, 300, 10], { activation: 'relu', seed: 8 });
  assert.equal(Array.from(a.params), Array.from(b.params), 'same seed, same θ');
  assert.ok(a.params.some((v, i) => v !== c.params[i]), 'different seed, different θ');
  const cases = [
    { activation: 'relu' as const, init: undefined, std: (i: number) => Math.sqrt(2 / i) },
    { activation: 'tanh' as const, init: undefined, std: (i: number, o: number) => Math.sqrt(2 / (i + o)) },
    { activation: 'sigmoid' as const, init: 'lecun' as const, std: (i: number) => Math.sqrt(1 / i) },
  ];
  for (const cs of cases) {
    const m = mlp([400, 300, 10], { activation: cs.activation, init: cs.init, seed: 3 });
    for (const s of m.layout) {
      const w = m.params.subarray(s.weights, s.bias);
      const n = w.length;
      const mean = w.reduce((x, v) => x + v, 0) / n;
      const variance = w.reduce((x, v) => x + (v - mean) ** 2, 0) / n;
      const sd = cs.std(s.fanIn, s.fanOut);
      // Sample variance of n normals: relative sd √(2/n).
      assert.ok(Math.abs(variance / sd ** 2 - 1) < 4 * Math.sqrt(2 / n), `${cs.activation} layer ${s.fanIn}→${s.fanOut}: var ${variance} vs ${sd ** 2}`);
      assert.ok(Math.abs(mean) < 4 * sd / Math.sqrt(n), `mean ${mean}`);
      assert.ok(m.params.subarray(s.bias, s.bias + s.fanOut).every((v) => v === 0), 'zero biases');
    }
  }
});

test('init draws come from exact operations: portableLog agrees with Math.log to 2 ulp; normals have mean 0, variance 1', () => {
  const rand = mulberry32(8);
  for (let i = 0; i < 20000; i++) {
    const x = Math.exp(200 * (rand() - 0.5)) * (1 + rand());
    const want = Math.log(x);
    assert.ok(Math.abs(portableLog(x) - want) <= 2 * Number.EPSILON * Math.max(1, Math.abs(want)), `ln ${x}: ${portableLog(x)} vs ${want}`);
  }
  assert.is(portableLog(1), 0);
  const rng = new SeededRandom(3);
  const N = 200000;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < N; i++) {
    const z = rng.normal();
    s += z;
    s2 += z * z;
  }
  // 5σ bands: sd of the mean 1/√N, sd of the second moment √(2/N).
  assert.ok(Math.abs(s / N) < 5 / Math.sqrt(N), `mean ${s / N}`);
  assert.ok(Math.abs(s2 / N - 1) < 5 * Math.sqrt(2 / N), `variance ${s2 / N}`);
});

for (const simd of [true, false]) {
  test(`predict/evaluate (${simd ? 'SIMD' : 'scalar'}) match a plain-TS forward for every activation`, async () => {
    const module = await loadModule({ simd });
    for (const activation of ['tanh', 'relu', 'sigmoid'] as const) {
      const layers = [13, 9, 6, 4];
      const model = mlp(layers, { activation, seed: 11, module });
      // Perturb biases so they are exercised too.
      const rand = mulberry32(5);
      for (const s of model.layout) for (let j = 0; j < s.fanOut; j++) model.params[s.bias + j] = 0.3 * gaussian(rand);
      const rows = 1030; // more than one predict chunk of 1024 rows
      const x = randomData(rows, 13, 99);
      const ref = referenceForward(layers, activation, Float32Array.from(model.params), x, rows);
      const logits = model.logits({ data: x, shape: [rows, 13] });
      let err = 0;
      for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(logits[i] - ref[i]));
      assert.ok(err < 1e-4, `${activation}: max |wasm − reference| = ${err}`);
      const probs = model.predict(x);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < 4; c++) s += probs[r * 4 + c];
        assert.ok(Math.abs(s - 1) < 1e-5, 'rows of probabilities sum to 1');
      }
      const labels = Int32Array.from({ length: rows }, (_, i) => i % 4);
      const ev = model.evaluate(x, labels);
      const want = crossEntropy(ref, labels, 4);
      assert.ok(Math.abs(ev.loss - want.loss) < 1e-5, `loss ${ev.loss} vs ${want.loss}`);
      assert.is(ev.accuracy, want.accuracy);
    }
  });
}

for (const simd of [true, false]) {
  test(`MlpEvaluator (${simd ? 'SIMD' : 'scalar'}): one call for all members matches a per-member plain-TS forward`, async () => {
    const module = await loadModule({ simd });
    const layers = [11, 7, 5, 3];
    const activation = 'sigmoid';
    const model = mlp(layers, { activation, seed: 21 });
    const n = model.parameterCount;
    const B = 9;
    const k = 6;
    const rows = 40;
    const data = randomData(rows, 11, 4);
    const index = Int32Array.from({ length: B }, (_, i) => (i * 7 + 3) % rows);
    const xBatch = new Float32Array(B * 11);
    index.forEach((r, i) => xBatch.set(data.subarray(r * 11, (r + 1) * 11), i * 11));
    const ev = new MlpEvaluator(module, { layers, activation, batchSize: B, maxMembers: k });
    const ws = new Workspace(module);
    try {
      assert.is(ev.n, n);
      assert.is(ev.m, B * 3);
      ev.setBatch(data, index);
      const theta = ws.from('f64', model.params);
      const out = ws.f64(k * ev.m);
      // Perturbed members (antithetic pairs too): compare with rows materialized by perturb64.
      for (const antithetic of [false, true]) {
        ev.evaluatePerturbed({ theta, sigma: 0.05, seed: 77, draw: 5, member0: 2, count: k, antithetic, center: false }, out);
        const members = ws.f64(k * n);
        module.exports.perturb64(k, n, 0.05, 77, 5, 2, antithetic ? 1 : 0, theta.ptr, members.ptr);
        const got = out.copy();
        const all = members.copy();
        for (let j = 0; j < k; j++) {
          const ref = referenceForward(layers, activation, Float32Array.from(all.subarray(j * n, (j + 1) * n)), xBatch, B);
          for (let i = 0; i < ev.m; i++) {
            assert.ok(Math.abs(got[j * ev.m + i] - ref[i]) < 1e-4, `member ${j} output ${i}: ${got[j * ev.m + i]} vs ${ref[i]}`);
          }
        }
        // Explicit rows (perturb64's f64 members, rounded once to f32 as the fast path rounds its
        // f64 sums) give the same outputs as the fast path, bit for bit.
        ev.evaluate(members, k, out);
        assert.equal(Array.from(out.copy()), Array.from(got));
        ws.free(members);
      }
      // With the center, θ itself is row 0 of the same call and the members follow, bit for bit.
      const members5 = ws.f64((k - 1) * ev.m);
      ev.evaluatePerturbed({ theta, sigma: 0.05, seed: 77, draw: 5, member0: 2, count: k - 1, antithetic: false, center: false }, members5);
      const withCenter = ws.f64(k * ev.m);
      ev.evaluatePerturbed({ theta, sigma: 0.05, seed: 77, draw: 5, member0: 2, count: k - 1, antithetic: false, center: true }, withCenter);
      const refCenter = referenceForward(layers, activation, Float32Array.from(model.params), xBatch, B);
      const wc = withCenter.copy();
      for (let i = 0; i < ev.m; i++) assert.ok(Math.abs(wc[i] - refCenter[i]) < 1e-4, `center output ${i}: ${wc[i]} vs ${refCenter[i]}`);
      assert.equal(Array.from(wc.subarray(ev.m)), Array.from(members5.copy()));
      assert.throws(() => ev.evaluatePerturbed({ theta, sigma: 0.05, seed: 77, draw: 5, member0: 2, count: k, antithetic: false, center: true }, withCenter), RangeError);
      assert.throws(() => ev.evaluate(theta, k + 1, out), (e: Error) => e instanceof RangeError && /count must be an integer in \[1, 6\]/.test(e.message));
      assert.throws(() => ev.setBatch(data, index.subarray(1)), (e: Error) => e instanceof RangeError && /8 rows was given to an evaluator built for 9/.test(e.message));
    } finally {
      ev.dispose();
      ws.dispose();
    }
  });
}

test('MlpEvaluator memory: one f32 parameter row on the fast path, two for antithetic pairs, count for explicit rows', async () => {
  const module = await loadModule();
  const layers = [64, 256, 10];
  const B = 8;
  const k = 32;
  const ev = new MlpEvaluator(module, { layers, activation: 'relu', batchSize: B, maxMembers: k + 1 });
  const ws = new Workspace(module);
  try {
    const n = ev.n;
    const rowBytes = 4 * ((n + 3) & ~3);
    // X, logits ((k + 1) × m f32), two hidden rows, GEMM work and one parameter row: far below k rows.
    const fixed = ev.bytes;
    assert.ok(fixed < 2 * rowBytes + 256 * 1024, `evaluator holds ${fixed} B; k = ${k} parameter rows would be ${k * rowBytes} B`);
    const grownBy = (rows: number, what: string) => {
      const extra = ev.bytes - fixed;
      assert.ok(extra >= rows * rowBytes && extra < rows * rowBytes + 4096, `${what}: ${extra} B more, expected ${rows} row(s) of ${rowBytes} B`);
    };
    const data = Float32Array.from({ length: 20 * 64 }, (_, i) => Math.sin(i));
    ev.setBatch(data, [0, 2, 4, 6, 8, 10, 12, 14]);
    const theta = ws.from('f64', mlp(layers, { activation: 'relu', seed: 3 }).params);
    const out = ws.f64((k + 1) * ev.m);
    ev.evaluatePerturbed({ theta, sigma: 0.1, seed: 1, draw: 2, member0: 0, count: k, antithetic: false, center: true }, out);
    assert.is(ev.bytes, fixed, 'k members + θ without antithetic pairs: no allocation');
    ev.evaluate(theta, 1, out);
    assert.is(ev.bytes, fixed, 'one explicit row: no allocation');
    ev.evaluatePerturbed({ theta, sigma: 0.1, seed: 1, draw: 2, member0: 0, count: k, antithetic: true, center: false }, out);
    grownBy(1, 'antithetic pairs');
    const rows = ws.f64(3 * n);
    module.exports.perturb64(3, n, 0.1, 1, 2, 0, 1, theta.ptr, rows.ptr);
    ev.evaluate(rows, 3, out);
    grownBy(2, 'three explicit rows');
    ev.evaluate(rows, 2, out);
    grownBy(2, 'fewer rows reuse the buffer');
    const viaRows = out.copy().subarray(0, 2 * ev.m);
    ev.evaluatePerturbed({ theta, sigma: 0.1, seed: 1, draw: 2, member0: 0, count: 2, antithetic: true, center: false }, out);
    assert.equal(Array.from(out.copy().subarray(0, 2 * ev.m)), Array.from(viaRows));
  } finally {
    ev.dispose();
    ws.dispose();
  }
});

test('crossEntropy equals −mean log softmax on a hand-computed case', () => {
  // Row 0: logits (0, ln 3) → p = (1/4, 3/4), label 1 → −ln(3/4). Row 1: (2, 2) → ½ each, label 0 → ln 2.
  const ev = crossEntropy([0, Math.log(3), 2, 2], [1, 0], 2);
  assert.ok(Math.abs(ev.loss - (-Math.log(0.75) + Math.log(2)) / 2) < 1e-12);
  assert.is(ev.accuracy, 1); // the tie picks class 0, which is the label
});

test('an array of rows and a flat Float64Array give the same logits as { data, shape }', async () => {
  const module = await loadModule();
  const model = mlp([3, 5, 2], { seed: 1, module });
  const rows = [[0.1, -2, 3], [4, 0.5, -0.25]];
  const a = model.logits(rows);
  const b = model.logits(Float64Array.from(rows.flat()));
  const c = model.logits({ data: Float32Array.from(rows.flat()), shape: [2, 3] });
  assert.equal(Array.from(a), Array.from(b));
  assert.equal(Array.from(a), Array.from(c));
});

test('bad layers, activations, shapes, labels and values give clear typed errors', async () => {
  const module = await loadModule();
  assert.throws(() => mlp([784]), (e: Error) => e instanceof RangeError && /at least two sizes/.test(e.message));
  assert.throws(() => mlp([784, 0, 10]), (e: Error) => e instanceof RangeError && /layers\[1\]/.test(e.message));
  assert.throws(() => mlp([784, 1]), (e: Error) => e instanceof RangeError && /at least 2/.test(e.message));
  assert.throws(() => mlp([4, 2], { activation: 'gelu' as never }), (e: Error) => e instanceof RangeError && /'tanh', 'relu', 'sigmoid'.*"gelu"/.test(e.message));
  const model = mlp([4, 3, 2], { module });
  assert.throws(() => model.predict({ data: new Float32Array(6), shape: [2, 3] }), (e: Error) => e instanceof RangeError && /3 columns; expected 4 \(network input size\)/.test(e.message));
  assert.throws(() => model.predict(new Float32Array(6)), (e: Error) => e instanceof RangeError && /not a positive multiple of 4/.test(e.message));
  assert.throws(() => model.predict([[1, 2, 3, 4], [1, 2, 3]]), (e: Error) => e instanceof RangeError && /X\[1\] has 3 columns/.test(e.message));
  assert.throws(() => model.predict([[1, 2, NaN, 4]]), (e: Error) => e instanceof RangeError && /non-finite value \(NaN\) at row 0, column 2/.test(e.message));
  assert.throws(() => model.evaluate([[1, 2, 3, 4]], [2]), (e: Error) => e instanceof RangeError && /labels\[0\] = 2 is not a class id in \[0, 1\]/.test(e.message));
  assert.throws(() => model.evaluate([[1, 2, 3, 4]], [0, 1]), (e: Error) => e instanceof RangeError && /2 entries but the data has 1 rows/.test(e.message));
  assert.throws(() => model.setParameters(new Float64Array(3)), (e: Error) => e instanceof RangeError && /has 3 values; layers \[4, 3, 2\] need 23/.test(e.message));
  assert.throws(() => mlp([4, 2]).predict([[1, 2, 3, 4]]), /no WebAssembly module/);
});

test('mlp rejects unknown options, null options, non-array layers, non-integer sizes and non-modules', async () => {
  const typeError = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (e: Error) => e instanceof TypeError && pattern.test(e.message));
  // A typo is not a default: 'activaton' used to build a tanh network silently.
  typeError(() => mlp([4, 3, 2], { activaton: 'relu' } as never), /Unknown mlp option 'activaton'\. Did you mean 'activation'\?/);
  typeError(() => mlp([4, 3, 2], { Seed: 3 } as never), /Unknown mlp option 'Seed'\. Did you mean 'seed'\?/);
  typeError(() => mlp([4, 3, 2], { inti: 'he' } as never), /Did you mean 'init'\?/);
  typeError(() => mlp([4, 3, 2], { learningRate: 0.1 } as never), /Unknown mlp option 'learningRate'\. Known options: activation, seed, init, module/);
  typeError(() => mlp([4, 3, 2], null as never), /mlp options must be an object .*; got null/);
  typeError(() => mlp([4, 3, 2], 'relu' as never), /mlp options must be an object .*; got "relu"/);
  typeError(() => mlp(null as never), /layers must be an array of layer sizes .*; got null/);
  typeError(() => mlp('784,64,10' as never), /layers must be an array .*; got "784,64,10"/);
  typeError(() => mlp({ length: 3 } as never), /layers must be an array .*; got object/);
  typeError(() => mlp([784, 2.5, 10]), /layers\[1\] must be an integer layer size, e\.g\. 64; got 2\.5/);
  typeError(() => mlp([784, '64', 10] as never), /layers\[1\] must be an integer layer size, e\.g\. 64; got "64" \(string\)/);
  typeError(() => mlp([784, NaN, 10]), /layers\[1\] must be an integer layer size, e\.g\. 64; got NaN/);
  typeError(() => mlp([4, 3, 2], { module: {} as never }), /module must be a module from `await loadModule\(\)`; got object without its WebAssembly memory/);
  typeError(() => mlp([4, 3, 2], { module: 'wasm' as never }), /module must be a module from `await loadModule\(\)`; got "wasm"/);
  const model = mlp([4, 3, 2]);
  model.module = { exports: {}, memory: null } as never;
  typeError(() => model.predict([[1, 2, 3, 4]]), /model\.module must be a module from `await loadModule\(\)`/);
  // The valid spellings still work, and an explicit undefined is "not given".
  const module = await loadModule();
  const ok = mlp([4, 3, 2], { activation: 'relu', init: 'lecun', module, seed: undefined });
  assert.is(ok.activation, 'relu');
  assert.is(ok.seed, 0);
  assert.is(ok.predict([[1, 2, 3, 4]]).length, 2);
});

test.run();
