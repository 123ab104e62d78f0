// sequential() models: layer configs and their checks, shapes and the parameter layout, the forward
// against a plain-TS oracle (per layer kind, odd shapes, both builds), the equivalence with mlp(),
// SeqEvaluator's member rows against explicit ones, and save/load.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { builds, label } from './helpers.js';
import { FormatError } from '../bindings/errors.js';
import { Workspace } from '../bindings/workspace.js';
import { mlp } from '../bindings/nn/mlp.js';
import {
  avgPool2d, conv2d, dense, flatten, layerBlocks, layerTable, maxPool2d, LAYER_WORDS, type Layer, type LayerActivation, type Placement,
} from '../bindings/nn/layers.js';
import { sequential, Sequential } from '../bindings/nn/sequential.js';
import { SeqEvaluator } from '../bindings/nn/seq-evaluator.js';
import { createDirections } from '../bindings/optimizers/directions.js';
import { crc32, decodeModel, encodeModel } from '../bindings/nn/serialize.js';
import { SeededRandom } from '../bindings/nn/random.js';

// ---- the oracle: one member, one row at a time, f64 arithmetic on the f32-rounded parameters ----

const ACT: Record<LayerActivation, (v: number) => number> = {
  identity: (v) => v, relu: (v) => Math.max(0, v), tanh: Math.tanh, sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  sign: (v) => (v >= 0 ? 1 : -1), heaviside: (v) => (v > 0 ? 1 : 0), hardTanh: (v) => Math.min(1, Math.max(-1, v)),
};

// Q(w) = −R + Δ·round((clamp(w, −R, R) + R)/Δ), Δ = 2R/(levels − 1), halves away from zero
function quantized(w: number, levels: number, R: number): number {
  const d = (2 * R) / (levels - 1);
  return -R + d * Math.floor((Math.min(R, Math.max(-R, w)) + R) / d + 0.5);
}

/** Logits (rows × classes) of θ by the definition of each layer (channels-last, zero padding). */
function oracle(p: Placement, theta: ArrayLike<number>, x: Float32Array, rows: number): Float64Array {
  const t = Float64Array.from(Float32Array.from(theta));
  const C = p.classes;
  const out = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let a = Float64Array.from(x.subarray(r * p.inputSize, (r + 1) * p.inputSize));
    for (const l of p.layers) {
      const c = l.config;
      const [H, W, Cin] = l.inShape;
      const [oh, ow, oc] = l.outShape;
      const next = new Float64Array(oh * ow * oc);
      const weight = (i: number): number => {
        const q = (c.type === 'dense' || c.type === 'conv2d') ? c.quantize : undefined;
        return q ? quantized(t[l.weights + i], q.levels, l.range) : t[l.weights + i];
      };
      if (c.type === 'flatten') continue;
      if (c.type === 'dense') {
        for (let j = 0; j < oc; j++) {
          let s = t[l.bias + j];
          for (let i = 0; i < l.fanIn; i++) s += a[i] * weight(i * oc + j);
          next[j] = ACT[c.activation](s);
        }
      } else if (c.type === 'conv2d') {
        const [kh, kw] = c.kernelSize;
        for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) for (let f = 0; f < oc; f++) {
          let s = t[l.bias + f];
          for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
            const iy = oy * c.strides[0] + ky - l.padTop;
            const ix = ox * c.strides[1] + kx - l.padLeft;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            for (let ci = 0; ci < Cin; ci++) s += a[(iy * W + ix) * Cin + ci] * weight(((ky * kw + kx) * Cin + ci) * oc + f);
          }
          next[(oy * ow + ox) * oc + f] = ACT[c.activation](s);
        }
      } else {
        const [ph, pw] = c.poolSize;
        for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) for (let ch = 0; ch < oc; ch++) {
          let s = c.type === 'maxPool2d' ? -Infinity : 0;
          for (let ky = 0; ky < ph; ky++) for (let kx = 0; kx < pw; kx++) {
            const v = a[((oy * c.strides[0] + ky) * W + ox * c.strides[1] + kx) * Cin + ch];
            s = c.type === 'maxPool2d' ? Math.max(s, v) : s + v;
          }
          next[(oy * ow + ox) * oc + ch] = c.type === 'maxPool2d' ? s : s / (ph * pw);
        }
      }
      a = next;
    }
    out.set(a, r * C);
  }
  return out;
}

