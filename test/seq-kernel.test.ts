// The seq kernel family (seqParamCount / seqWorkBytes / seqNetwork / seqForward) against the plain-TS
// reference of test/helpers/seq-reference.ts, in both builds.
// Tolerance: float data runs f32 sums of length K ≤ 600 against f64 sums: ≤ 2e-5 of the output's
// scale. sign / heaviside layers are tested on dyadic data (multiples of 1/8 and 1/4, small sums):
// every f32 sum is then exact, so kernel and reference agree exactly, ties at 0 included.
// SIMD == scalar bits holds unless a dense layer has units ≡ 1 or 2 mod 8 (the SIMD dot tile sums
// over k in lanes; conv layers never use it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type EnkfModule } from '../bindings/index.js';
import { builds, expectKernelError, label } from './helpers.js';
import { maxAbs, maxAbsDiff, mulberry32, gaussArray } from './oracles.js';
import { LAYER_WORDS, seqForwardRef, seqTable, type SeqLayerSpec } from './helpers/seq-reference.js';

/** The seq kernels (declared here until bindings/abi.ts lists them). */
interface SeqRaw {
  seqParamCount(layers: number, table: number): number;
  seqWorkBytes(layers: number, table: number, rows: number): number;
  seqNetworkBytes(): number;
  seqNetwork(net: number, layers: number, table: number, rows: number, X: number, P: number, pStride: number,
    out: number, work: number): void;
  seqForward(net: number, members: number): void;
  mlpNetworkBytes(): number;
  mlpWorkBytes(rows: number, layers: number, dims: number): number;
  mlpNetwork(net: number, layers: number, act: number, outAct: number, rows: number, dims: number, X: number, P: number,
    pStride: number, out: number, bufA: number, bufB: number, work: number): void;
  mlpForward(net: number, members: number): void;
}

const mods = await builds();
const raw = (mod: EnkfModule) => mod.exports as unknown as SeqRaw;
const up4 = (n: number) => (n + 3) & ~3;

/** seqForward of `members` parameter rows (P: members × pStride) over X; returns out (members × rows × outSize). */
function runSeq(mod: EnkfModule, table: Int32Array, rows: number, X: ArrayLike<number>, P: ArrayLike<number>,
  pStride: number, members: number): Float32Array {
  const ws = new Workspace(mod);
  try {
    const r = raw(mod);
    const layers = table.length / LAYER_WORDS;
    const T = ws.from('i32', table);
    const last = (layers - 1) * LAYER_WORDS;
    const out = ws.f32(members * rows * table[last + 5] * table[last + 6] * table[last + 7]);
    const work = ws.alloc('f32', r.seqWorkBytes(layers, T.ptr, rows) / 4);
    const net = ws.i32(r.seqNetworkBytes() / 4);
    r.seqNetwork(net.ptr, layers, T.ptr, rows, ws.from('f32', X).ptr, ws.from('f32', P).ptr, pStride, out.ptr, work.ptr);
    r.seqForward(net.ptr, members);
    return out.copy();
  } finally {
    ws.dispose();
  }
}

interface Case { name: string; input: [number, number, number]; specs: SeqLayerSpec[]; rows: number; members: number }

