// seqLowRankForward (assembly/seq-lowrank.ts) against the explicit-row path it replaces: the f32
// member rows of lowRankMembers run by seqForward. Layer 0 is shared (Z0 = layer0(X; W_0) once,
// Y_u = layer0(X; U_u) once per stream, a rank-r epilogue per member), so a member's layer-0
// pre-activation is rounded differently in f32: the outputs agree within TOL of the output scale
// (K ≤ 75 f32 sums, then the network), θ's slice (g = 0) bit for bit. A member's output depends on
// (θ, σ, seed, draw, i) only: split requests give the same bits. SIMD == scalar bits (no GEMM width
// here is 1 or 2 mod 8: the SIMD dot tile is the only path that sums in another order).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type EnkfModule } from '../bindings/index.js';
import { builds, expectKernelError, label } from './helpers.js';
import { gaussArray, maxAbs, maxAbsDiff, mulberry32 } from './oracles.js';
import { LAYER_WORDS, seqTable, type SeqLayerSpec } from './helpers/seq-reference.js';
import { sequential } from '../bindings/nn/sequential.js';
import { conv2d, dense, maxPool2d } from '../bindings/nn/layers.js';
import { SeqEvaluator } from '../bindings/nn/seq-evaluator.js';
import { createDirections } from '../bindings/optimizers/directions.js';

const TOL = 2e-5;
const mods = await builds();
const up4 = (n: number) => (n + 3) & ~3;

interface Case { name: string; input: [number, number, number]; specs: SeqLayerSpec[]; rows: number }

const CASES: Case[] = [
  {
    name: 'conv 3×3 s2 same cin3 tanh → maxPool 2 → dense relu → dense',
    input: [9, 11, 3], rows: 13,
    specs: [
      { type: 'conv2d', filters: 5, kernel: [3, 3], strides: [2, 2], padding: 'same', act: 'tanh' },
      { type: 'maxPool2d', size: [2, 2] },
      { type: 'dense', units: 6, act: 'relu' },
      { type: 'dense', units: 3 },
    ],
  },
  {
    name: 'conv 5×4 valid cin1 relu (3 filters) → avgPool 2/1 → conv q3 → dense',
    input: [12, 10, 1], rows: 6,
    specs: [
      { type: 'conv2d', filters: 3, kernel: [5, 4], act: 'relu' },
      { type: 'avgPool2d', size: [2, 2], strides: [1, 1] },
      { type: 'conv2d', filters: 4, kernel: [3, 3], strides: [2, 2], act: 'sigmoid', levels: 3, range: 0.3 },
      { type: 'dense', units: 4 },
    ],
  },
  {
    name: 'dense 23 → 12 hardTanh → dense 3',
    input: [1, 1, 23], rows: 9,
    specs: [{ type: 'dense', units: 12, act: 'hardTanh' }, { type: 'dense', units: 3 }],
  },
  {
    name: 'dense on a 4×5×2 image → 5 (one layer)',
    input: [4, 5, 2], rows: 7,
    specs: [{ type: 'dense', units: 5 }],
  },
];

/** The table's weight blocks [fanIn, fanOut] in order. */
function blocksOf(table: Int32Array): number[] {
  const s: number[] = [];
  for (let l = 0; l < table.length / LAYER_WORDS; l++) {
    const w = table.subarray(l * LAYER_WORDS);
    if (w[0] === 0) s.push(w[2] * w[3] * w[4], w[7]);
    else if (w[0] === 1) s.push(w[8] * w[9] * w[4], w[7]);
  }
  return s;
}

interface Call { count: number; member0: number; anti: boolean; center: boolean }