function randomRows(rows: number, cols: number, seed: number): Float32Array {
  const rng = new SeededRandom(seed);
  return Float32Array.from({ length: rows * cols }, () => rng.normal());
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  assert.ok(worst <= tol, `${what}: worst relative error ${worst} > ${tol}`);
}

// ---- layer configs, checks and placement (no kernel) ----

test('layer constructors give frozen JSON configs with tfjs names and defaults', () => {
  assert.equal(dense({ units: 3 }), { type: 'dense', units: 3, activation: 'identity' });
  assert.equal(conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }),
    { type: 'conv2d', filters: 4, kernelSize: [3, 3], strides: [1, 1], padding: 'valid', activation: 'relu' });
  assert.equal(maxPool2d(), { type: 'maxPool2d', poolSize: [2, 2], strides: [2, 2] });
  assert.equal(avgPool2d({ poolSize: [3, 2], strides: 1 }), { type: 'avgPool2d', poolSize: [3, 2], strides: [1, 1] });
  assert.equal(flatten(), { type: 'flatten' });
  assert.equal(dense({ units: 2, quantize: { levels: 3 } }), { type: 'dense', units: 2, activation: 'identity', quantize: { levels: 3 } });
  const c = conv2d({ filters: 2, kernelSize: [2, 3], padding: 'same' });
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.kernelSize));
  assert.equal(JSON.parse(JSON.stringify(c)), c);
});

test('bad layer options: typed errors with what was expected, what came and a suggestion', () => {
  const cases: [() => unknown, new (...a: never[]) => Error, RegExp][] = [
    [() => dense({ unit: 3 } as never), TypeError, /Unknown option 'unit' for dense\. Did you mean 'units'\?/],
    [() => dense({ units: 0 }), RangeError, /dense\.units must be an integer in \[1, 1048576\]; got 0/],
    [() => dense({ units: 4, activation: 'gelu' as never }), RangeError, /dense\.activation must be one of 'identity', 'relu'.*'hardTanh'; got "gelu"/],
    [() => conv2d({ filters: 4 } as never), TypeError, /conv2d needs kernelSize/],
    [() => conv2d({ filters: 4, kernelSize: 3, padding: 'full' as never }), RangeError, /padding must be 'valid' or 'same'; got "full"/],
    [() => conv2d({ filters: 4, kernelSize: [3, 3, 3] as never }), TypeError, /kernelSize must be a positive integer or a pair/],
    [() => conv2d({ filters: 4, kernelSize: 3, stride: 2 } as never), TypeError, /Did you mean 'strides'\?/],
    [() => maxPool2d({ poolsize: 2 } as never), TypeError, /Did you mean 'poolSize'\?/],
    [() => dense({ units: 2, quantize: { levels: 1 } }), RangeError, /quantize\.levels must be an integer in \[2, 65536\]; got 1/],
    [() => dense({ units: 2, quantize: { levels: 3, range: -1 } }), RangeError, /quantize\.range must be a finite number/],
  ];
  for (const [fn, kind, pattern] of cases) assert.throws(fn, (e: Error) => e instanceof kind && pattern.test(e.message), String(pattern));
});