// Odd shapes: strides 2, 'same' padding (even and odd totals), cin 3 and 5, pools 2 and 3 with
// strides ≠ size, quantized dense and conv layers (levels 2, 3, 5), every activation.
const FLOAT_CASES: Case[] = [
  {
    name: 'conv same s2 cin3 → maxPool 3/2 → conv q3 → avgPool 2/1 → dense q2',
    input: [15, 9, 3], rows: 7, members: 3,
    specs: [
      { type: 'conv2d', filters: 5, kernel: [3, 4], strides: [2, 2], padding: 'same', act: 'relu' },
      { type: 'maxPool2d', size: [3, 3], strides: [2, 1] },
      { type: 'conv2d', filters: 6, kernel: [2, 2], act: 'tanh', levels: 3, range: 0.4 },
      { type: 'avgPool2d', size: [2, 2], strides: [1, 1] },
      { type: 'dense', units: 7, act: 'sigmoid', levels: 2, range: 0.3 },
      { type: 'dense', units: 3 },
    ],
  },
  {
    name: 'cin5 conv valid s(1,2) hardTanh → avgPool 3/(2,3) → dense q5 → dense',
    input: [9, 13, 5], rows: 5, members: 4,
    specs: [
      { type: 'conv2d', filters: 11, kernel: [3, 3], strides: [1, 2], act: 'hardTanh' },
      { type: 'avgPool2d', size: [3, 3], strides: [2, 3] },
      { type: 'dense', units: 9, act: 'relu', levels: 5, range: 0.5 },
      { type: 'dense', units: 10 },
    ],
  },
  {
    name: 'the MNIST CNN shape, small batch (8c5 relu, max 2, 16c5 relu, max 2, dense 10)',
    input: [28, 28, 1], rows: 3, members: 2,
    specs: [
      { type: 'conv2d', filters: 8, kernel: [5, 5], act: 'relu' },
      { type: 'maxPool2d', size: [2, 2] },
      { type: 'conv2d', filters: 16, kernel: [5, 5], act: 'relu' },
      { type: 'maxPool2d', size: [2, 2] },
      { type: 'dense', units: 10 },
    ],
  },
  {
    name: 'conv same 5×5 s3 on 7×7 cin4, K > 512 (conv same 3×3 on 64 channels), conv 1×1',
    input: [7, 7, 4], rows: 6, members: 2,
    specs: [
      { type: 'conv2d', filters: 64, kernel: [5, 5], strides: [3, 3], padding: 'same', act: 'tanh' },
      { type: 'conv2d', filters: 6, kernel: [3, 3], padding: 'same', act: 'relu' },
      { type: 'conv2d', filters: 3, kernel: [1, 1], act: 'identity' },
      { type: 'dense', units: 4 },
    ],
  },
  {
    name: 'pool first, wide dense (K = 600 > 512: two K blocks)',
    input: [20, 30, 4], rows: 9, members: 2,
    specs: [
      { type: 'maxPool2d', size: [2, 2] },
      { type: 'dense', units: 13, act: 'relu' },
      { type: 'dense', units: 5, act: 'hardTanh' },
    ],
  },
  {
    name: 'a pool as the last layer (conv same 2×3 s(1,2) → maxPool (2,3)/(2,2))',
    input: [6, 11, 2], rows: 5, members: 3,
    specs: [
      { type: 'conv2d', filters: 4, kernel: [2, 3], strides: [1, 2], padding: 'same', act: 'hardTanh' },
      { type: 'maxPool2d', size: [2, 3], strides: [2, 2] },
    ],
  },
];

/** Seeded members: P rows (pStride floats apart, padding NaN: never read) with gaussian θ·scale. */
function params(rand: () => number, n: number, members: number, scale: number, dyadic = false): { P: Float32Array; pStride: number } {
  const pStride = up4(n + 1);
  const P = new Float32Array(members * pStride).fill(NaN);
  for (let m = 0; m < members; m++) {
    const g = gaussArray(rand, n);
    for (let i = 0; i < n; i++) P[m * pStride + i] = dyadic ? Math.round(g[i] * 4) / 8 : g[i] * scale;
  }
  return { P, pStride };
}

function check(mod: EnkfModule, c: Case, seed: number, exact: boolean): Float32Array {
  const rand = mulberry32(seed);
  const { table, params: n, outShape } = seqTable(c.input, c.specs);
  const layers = c.specs.length;
  const T = new Workspace(mod);
  try {
    assert.is(raw(mod).seqParamCount(layers, T.from('i32', table).ptr), n, `${c.name}: seqParamCount`);
  } finally {
    T.dispose();
  }
  const inLen = c.input[0] * c.input[1] * c.input[2];
  const X = Float32Array.from(gaussArray(rand, c.rows * inLen), (v) => (exact ? Math.round(v * 4) / 4 : v));
  const { P, pStride } = params(rand, n, c.members, 0.4, exact);
  const got = runSeq(mod, table, c.rows, X, P, pStride, c.members);
  const outLen = outShape[0] * outShape[1] * outShape[2];
  for (let m = 0; m < c.members; m++) {
    const { out: want } = seqForwardRef(table, P.subarray(m * pStride, m * pStride + n), X, c.rows);
    const slice = got.subarray(m * c.rows * outLen, (m + 1) * c.rows * outLen);
    const err = maxAbsDiff(slice, want);
    const tol = exact ? 0 : 2e-5 * Math.max(1, maxAbs(want));
    assert.ok(err <= tol, `${label(mod)} ${c.name} member ${m}: off the reference by ${err} (tolerance ${tol})`);
  }
  return got;
}