/** A network on a module: both paths over the same X, θ and draw. */
function network(mod: EnkfModule, c: Case, rank: number, maxRows: number, seed: number) {
  const { table, params: n, outShape } = seqTable(c.input, c.specs);
  const layers = table.length / LAYER_WORDS;
  const inSize = c.input[0] * c.input[1] * c.input[2];
  const outSize = outShape[0] * outShape[1] * outShape[2];
  const rand = mulberry32(seed);
  const X = Float32Array.from(gaussArray(rand, c.rows * inSize));
  const theta = Float64Array.from(gaussArray(rand, n), (v) => 0.4 * v);
  const shapes = blocksOf(table);
  const ws = new Workspace(mod);
  const raw = ws.raw;
  const pStride = up4(n);
  const T = ws.from('i32', table);
  const S = ws.from('i32', shapes);
  const th = ws.from('f64', theta);
  const P = ws.f32(maxRows * pStride);
  const out = ws.f32(maxRows * c.rows * outSize);
  const seqWork = ws.f32(raw.seqWorkBytes(layers, T.ptr, c.rows) / 4);
  const net = ws.i32(raw.seqNetworkBytes() / 4);
  raw.seqNetwork(net.ptr, layers, T.ptr, c.rows, ws.from('f32', X).ptr, P.ptr, pStride, out.ptr, seqWork.ptr);
  const blocks = shapes.length / 2;
  const mWork = ws.f64(Math.ceil(raw.lowRankMembersWorkBytes(blocks, S.ptr, rank) / 8));
  const slice = c.rows * outSize;
  const draw = { sigma: 0.3, seed: 11, draw: 4 };
  return {
    ws, raw, n, slice, shapes: S, net, T, layers, blocks, rows: c.rows,
    /** lowRankMembers rows + seqForward: the explicit-row path. */
    explicit(k: Call): Float32Array {
      const lead = k.center ? 1 : 0;
      raw.lowRankMembers(k.count, blocks, S.ptr, rank, draw.sigma, draw.seed, draw.draw, k.member0, k.anti ? 1 : 0, lead, th.ptr, P.ptr, pStride, mWork.ptr);
      raw.seqForward(net.ptr, k.count + lead);
      return out.view().slice(0, (k.count + lead) * slice);
    },
    /** seqLowRankForward. */
    shared(k: Call): Float32Array {
      const lead = k.center ? 1 : 0;
      const bytes = raw.seqLowRankWorkBytes(layers, T.ptr, c.rows, S.ptr, rank, k.count, k.anti ? 1 : 0);
      const work = ws.f32(Math.ceil(bytes / 4));
      raw.seqLowRankForward(net.ptr, k.count, rank, S.ptr, th.ptr, draw.sigma, draw.seed, draw.draw, k.member0, k.anti ? 1 : 0, lead, work.ptr);
      ws.free(work);
      return out.view().slice(0, (k.count + lead) * slice);
    },
  };
}

const CALLS: Call[] = [
  { count: 7, member0: 0, anti: false, center: true },
  { count: 6, member0: 3, anti: false, center: false },
  { count: 8, member0: 2, anti: true, center: true },
  { count: 5, member0: 5, anti: true, center: false },
];

test('seqLowRankForward equals lowRankMembers rows + seqForward within f32 rounding (conv / dense layer 0, rank 1 and 3, pairs, centre, member0 ≠ 0)', () => {
  for (const mod of mods) {
    CASES.forEach((c, ci) => {
      for (const rank of [1, 3]) {
        const net = network(mod, c, rank, 9, 100 + ci);
        try {
          for (const k of CALLS) {
            const what = `${label(mod)} ${c.name} rank ${rank} ${JSON.stringify(k)}`;
            const want = net.explicit(k);
            const got = net.shared(k);
            const scale = Math.max(1, maxAbs(want));
            assert.ok(maxAbsDiff(got, want) <= TOL * scale, `${what}: ${maxAbsDiff(got, want)} > ${TOL * scale}`);
            // θ's slice (g = 0) is seqForward's bit for bit: Z0 + bias, the same sums
            if (k.center) assert.equal(Array.from(got.subarray(0, net.slice)), Array.from(want.subarray(0, net.slice)), `${what} centre`);
            // the members are perturbed, and differently from each other
            const lead = k.center ? 1 : 0;
            const m0 = got.subarray(lead * net.slice, (lead + 1) * net.slice);
            const m1 = got.subarray((lead + 1) * net.slice, (lead + 2) * net.slice);
            assert.ok(maxAbsDiff(m0, m1) > 1e-3, `${what}: members differ`);
          }
        } finally {
          net.ws.dispose();
        }
      }
    });
  }
});