test('bad models: the last layer, shapes that shrink below 1, the input shape and X columns', async () => {
  const [module] = await builds();
  const cases: [() => unknown, RegExp][] = [
    [() => sequential([dense({ units: 4 }), maxPool2d()], { inputShape: [4, 4, 1] }), /last layer must be dense.*got maxPool2d/],
    [() => sequential([dense({ units: 4, activation: 'relu' })], { inputShape: 3 }), /activation must be 'identity'.*got 'relu'/],
    [() => sequential([dense({ units: 1 })], { inputShape: 3 }), /at least 2/],
    [() => sequential([conv2d({ filters: 2, kernelSize: 5 }), flatten(), dense({ units: 2 })], { inputShape: [4, 6, 1] }),
      /layers\[0\] \(conv2d\): a 5×5 window on its 4×6×1 input leaves an output of 0×2; it must be at least 1×1/],
    [() => sequential([maxPool2d(), maxPool2d(), flatten(), dense({ units: 2 })], { inputShape: [3, 3, 1] }), /layers\[1\] \(maxPool2d\)/],
    [() => sequential([dense({ units: 2 })], {} as never), /needs options\.inputShape/],
    [() => sequential([dense({ units: 2 })], { inputShape: [4, 4] as never }), /inputShape must be \[height, width, channels\]/],
    [() => sequential([dense({ units: 2 })], { inputShape: 3, sed: 1 } as never), /Did you mean 'seed'\?/],
    [() => sequential([{ type: 'dense', units: 2, act: 'relu' } as never], { inputShape: 3 }), /layers\[0\]: Unknown option 'act' for dense/],
    [() => sequential([{ type: 'dropout' } as never], { inputShape: 3 }), /layers\[0\]\.type must be one of 'dense', 'conv2d'/],
    [() => sequential([], { inputShape: 3 }), /at least one layer/],
  ];
  for (const [fn, pattern] of cases) assert.throws(fn, (e: Error) => (e instanceof RangeError || e instanceof TypeError) && pattern.test(e.message), String(pattern));
  const model = sequential([flatten(), dense({ units: 2 })], { inputShape: [2, 3, 2], module });
  assert.throws(() => model.predict(new Float32Array(10)), (e: Error) => /not a positive multiple of 12/.test(e.message));
  assert.throws(() => model.predict({ data: new Float32Array(10), shape: [1, 10] }),
    (e: Error) => e instanceof RangeError && /has 10 columns; expected 12.*inputShape is \[2, 3, 2\]: each row holds its h·w·c = 12 values/.test(e.message));
});

test('placement: shapes, padding, the parameter layout, the blocks and the layer table', () => {
  const m = sequential([
    conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
    maxPool2d({ poolSize: 2, strides: 1 }), flatten(), dense({ units: 5, activation: 'tanh', quantize: { levels: 3, range: 0.5 } }), dense({ units: 3 }),
  ], { inputShape: [7, 6, 2] });
  const [conv, pool, flat, hidden, out] = m.placement.layers;
  // 'same': out = ⌈7/2⌉ × ⌈6/2⌉ = 4 × 3; total padding (4 − 1)·2 + 3 − 7 = 2 rows → 1 on top, (3 − 1)·2 + 3 − 6 = 1 column → 0 left
  assert.equal([conv.outShape, conv.padTop, conv.padLeft], [[4, 3, 4], 1, 0]);
  assert.equal(pool.outShape, [3, 2, 4]);
  assert.equal(flat.outShape, [3, 2, 4]);
  assert.equal([hidden.fanIn, hidden.fanOut, out.fanIn, out.fanOut], [24, 5, 5, 3]);
  // W then b per parametric layer, contiguous: conv 3·3·2 × 4 + 4 = 76, dense 24·5 + 5 = 125, 5·3 + 3 = 18
  assert.equal([conv.weights, conv.bias, hidden.weights, hidden.bias, out.weights, out.bias], [0, 72, 76, 196, 201, 216]);
  assert.is(m.parameterCount, 219);
  assert.equal(m.blocks, [[3, 3, 2, 4], [4], [24, 5], [5], [5, 3], [3]]);
  assert.equal(layerBlocks(m.placement), m.blocks);
  const t = layerTable(m.placement);
  assert.is(t.length, 4 * LAYER_WORDS);
  assert.equal(Array.from(t.subarray(0, 17)), [1, 1, 7, 6, 2, 4, 3, 4, 3, 3, 2, 2, 1, 0, 0, 0, 0]);
  assert.equal(Array.from(t.subarray(LAYER_WORDS, LAYER_WORDS + 15)), [2, 0, 4, 3, 4, 3, 2, 4, 2, 2, 1, 1, 0, 0, -1]);
  const r = new Float32Array(Int32Array.of(t[2 * LAYER_WORDS + 16]).buffer)[0];
  assert.equal([t[2 * LAYER_WORDS], t[2 * LAYER_WORDS + 1], t[2 * LAYER_WORDS + 14], t[2 * LAYER_WORDS + 15], r], [0, 2, 76, 3, 0.5]);
  // the initialization: per layer index its own stream; He for relu (std √(2/18)), Glorot otherwise, biases 0
  assert.is(conv.std, Math.sqrt(2 / 18));
  assert.is(out.std, Math.sqrt(2 / 8));
  assert.ok(m.params.subarray(72, 76).every((v) => v === 0));
  // default quantization range: 2 × the init std
  const q = sequential([dense({ units: 4, quantize: { levels: 2 } })], { inputShape: 6 });
  assert.is(q.placement.layers[0].range, 2 * Math.sqrt(2 / 10));
  // a stack of dense layers has mlp()'s layout
  const s = sequential([dense({ units: 7, activation: 'tanh' }), dense({ units: 3 })], { inputShape: 5 });
  assert.is(s.parameterCount, mlp([5, 7, 3]).parameterCount);
});