test('sign, heaviside, hardTanh: exact values at 0, ±1, ±∞, NaN in every epilogue path of both builds', () => {
  const xs = [0, -0, 2 ** -149, -(2 ** -149), 1e-30, -1e-30, 0.5, -0.5, 1, -1, 1 + 2 ** -23, -1 - 2 ** -23, 3, -3,
    Infinity, -Infinity, NaN, 7];
  // pre-activation x·1 + 0 (−0 becomes +0); sign(NaN) = −1 and heaviside(NaN) = 0 (comparisons are false)
  const want: Record<'sign' | 'heaviside' | 'hardTanh', (v: number) => number> = {
    sign: (v) => (v >= 0 ? 1 : -1),
    heaviside: (v) => (v > 0 ? 1 : 0),
    hardTanh: (v) => Math.min(Math.max(v, -1), 1),
  };
  for (const mod of mods) {
    for (const act of ['sign', 'heaviside', 'hardTanh'] as const) {
      // width 8: full SIMD tiles (act4), 3: the scalar edge epilogue, 2: the dot tile's column epilogue
      for (const units of [8, 3, 2]) {
        const { table } = seqTable([1, 1, 1], [{ type: 'dense', units, act }]);
        const P = new Float32Array(up4(2 * units)).fill(0).fill(1, 0, units);
        const got = runSeq(mod, table, xs.length, xs, P, P.length, 1);
        xs.forEach((x, i) => {
          const w = want[act](Math.fround(x) + 0);
          for (let j = 0; j < units; j++) {
            assert.ok(Object.is(got[i * units + j], w), `${label(mod)} ${act} width ${units}: f(${x}) = ${got[i * units + j]}, want ${w}`);
          }
        });
      }
    }
  }
});

test('seqForward equals the plain-TS reference (float data, several members)', () => {
  for (const mod of mods) FLOAT_CASES.forEach((c, i) => check(mod, c, 100 + i, false));
});

// sign / heaviside on dyadic data: exact sums, so equality is exact and zeros hit the tie rule.
const EXACT_CASES: Case[] = [
  {
    name: 'conv same s2 sign → maxPool 2 → conv heaviside q3 → avgPool 2 → dense sign q2 → dense',
    input: [10, 9, 3], rows: 6, members: 3,
    specs: [
      { type: 'conv2d', filters: 6, kernel: [3, 3], strides: [2, 2], padding: 'same', act: 'sign' },
      { type: 'maxPool2d', size: [2, 2], strides: [1, 1] },
      { type: 'conv2d', filters: 5, kernel: [2, 2], act: 'heaviside', levels: 3, range: 0.5 },
      { type: 'avgPool2d', size: [2, 2] },
      { type: 'dense', units: 12, act: 'sign', levels: 2, range: 0.25 },
      { type: 'dense', units: 4, act: 'heaviside' },
      { type: 'dense', units: 3, act: 'relu' },
    ],
  },
];

test('sign and heaviside layers: exactly the reference on dyadic data (ties at 0 included)', () => {
  for (const mod of mods) {
    for (const c of EXACT_CASES) {
      check(mod, c, 300, true);
      // the data does reach the ties: some pre-activation of a sign / heaviside layer is exactly 0
      const rand = mulberry32(300);
      const { table, params: n } = seqTable(c.input, c.specs);
      const inLen = c.input[0] * c.input[1] * c.input[2];
      const X = Float32Array.from(gaussArray(rand, c.rows * inLen), (v) => Math.round(v * 4) / 4);
      const { P } = params(rand, n, 1, 0, true);
      assert.is(seqForwardRef(table, P.subarray(0, n), X, c.rows).minAbsPre, 0, 'a tie at 0 is exercised');
    }
  }
});