test('seqLowRankForward: a request split into calls gives the bits of one call (any member0, pairs split or whole)', () => {
  for (const mod of mods) {
    CASES.forEach((c, ci) => {
      for (const rank of [1, 3]) {
        for (const anti of [false, true]) {
          const net = network(mod, c, rank, 20, 200 + ci);
          try {
            const whole = net.shared({ count: 19, member0: 1, anti, center: true });
            // pieces: 1 | 2 … 9 (a pair cut at member 1/2 and 9/10 when anti) | 10 … 19, each in its own call
            const parts: [number, number][] = [[1, 1], [2, 8], [10, 10]];
            for (const [member0, count] of parts) {
              const got = net.shared({ count, member0, anti, center: false });
              const from = (1 + member0 - 1) * net.slice;
              assert.equal(Array.from(got), Array.from(whole.subarray(from, from + count * net.slice)),
                `${label(mod)} ${c.name} rank ${rank} anti ${anti} members ${member0}…${member0 + count - 1}`);
            }
          } finally {
            net.ws.dispose();
          }
        }
      }
    });
  }
});

test('seqLowRankForward: the SIMD and scalar builds give the same bits', () => {
  CASES.forEach((c, ci) => {
    for (const rank of [1, 3]) {
      for (const k of CALLS) {
        const got = mods.map((mod) => {
          const net = network(mod, c, rank, 9, 300 + ci);
          try {
            return Array.from(net.shared(k));
          } finally {
            net.ws.dispose();
          }
        });
        assert.equal(got[0], got[1], `${c.name} rank ${rank} ${JSON.stringify(k)}`);
      }
    }
  });
});