// ---- the forward (needs the seq kernels) ----

const ODD: [string, Layer[], [number, number, number]][] = [
  ['conv valid stride 1 relu', [conv2d({ filters: 3, kernelSize: [3, 2], activation: 'relu' }), flatten(), dense({ units: 2 })], [5, 4, 2]],
  ['conv same stride [2,1] tanh', [conv2d({ filters: 5, kernelSize: 3, strides: [2, 1], padding: 'same', activation: 'tanh' }), dense({ units: 3 })], [7, 5, 3]],
  ['conv same even kernel sigmoid', [conv2d({ filters: 2, kernelSize: [2, 4], strides: 2, padding: 'same', activation: 'sigmoid' }), dense({ units: 2 })], [5, 7, 1]],
  ['maxPool [2,3] strides [1,2]', [maxPool2d({ poolSize: [2, 3], strides: [1, 2] }), flatten(), dense({ units: 3 })], [5, 7, 3]],
  ['avgPool 3', [avgPool2d({ poolSize: 3 }), dense({ units: 2 })], [7, 6, 2]],
  ['dense sign', [dense({ units: 9, activation: 'sign' }), dense({ units: 3 })], [1, 1, 11]],
  ['dense heaviside', [dense({ units: 6, activation: 'heaviside' }), dense({ units: 2 })], [3, 1, 3]],
  ['dense hardTanh', [dense({ units: 5, activation: 'hardTanh' }), dense({ units: 4 })], [1, 2, 5]],
  ['ternary dense', [dense({ units: 6, activation: 'relu', quantize: { levels: 3 } }), dense({ units: 2, quantize: { levels: 5, range: 0.3 } })], [1, 1, 7]],
  ['binary conv', [conv2d({ filters: 3, kernelSize: 2, activation: 'hardTanh', quantize: { levels: 2, range: 0.25 } }), maxPool2d(), dense({ units: 2 })], [5, 5, 2]],
  ['small CNN', [conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), maxPool2d(), conv2d({ filters: 3, kernelSize: 2, padding: 'same', activation: 'tanh' }),
    avgPool2d({ poolSize: 1 }), flatten(), dense({ units: 6, activation: 'relu' }), dense({ units: 3 })], [9, 8, 1]],
];

test('Sequential.logits equals the oracle for every layer kind on odd shapes (both builds)', async () => {
  for (const module of await builds()) {
    for (const [name, layers, inputShape] of ODD) {
      const model = sequential(layers, { inputShape, seed: 7, module });
      // biases off zero so that they are tested too
      const rng = new SeededRandom(11);
      model.setParameters(model.params.map((v) => v + 0.1 * rng.normal()));
      const rows = 13;
      const x = randomRows(rows, model.inputSize, 3);
      assertClose(model.logits(x), oracle(model.placement, model.params, x, rows), 2e-5, `${label(module)} ${name}`);
      // predict: softmax rows summing to 1
      const p = model.predict(x);
      for (let r = 0; r < rows; r++) assert.ok(Math.abs(p.subarray(r * model.classes, (r + 1) * model.classes).reduce((a, b) => a + b, 0) - 1) < 1e-5);
    }
  }
});