test('SIMD and scalar builds give the same bits (no dense width 1 or 2 mod 8)', () => {
  const cases: Case[] = [
    { ...FLOAT_CASES[0], specs: FLOAT_CASES[0].specs.slice(0, 5) }, // widths 5, 6, 7
    { ...FLOAT_CASES[2], specs: [...FLOAT_CASES[2].specs.slice(0, 4), { type: 'dense', units: 12 }] },
    EXACT_CASES[0],
  ];
  cases.forEach((c, i) => {
    const [a, b] = mods.map((mod) => check(mod, c, 400 + i, c === EXACT_CASES[0]));
    const x = new Uint32Array(a.buffer), y = new Uint32Array(b.buffer);
    for (let j = 0; j < x.length; j++) {
      if (x[j] !== y[j]) assert.unreachable(`${c.name}: simd ${a[j]} ≠ scalar ${b[j]} at ${j}`);
    }
  });
});

test('an all-dense table gives mlpForward\'s bits for the same θ', () => {
  // Same engine, same K blocks and packing per layer; the row blocks do not change a row's sums.
  for (const mod of mods) {
    for (const [dims, act, rows] of [[[37, 20, 10], 1, 13], [[600, 9, 16, 3], 2, 5], [[5, 3], 0, 700]] as [number[], number, number][]) {
      const rand = mulberry32(500 + dims[0]);
      const L = dims.length - 1;
      const specs: SeqLayerSpec[] = dims.slice(1).map((units, l) => ({
        type: 'dense', units, act: l < L - 1 ? (['identity', 'relu', 'tanh'] as const)[act] : 'identity',
      }));
      const { table, params: n } = seqTable([1, 1, dims[0]], specs);
      const X = Float32Array.from(gaussArray(rand, rows * dims[0]));
      const members = 3;
      const { P, pStride } = params(rand, n, members, 0.3);
      const got = runSeq(mod, table, rows, X, P, pStride, members);
      const ws = new Workspace(mod);
      try {
        const r = raw(mod);
        const D = ws.from('i32', dims), out = ws.f32(members * rows * dims[L]), net = ws.i32(r.mlpNetworkBytes() / 4);
        const wide = rows * Math.max(...dims);
        r.mlpNetwork(net.ptr, L, act, 0, rows, D.ptr, ws.from('f32', X).ptr, ws.from('f32', P).ptr, pStride, out.ptr,
          ws.f32(wide).ptr, ws.f32(wide).ptr, ws.alloc('f32', r.mlpWorkBytes(rows, L, D.ptr) / 4).ptr);
        r.mlpForward(net.ptr, members);
        const want = out.copy();
        assert.equal(new Uint32Array(got.buffer), new Uint32Array(want.buffer), `${label(mod)} ${dims.join('-')}`);
      } finally {
        ws.dispose();
      }
    }
  }
});