test('seqLowRankForward / seqLowRankWorkBytes: argument errors name the argument, the expectation and the value', () => {
  const [mod] = mods;
  const c = CASES[0];
  const net = network(mod, c, 2, 9, 7);
  const { raw, ws, T, layers, shapes } = net;
  try {
    const bytes = raw.seqLowRankWorkBytes(layers, T.ptr, c.rows, shapes.ptr, 2, 4, 0);
    const work = ws.f32(Math.ceil(bytes / 4));
    const th = ws.f64(net.n);
    const run = (o: Partial<{ count: number; rank: number; shapes: number; theta: number; sigma: number; work: number; member0: number; net: number }>) =>
      raw.seqLowRankForward(o.net ?? net.net.ptr, o.count ?? 4, o.rank ?? 2, o.shapes ?? shapes.ptr, o.theta ?? th.ptr, o.sigma ?? 0.1, 1, 2,
        o.member0 ?? 0, 0, 1, o.work ?? work.ptr);
    run({});
    expectKernelError(() => run({ count: 0 }), /^seqLowRankForward: count must be ≥ 1; got 0$/);
    expectKernelError(() => run({ rank: 0 }), /^seqLowRankForward: rank must be ≥ 1; got 0$/);
    expectKernelError(() => run({ sigma: NaN }), /^seqLowRankForward: sigma must be finite; got NaN$/);
    expectKernelError(() => run({ member0: 0xFFFFFFFE }), /member0 \+ k must be ≤ 2\^32/);
    // (a buffer shorter than its extent but inside memory cannot be detected: not tested)
    expectKernelError(() => run({ work: work.ptr + 4 }), /^seqLowRankForward: work \(seqLowRankWorkBytes bytes, 16-aligned\) must be 16-byte aligned/);
    expectKernelError(() => run({ theta: 0 }), /^seqLowRankForward: theta must be a buffer from alloc; got the null pointer 0$/);
    // blocks that are not the table's
    const wrong = ws.from('i32', [27, 5, 45, 6, 6, 3]); // block 2 is 30 × 6
    expectKernelError(() => run({ shapes: wrong.ptr }),
      /^seqLowRankForward: shapes block 2 must be the fanIn × fanOut of layer 2 = 30 × 6 \(the table's weight blocks\); got 45 × 6$/);
    const zero = ws.from('i32', [27, 5, 30, 0, 6, 3]);
    expectKernelError(() => run({ shapes: zero.ptr }), /^seqLowRankForward: shapes\[3\] \(the fanOut of block 2\) must be ≥ 1; got 0$/);
    expectKernelError(() => raw.seqLowRankWorkBytes(layers, T.ptr, c.rows, shapes.ptr, 2, 0, 0), /^seqLowRankWorkBytes: count must be ≥ 1; got 0$/);
    expectKernelError(() => raw.seqLowRankWorkBytes(layers, T.ptr, 0, shapes.ptr, 2, 1, 0), /^seqLowRankWorkBytes: rows must be ≥ 1; got 0$/);
    // layer 0 must be dense or conv2d with real weights
    for (const specs of [
      [{ type: 'maxPool2d', size: [2, 2] }, { type: 'dense', units: 3 }],
      [{ type: 'conv2d', filters: 2, kernel: [3, 3], levels: 3, range: 0.5 }, { type: 'dense', units: 3 }],
    ] as SeqLayerSpec[][]) {
      const t = seqTable([6, 6, 1], specs);
      const tb = ws.from('i32', t.table);
      const sb = ws.from('i32', blocksOf(t.table).length ? blocksOf(t.table) : [1, 1]);
      expectKernelError(() => raw.seqLowRankWorkBytes(2, tb.ptr, 3, sb.ptr, 1, 2, 0),
        /^seqLowRankWorkBytes: layer 0 must be a dense or conv2d layer with real weights \(levels 0; else use seqForward with explicit member rows\); got op [12], levels [03]$/);
    }
  } finally {
    ws.dispose();
  }
});

test('SeqEvaluator.evaluatePerturbed: rank-r members share layer 0 when it is dense or conv2d with real weights, else run as explicit rows', async () => {
  const [module] = mods;
  const B = 4;
  const cases = [
    { shared: true, layers: [conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), maxPool2d(), dense({ units: 3 })] },
    { shared: true, layers: [dense({ units: 6, activation: 'tanh' }), dense({ units: 3 })] },
    { shared: false, layers: [conv2d({ filters: 4, kernelSize: 3, activation: 'relu', quantize: { levels: 3 } }), maxPool2d(), dense({ units: 3 })] },
  ];
  for (const c of cases) {
    const model = sequential(c.layers, { inputShape: [7, 6, 2], seed: 3 });
    const n = model.parameterCount;
    const m = B * model.classes;
    const rand = mulberry32(5);
    const x = Float32Array.from(gaussArray(rand, 10 * model.inputSize));
    const ws = new Workspace(module);
    const ev = new SeqEvaluator(module, { architecture: model.architecture(), batchSize: B, maxMembers: 7 });
    try {
      const dirs = createDirections(ws, n, { perturbation: { kind: 'low-rank', rank: 2 }, blocks: model.blocks });
      ev.setBatch(x, [1, 8, 3, 5]);
      const theta = ws.from('f64', model.params);
      const count = 6;
      const fast = ws.f64((count + 1) * m);
      ev.evaluatePerturbed({ theta, sigma: 0.1, seed: 2, draw: 7, member0: 1, count, antithetic: true, center: true, perturbation: dirs.perturbation }, fast);
      const rows = ws.f64((count + 1) * n);
      rows.view().set(model.params);
      dirs.members(count, 0.1, 2, 7, 1, true, theta.ptr, rows.byteOffset(n));
      const slow = ws.f64((count + 1) * m);
      ev.evaluate(rows, count + 1, slow);
      const what = `${c.layers[0].type}${c.shared ? '' : ' quantized'}`;
      const [a, b] = [Array.from(fast.view()), Array.from(slow.view())];
      assert.ok(maxAbsDiff(a, b) <= TOL * Math.max(1, maxAbs(b)), `${what}: ${maxAbsDiff(a, b)}`);
      // explicit rows give seqForward's bits; the shared layer 0 rounds the members differently
      if (c.shared) assert.ok(a.some((v, i) => v !== b[i]), `${what}: the shared path ran`);
      else assert.equal(a, b, what);
    } finally {
      ev.dispose();
      ws.dispose();
    }
  }
});

test.run();