test('a sequential stack of dense layers gives the logits of the equivalent mlp() with the same θ', async () => {
  for (const module of await builds()) {
    for (const activation of ['tanh', 'relu', 'sigmoid', 'sign', 'hardTanh'] as const) {
      const m = mlp([6, 8, 5, 3], { activation, seed: 4, module });
      const s = new Sequential([dense({ units: 8, activation }), dense({ units: 5, activation }), dense({ units: 3 })], { inputShape: 6, module, params: m.params });
      const x = randomRows(37, 6, 9);
      const a = m.logits(x);
      const b = s.logits(x);
      assertClose(b, a, 1e-6, `${label(module)} ${activation}`);
      assert.equal(Array.from(s.predictClasses(x)), Array.from(m.predictClasses(x)));
    }
  }
});

test('SeqEvaluator.evaluatePerturbed gives evaluate() of the explicit member rows bit for bit (Gaussian and rank-r, center, pairs)', async () => {
  const [module] = await builds();
  const model = sequential([conv2d({ filters: 3, kernelSize: 3, activation: 'relu' }), maxPool2d(), dense({ units: 4, activation: 'tanh' }), dense({ units: 3 })],
    { inputShape: [8, 7, 2], seed: 2 });
  const B = 5;
  const x = randomRows(20, model.inputSize, 5);
  const index = Int32Array.of(3, 17, 0, 9, 12);
  const n = model.parameterCount;
  const m = B * model.classes;
  for (const perturbation of [undefined, { kind: 'low-rank' as const, rank: 2 }]) {
    for (const antithetic of [false, true]) {
      const ws = new Workspace(module);
      const ev = new SeqEvaluator(module, { architecture: model.architecture(), batchSize: B, maxMembers: 8 });
      try {
        const dirs = createDirections(ws, n, perturbation ? { perturbation, blocks: model.blocks } : {});
        ev.setBatch(x, index);
        const theta = ws.from('f64', model.params);
        const count = 6;
        const member0 = 2;
        const fast = ws.f64((count + 1) * m);
        ev.evaluatePerturbed({ theta, sigma: 0.05, seed: 9, draw: 3, member0, count, antithetic, center: true, perturbation: dirs.perturbation }, fast);
        const rows = ws.f64((count + 1) * n);
        rows.view().set(model.params);
        dirs.members(count, 0.05, 9, 3, member0, antithetic, theta.ptr, rows.byteOffset(n));
        const slow = ws.f64((count + 1) * m);
        ev.evaluate(rows, count + 1, slow);
        const what = `${perturbation ? 'rank-2' : 'gaussian'}${antithetic ? ' pairs' : ''}`;
        // the same f32 rows either way: the same bits
        assert.equal(Array.from(fast.view()), Array.from(slow.view()), what);
        // the members differ from θ: the request did perturb
        assert.ok(fast.view().subarray(m, 2 * m).some((v, i) => v !== fast.view()[i]), what);
        // and the outputs are the model's own forward of θ for row 0
        const own = oracle(model.placement, model.params, Float32Array.from(Array.from(index, (r) => Array.from(x.subarray(r * model.inputSize, (r + 1) * model.inputSize))).flat()), B);
        assertClose(fast.view().subarray(0, m), own, 2e-5, `${what} center`);
        // rank-r members drawn over other blocks (same n, another split) are refused, not evaluated
        const wrong = { kind: 'low-rank' as const, rank: 1, shapes: [[n - 3, 1], [1, 1]] as [number, number][] };
        assert.throws(() => ev.evaluatePerturbed({ theta, sigma: 0.05, seed: 9, draw: 3, member0: 0, count: 2, antithetic: false, center: false, perturbation: wrong }, fast),
          (e: Error) => e instanceof RangeError && /drawn for blocks .* but this model's weights are 18×3, 18×4, 4×3/.test(e.message));
        dirs.dispose();
      } finally {
        ev.dispose();
        ws.dispose();
      }
    }
  }
});

// ---- save / load ----

function editHeader(bytes: Uint8Array, edit: (h: any) => unknown): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
  const json = new TextEncoder().encode(JSON.stringify(edit(header)));
  const data = bytes.subarray((16 + hlen + 7) & ~7, bytes.length - 4);
  const start = (16 + json.length + 7) & ~7;
  const out = new Uint8Array(start + data.length + 4);
  out.set(bytes.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, json.length, true);
  out.set(json, 16);
  out.set(data, start);
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

test('save → load: the same architecture, θ and predictions; malformed layer configs are FormatErrors naming the layer', async () => {
  const [module] = await builds();
  const model = sequential([conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', quantize: { levels: 3 } }), avgPool2d(), flatten(), dense({ units: 3 })],
    { inputShape: [6, 4, 1], seed: 5, init: 'lecun', module });
  model.trainingState = { note: 'mine', counts: Int32Array.of(1, 2) };
  const bytes = encodeModel(model);
  // format version 3 for a sequential model; mlp() files stay version 2 (earlier releases read them)
  assert.equal([new DataView(bytes.buffer).getUint32(8, true), new DataView(encodeModel(mlp([3, 2])).buffer).getUint32(8, true)], [3, 2]);
  const back = decodeModel(bytes, { module });
  assert.ok(back instanceof Sequential);
  const s = back as Sequential;
  assert.equal(s.architecture(), model.architecture());
  assert.equal([s.seed, s.init], [5, 'lecun']);
  assert.equal(Array.from(s.params), Array.from(model.params));
  assert.equal((s.trainingState as any).note, 'mine');
  const x = randomRows(9, 24, 1);
  assert.equal(Array.from(s.predict(x)), Array.from(model.predict(x)));
  const cases: [(h: any) => unknown, RegExp][] = [
    [(h) => ({ ...h, architecture: { ...h.architecture, layers: h.architecture.layers.map((l: any, i: number) => (i === 3 ? { ...l, units: 0 } : l)) } }),
      /header\.architecture is not a valid sequential model: layers\[3\]: dense\.units must be an integer in \[1, 1048576\]; got 0/],
    [(h) => ({ ...h, architecture: { ...h.architecture, layers: [{ ...h.architecture.layers[0], filtres: 2 }, ...h.architecture.layers.slice(1)] } }),
      /layers\[0\]: Unknown option 'filtres' for conv2d\. Did you mean 'filters'\?/],
    [(h) => ({ ...h, architecture: { ...h.architecture, layers: h.architecture.layers.slice(0, 3) } }), /last layer must be dense/],
    [(h) => ({ ...h, architecture: { ...h.architecture, inputShape: [1, 1, 1] } }), /layers\[1\] \(avgPool2d\).*leaves an output of 0×0/],
    [(h) => ({ ...h, architecture: { ...h.architecture, inputShape: [6, 4, 2] } }), /header\.params must be an integer in \[(\d+), \1\]/],
    [(h) => ({ ...h, architecture: { ...h.architecture, activation: 'tanh' } }), /header\.architecture\.activation must be absent/],
    [(h) => ({ ...h, version: 2 }), /header\.version must be one of 3/],
  ];
  for (const [edit, pattern] of cases) {
    try {
      decodeModel(editHeader(bytes, edit));
      assert.unreachable(`accepted: ${pattern}`);
    } catch (e) {
      if (!(e instanceof FormatError)) assert.unreachable(`${pattern}: got ${(e as Error).name}: ${(e as Error).message}`);
      assert.match((e as Error).message, pattern);
    }
  }
  // a sequential header in a version-2 file is refused (that version holds mlp() models only)
  const v2 = editHeader(bytes, (h) => ({ ...h, version: 2 }));
  new DataView(v2.buffer).setUint32(8, 2, true);
  new DataView(v2.buffer).setUint32(v2.length - 4, crc32(v2.subarray(0, v2.length - 4)), true);
  assert.throws(() => decodeModel(v2), (e: Error) => e instanceof FormatError && /header\.format must be one of "enkf-wasm\/mlp"/.test(e.message));
});

test.run();