test('bad tables and arguments raise KernelErrors naming the problem', () => {
  const mod = mods[0];
  const r = raw(mod);
  const { table } = seqTable([8, 8, 2], [
    { type: 'conv2d', filters: 4, kernel: [3, 3], padding: 'same', act: 'relu' },
    { type: 'maxPool2d', size: [2, 2] },
    { type: 'dense', units: 3 },
  ]);
  const ws = new Workspace(mod);
  try {
    const bad = (edit: (t: Int32Array) => void, pattern: RegExp) => {
      const t = table.slice();
      edit(t);
      expectKernelError(() => r.seqParamCount(3, ws.from('i32', t).ptr), pattern);
    };
    bad((t) => { t[0] = 4; }, /^seqParamCount: layer 0 op must be 0 \(dense\), 1 \(conv2d\), 2 \(maxPool2d\) or 3 \(avgPool2d\); got 4$/);
    bad((t) => { t[1] = 7; }, /^seqParamCount: layer 0 act must be 0 \(identity\), .* 6 \(hardTanh\); got 7$/);
    bad((t) => { t[12] = 0; }, /^seqParamCount: layer 0 outH, padTop must be 6, 0 \('valid'\) or 8, 1 \('same'\); got 8, 0$/);
    bad((t) => { t[LAYER_WORDS + 2] = 7; }, /^seqParamCount: layer 1 inH must be layer 0's outH = 8; got 7$/);
    bad((t) => { t[LAYER_WORDS + 5] = 3; }, /^seqParamCount: layer 1 outH must be ⌊\(in − k\)\/stride⌋ \+ 1 = 4; got 3$/);
    bad((t) => { t[2 * LAYER_WORDS + 14] = 77; }, /^seqParamCount: layer 2 wOffset must be the parameter count of the layers before it = 76; got 77$/);
    bad((t) => { t[LAYER_WORDS + 14] = 0; }, /^seqParamCount: layer 1 wOffset must be -1 \(pools have no parameters\); got 0$/);
    bad((t) => { t[2 * LAYER_WORDS + 15] = 1; }, /^seqParamCount: layer 2 levels must be 0 \(real weights\) or in \[2, 16777216\]; got 1$/);
    bad((t) => { t[2 * LAYER_WORDS + 15] = 3; }, /^seqParamCount: layer 2 range must be the f32 bits of a finite R > 0 with levels ≥ 2; got 0.0$/);
    bad((t) => { t[19] = 1; }, /^seqParamCount: layer 0 word 19 must be 0 \(reserved\); got 1$/);
    expectKernelError(() => r.seqParamCount(0, ws.from('i32', table).ptr), /^seqParamCount: layers must be ≥ 1; got 0$/);
    expectKernelError(() => r.seqWorkBytes(3, ws.from('i32', table).ptr, 0), /^seqWorkBytes: rows must be ≥ 1; got 0$/);

    const T = ws.from('i32', table);
    const n = r.seqParamCount(3, T.ptr);
    const rows = 4;
    const pStride = up4(n);
    const X = ws.f32(rows * 128), P = ws.f32(2 * pStride), out = ws.f32(2 * rows * 3), net = ws.i32(r.seqNetworkBytes() / 4);
    const work = ws.alloc('f32', r.seqWorkBytes(3, T.ptr, rows) / 4);
    const mk = (o: Partial<Record<'X' | 'P' | 'pStride' | 'out' | 'work', number>>) =>
      r.seqNetwork(net.ptr, 3, T.ptr, rows, o.X ?? X.ptr, o.P ?? P.ptr, o.pStride ?? pStride, o.out ?? out.ptr, o.work ?? work.ptr);
    expectKernelError(() => mk({ pStride: n - 4 }), new RegExp(`^seqNetwork: pStride must be ≥ the parameter count = ${n}; got ${n - 4}$`));
    expectKernelError(() => mk({ pStride: pStride + 2 }), new RegExp(`^seqNetwork: pStride must be a multiple of 4; got ${pStride + 2}$`));
    expectKernelError(() => mk({ out: X.ptr }), /^seqNetwork: out and X must not overlap \(pass separate buffers\)/);
    expectKernelError(() => mk({ work: P.ptr }), /^seqNetwork: work \(seqWorkBytes bytes, 16-aligned\) must lie inside memory|^seqNetwork: work and P must not overlap/);
    expectKernelError(() => mk({ work: work.ptr + 4 }), /^seqNetwork: work \(seqWorkBytes bytes, 16-aligned\) must be 16-byte aligned/);
    mk({});
    r.seqForward(net.ptr, 2);
    expectKernelError(() => r.seqForward(net.ptr, 0), /^seqForward: members must be ≥ 1; got 0$/);
    expectKernelError(() => r.seqForward(net.ptr, 1 << 22), /^seqForward: P must lie inside memory; got pointer \d+ \+ extent \d+ bytes > memory size/);
    // every call re-checks the descriptor and its table
    new Int32Array(mod.memory.buffer, T.ptr, table.length)[1] = 9;
    expectKernelError(() => r.seqForward(net.ptr, 1), /^seqForward: layer 0 act must be 0 \(identity\).*; got 9$/);
  } finally {
    ws.dispose();
  }
});

test.run();
