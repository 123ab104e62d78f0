// denseEnsemble, mlpForward and mlpForwardPerturbed against plain-TS f64 oracles, in both builds;
// mlpForwardPerturbed also bit for bit against perturb32 + mlpForward.
// Tolerance: the pre-activation z = Σ x·w + b is an f32 dot product of length K, so
// |z̃ − z| ≤ (K + 3)·u·(Σ|x||w| + |b|), u = 2⁻²⁴; the activation is L-Lipschitz (L = 1, or 1/4 for
// the sigmoid) and adds its own relative error (≤ 2.5e-7, measured below). Through an MLP the
// bound is propagated layer by layer: an input error e_i adds Σ_i |w_ij|·e_i to z_j.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule, Workspace } from '../bindings/index.js';
import type { EnkfModule } from '../bindings/index.js';
import { mulberry32 } from './oracles.js';
import { expectKernelError } from './helpers.js';

const U = 2 ** -24;
const ACT_REL = 2.5e-7;
const SENTINEL = -777.25;

const simd = await loadModule({ simd: true });
const scalar = await loadModule({ simd: false });
const builds: [string, EnkfModule][] = [['simd', simd], ['scalar', scalar]];


const ACTS: ((z: number) => number)[] = [
  (z) => z,
  (z) => Math.max(z, 0),
  Math.tanh,
  (z) => 1 / (1 + Math.exp(-z)),
];
const LIP = [1, 1, 1, 0.25];

const fill = (rand: () => number, n: number, scale = 1) =>
  Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);

// Runs act(x·1 + 0) over xs through denseEnsemble with `width` output columns (8: full SIMD tiles,
// 3: the scalar epilogue of edge tiles, 2: the column epilogue of the dot tile) and returns column 0.
function activate(mod: EnkfModule, act: number, xs: Float32Array, width: number): Float32Array {
  const ws = new Workspace(mod);
  try {
    const X = ws.from('f32', xs), W = ws.from('f32', new Array(width).fill(1)), b = ws.f32(width);
    const Y = ws.f32(xs.length * width);
    const work = ws.alloc('f32', mod.exports.mlpWorkBytes(xs.length, 1, ws.from('i32', [1, width]).ptr) / 4);
    mod.exports.denseEnsemble(1, xs.length, 1, width, act, X.ptr, 0, W.ptr, b.ptr, 0, Y.ptr, 0, work.ptr);
    const y = Y.view();
    return Float32Array.from({ length: xs.length }, (_, i) => y[i * width]);
  } finally {
    ws.dispose();
  }
}

test('tanh and sigmoid: relative error ≤ 2.5e-7 on [−30, 30]; SIMD and scalar bit-identical', () => {
  const n = 60_000;
  const xs = Float32Array.from({ length: n }, (_, i) => Math.fround(-30 + (60 * i) / n));
  xs.set([0, -0, 1e-20, -1e-20, 0.3999, 0.4, 0.4001, -0.4, 88, -88, 200, -200, Infinity, -Infinity], 0);
  for (const act of [2, 3]) {
    const ref = ACTS[act];
    const v8 = activate(simd, act, xs, 8);
    const s8 = activate(simd, act, xs, 3);
    const d8 = activate(simd, act, xs, 2);
    const c8 = activate(scalar, act, xs, 8);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const r = ref(xs[i]);
      const err = Math.abs(v8[i] - r);
      // Below −87 the sigmoid's e^{−x} is clamped: only an absolute bound holds there.
      const ok = act === 3 && xs[i] < -87 ? err < 1.7e-38 : err <= ACT_REL * Math.abs(r);
      if (!ok) assert.unreachable(`act ${act}(${xs[i]}) = ${v8[i]}, expected ${r}`);
      if (Math.abs(r) > 1e-30) worst = Math.max(worst, err / Math.abs(r));
      if (v8[i] !== s8[i] && !(Number.isNaN(v8[i]) && Number.isNaN(s8[i]))) {
        assert.unreachable(`act ${act}(${xs[i]}): vector ${v8[i]} ≠ scalar epilogue ${s8[i]}`);
      }
      if (v8[i] !== d8[i]) assert.unreachable(`act ${act}(${xs[i]}): vector ${v8[i]} ≠ column epilogue ${d8[i]}`);
      if (v8[i] !== c8[i]) assert.unreachable(`act ${act}(${xs[i]}): SIMD build ${v8[i]} ≠ scalar build ${c8[i]}`);
    }
    assert.ok(worst > 1e-8, 'the error measurement saw rounding at all');
    assert.is(v8[act === 2 ? 2 : 0], act === 2 ? Math.fround(1e-20) : 0.5);
  }
  const nan = activate(simd, 2, Float32Array.of(NaN, 1, 2, 3), 8);
  assert.ok(Number.isNaN(nan[0]), 'NaN propagates through tanh');
});

interface DenseCase {
  members: number; rows: number; inDim: number; outDim: number; act: number;
  xStride: number; pStride: number; yStride: number;
  X: Float32Array; P: Float32Array; // W_j at j·pStride, b_j at j·pStride + inDim·outDim
}

function makeDense(rand: () => number, members: number, rows: number, inDim: number, outDim: number,
  act: number, shared: boolean, pPad: number, yPad: number): DenseCase {
  const nP = inDim * outDim + outDim;
  const xStride = shared ? 0 : rows * inDim + Math.floor(rand() * 3);
  const pStride = nP + pPad;
  const yStride = rows * outDim + yPad;
  const X = fill(rand, (shared ? 0 : (members - 1) * xStride) + rows * inDim);
  const P = fill(rand, (members - 1) * pStride + nP, 1 / Math.sqrt(inDim) * 2);
  return { members, rows, inDim, outDim, act, xStride, pStride, yStride, X, P };
}

// f64 reference of member j's layer, with a rigorous error bound per output element.
function denseOracle(c: DenseCase, j: number, X: ArrayLike<number>, xOff: number, xErr: Float64Array | null,
  P: ArrayLike<number>, pOff: number, K: number, N: number, act: number) {
  const ref = new Float64Array(c.rows * N), tol = new Float64Array(c.rows * N);
  for (let r = 0; r < c.rows; r++) {
    for (let o = 0; o < N; o++) {
      const bias = P[pOff + K * N + o];
      let z = bias, s = Math.abs(bias), prop = 0;
      for (let i = 0; i < K; i++) {
        const x = X[xOff + r * K + i], w = P[pOff + i * N + o];
        const e = xErr ? xErr[r * K + i] : 0;
        z += x * w;
        s += (Math.abs(x) + e) * Math.abs(w);
        prop += e * Math.abs(w);
      }
      const y = ACTS[act](z);
      ref[r * N + o] = y;
      tol[r * N + o] = LIP[act] * (prop + (K + 3) * U * s) + ACT_REL * Math.abs(y) + 1e-37;
    }
  }
  return { ref, tol };
}

function runDense(mod: EnkfModule, c: DenseCase): Float32Array {
  const ws = new Workspace(mod);
  try {
    const X = ws.from('f32', c.X), P = ws.from('f32', c.P);
    const Y = ws.from('f32', new Float32Array((c.members - 1) * c.yStride + c.rows * c.outDim).fill(SENTINEL));
    const dims = ws.from('i32', [c.inDim, c.outDim]);
    const work = ws.alloc('f32', mod.exports.mlpWorkBytes(c.rows, 1, dims.ptr) / 4);
    mod.exports.denseEnsemble(c.members, c.rows, c.inDim, c.outDim, c.act, X.ptr, c.xStride, P.ptr,
      P.byteOffset(c.inDim * c.outDim), c.pStride, Y.ptr, c.yStride, work.ptr);
    return Y.copy();
  } finally {
    ws.dispose();
  }
}

test('denseEnsemble: random shapes, all activations, shared and per-member X, padded strides', () => {
  const rand = mulberry32(42);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  for (let rep = 0; rep < 48; rep++) {
    // The first four cases span two K blocks (inDim > 512): bias and activation only on the last.
    const c = makeDense(rand, pick([1, 2, 3, 5]), pick([1, 3, 4, 7, 9, 16, 21]), rep < 4 ? 600 + rep : pick([1, 2, 5, 8, 13, 30]),
      pick([1, 3, 4, 6, 8, 10, 17]), rep % 4, rand() < 0.5, pick([0, 1, 7]), pick([0, 2]));
    for (const [name, mod] of builds) {
      const y = runDense(mod, c);
      for (let j = 0; j < c.members; j++) {
        const { ref, tol } = denseOracle(c, j, c.X, j * c.xStride, null, c.P, j * c.pStride, c.inDim, c.outDim, c.act);
        for (let e = 0; e < ref.length; e++) {
          const got = y[j * c.yStride + e];
          if (!(Math.abs(got - ref[e]) <= tol[e])) {
            assert.unreachable(`${name} members=${c.members} rows=${c.rows} in=${c.inDim} out=${c.outDim} act=${c.act}: ` +
              `Y_${j}[${e}] = ${got}, expected ${ref[e]} ± ${tol[e]}`);
          }
        }
        for (let e = c.rows * c.outDim; j < c.members - 1 && e < c.yStride; e++) {
          assert.is(y[j * c.yStride + e], SENTINEL, `${name}: padding between members overwritten`);
        }
      }
    }
  }
});

interface Mlp { dims: number[]; act: number; outAct: number; members: number; rows: number; pStride: number; X: Float32Array; P: Float32Array }

function makeMlp(rand: () => number, members: number, rows: number, dims: number[], act: number, outAct: number, pad: number): Mlp {
  let n = 0;
  for (let l = 0; l + 1 < dims.length; l++) n += dims[l] * dims[l + 1] + dims[l + 1];
  const pStride = n + pad;
  const P = new Float32Array((members - 1) * pStride + n);
  for (let j = 0; j < members; j++) {
    let off = j * pStride;
    for (let l = 0; l + 1 < dims.length; l++) {
      P.set(fill(rand, dims[l] * dims[l + 1], 2 / Math.sqrt(dims[l])), off);
      off += dims[l] * dims[l + 1];
      P.set(fill(rand, dims[l + 1], 0.5), off);
      off += dims[l + 1];
    }
  }
  return { dims, act, outAct, members, rows, pStride, X: fill(rand, rows * dims[0]), P };
}

function runMlp(mod: EnkfModule, m: Mlp): Float32Array {
  const ws = new Workspace(mod);
  try {
    const L = m.dims.length - 1;
    const hidden = Math.max(1, ...m.dims.slice(1, L));
    const dims = ws.from('i32', m.dims), X = ws.from('f32', m.X), P = ws.from('f32', m.P);
    const out = ws.f32(m.members * m.rows * m.dims[L]);
    out.view().fill(NaN);
    const bufA = ws.f32(m.rows * hidden), bufB = ws.f32(m.rows * hidden);
    const work = ws.alloc('f32', mod.exports.mlpWorkBytes(m.rows, L, dims.ptr) / 4);
    const net = ws.i32(mod.exports.mlpNetworkBytes() / 4);
    mod.exports.mlpNetwork(net.ptr, L, m.act, m.outAct, m.rows, dims.ptr, X.ptr, P.ptr, m.pStride, out.ptr,
      bufA.ptr, bufB.ptr, work.ptr);
    mod.exports.mlpForward(net.ptr, m.members);
    return out.copy();
  } finally {
    ws.dispose();
  }
}

// Member j's output through the f64 oracle with the error bound propagated layer by layer.
function checkMlpMember(name: string, m: Mlp, got: Float32Array, j: number): void {
  const L = m.dims.length - 1;
  let h: ArrayLike<number> = m.X;
  let err: Float64Array | null = null;
  let off = j * m.pStride;
  const c = { rows: m.rows } as DenseCase;
  for (let l = 0; l < L; l++) {
    const K = m.dims[l], N = m.dims[l + 1];
    const r = denseOracle(c, j, h, 0, err, m.P, off, K, N, l === L - 1 ? m.outAct : m.act);
    h = r.ref;
    err = r.tol;
    off += K * N + N;
  }
  const NL = m.dims[L];
  for (let e = 0; e < m.rows * NL; e++) {
    const v = got[j * m.rows * NL + e];
    if (!(Math.abs(v - h[e]) <= err![e])) {
      assert.unreachable(`${name} dims=${m.dims} act=${m.act}/${m.outAct}: out_${j}[${e}] = ${v}, expected ${h[e]} ± ${err![e]}`);
    }
  }
}

test('mlpForward: 1–3 layers, odd widths, every activation pair — both builds', () => {
  const rand = mulberry32(1234);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  for (let rep = 0; rep < 24; rep++) {
    const L = 1 + (rep % 3);
    const dims = Array.from({ length: L + 1 }, () => pick([1, 2, 3, 5, 8, 9, 12, 17, 40]));
    const m = makeMlp(rand, pick([1, 2, 4]), pick([1, 2, 5, 8, 13]), dims, rep % 4, (rep >> 2) % 4, pick([0, 3]));
    for (const [name, mod] of builds) {
      const got = runMlp(mod, m);
      for (let j = 0; j < m.members; j++) checkMlpMember(name, m, got, j);
    }
  }
});

test('mlpForward equals chained denseEnsemble calls bit for bit (same engine, same order)', () => {
  const rand = mulberry32(77);
  const m = makeMlp(rand, 3, 10, [11, 9, 6, 5], 2, 0, 2);
  for (const [name, mod] of builds) {
    const got = runMlp(mod, m);
    const ws = new Workspace(mod);
    const P = ws.from('f32', m.P);
    let inp = ws.from('f32', m.X), xStride = 0, off = 0;
    for (let l = 0; l < 3; l++) {
      const K = m.dims[l], N = m.dims[l + 1];
      const Y = ws.f32(m.members * m.rows * N);
      const work = ws.alloc('f32', mod.exports.mlpWorkBytes(m.rows, 1, ws.from('i32', [K, N]).ptr) / 4);
      mod.exports.denseEnsemble(m.members, m.rows, K, N, l === 2 ? 0 : 2, inp.ptr, xStride, P.byteOffset(off), P.byteOffset(off + K * N),
        m.pStride, Y.ptr, m.rows * N, work.ptr);
      inp = Y;
      xStride = m.rows * N;
      off += K * N + N;
    }
    assert.equal(Array.from(inp.copy()), Array.from(got), `${name}: mlpForward ≠ chained layers`);
    ws.dispose();
  }
});

test('mlpForward at the network size: 33 members × 512 rows, [784, 64, 10], tanh → logits', () => {
  const rand = mulberry32(2024);
  const m = makeMlp(rand, 33, 512, [784, 64, 10], 2, 0, 0);
  const got = runMlp(simd, m);
  for (const j of [0, 16, 32]) checkMlpMember('simd', m, got, j);
  assert.ok(got.every(Number.isFinite));
});

test('bad arguments raise a KernelError naming the problem', () => {
  for (const [, mod] of builds) {
    const ws = new Workspace(mod);
    const X = ws.f32(256), P = ws.f32(256), Y = ws.f32(256), A = ws.f32(256), B = ws.f32(256);
    const dims = ws.from('i32', [4, 3, 2]);
    const work = ws.alloc('f32', mod.exports.mlpWorkBytes(4, 2, dims.ptr) / 4);
    const d = mod.exports.denseEnsemble;
    const net = ws.i32(mod.exports.mlpNetworkBytes() / 4);
    // the descriptor written and checked, then one call of mlpForward
    const f = (members: number, rows: number, layers: number, act: number, outAct: number, dimsP: number, XP: number,
      PP: number, pStride: number, out: number, bufA: number, bufB: number, work: number) => {
      mod.exports.mlpNetwork(net.ptr, layers, act, outAct, rows, dimsP, XP, PP, pStride, out, bufA, bufB, work);
      mod.exports.mlpForward(net.ptr, members);
    };
    expectKernelError(() => d(0, 4, 4, 3, 0, X.ptr, 0, P.ptr, P.byteOffset(12), 15, Y.ptr, 12, work.ptr), /members must be ≥ 1; got 0/);
    expectKernelError(() => d(2, 4, -1, 3, 0, X.ptr, 0, P.ptr, P.byteOffset(12), 15, Y.ptr, 12, work.ptr), /inDim must be ≥ 1; got -1/);
    expectKernelError(() => d(2, 4, 4, 3, 7, X.ptr, 0, P.ptr, P.byteOffset(12), 15, Y.ptr, 12, work.ptr), /act must be 0 .*got 7/);
    expectKernelError(() => d(2, 4, 4, 3, 1, X.ptr, 5, P.ptr, P.byteOffset(12), 15, Y.ptr, 12, work.ptr), /xStride must be 0 .* ≥ rows·inDim = 16; got 5/);
    expectKernelError(() => d(2, 4, 4, 3, 1, X.ptr, 0, P.ptr, P.byteOffset(12), 15, Y.ptr, 11, work.ptr), /yStride must be ≥ rows·outDim = 12/);
    expectKernelError(() => d(2, 4, 4, 3, 1, X.ptr, 0, P.ptr, P.byteOffset(12), -1, Y.ptr, 12, work.ptr), /pStride must be ≥ 0/);
    expectKernelError(() => d(1, 4, 4, 3, 1, X.ptr + 1, 0, P.ptr, P.byteOffset(12), 15, Y.ptr, 12, work.ptr), /denseEnsemble: X must be 4-byte aligned; got pointer \d+/);
    expectKernelError(() => d(1, 4, 4, 3, 1, X.ptr, 0, P.ptr, P.byteOffset(12), 15, Y.ptr, 12, work.ptr + 8), /denseEnsemble: work \(mlpWorkBytes bytes, 16-aligned\) must be 16-byte aligned; got pointer/);
    expectKernelError(() => d(1, 4, 4, 3, 1, X.ptr, 0, P.ptr, P.byteOffset(12), 15, X.ptr, 12, work.ptr), /denseEnsemble: Y and X must not overlap \(pass separate buffers\); got \[\d+, \d+\) and \[\d+, \d+\)/);
    expectKernelError(() => d(1, 4, 4, 3, 1, X.ptr, 0, P.ptr, P.byteOffset(12), 15, mod.exports.memoryBytes() - 16, 12, work.ptr), /denseEnsemble: Y must lie inside memory; got pointer \d+ \+ extent 48 bytes > memory size \d+ bytes/);
    expectKernelError(() => d(1 << 20, 4, 4, 3, 1, X.ptr, 16, P.ptr, P.byteOffset(12), 15, Y.ptr, 12, work.ptr), /denseEnsemble: X must lie inside memory; got pointer \d+ \+ extent \d+ bytes > memory size/);

    expectKernelError(() => f(2, 4, 2, 2, 0, dims.ptr, X.ptr, P.ptr, 20, Y.ptr, A.ptr, B.ptr, work.ptr), /pStride must be ≥ the parameter count = 23; got 20/);
    expectKernelError(() => f(2, 4, 0, 2, 0, dims.ptr, X.ptr, P.ptr, 23, Y.ptr, A.ptr, B.ptr, work.ptr), /layers must be ≥ 1; got 0/);
    expectKernelError(() => f(2, 4, 2, 2, 7, dims.ptr, X.ptr, P.ptr, 23, Y.ptr, A.ptr, B.ptr, work.ptr), /outAct must be 0/);
    expectKernelError(() => f(2, 4, 2, 2, 0, dims.ptr, X.ptr, P.ptr, 23, Y.ptr, X.ptr, B.ptr, work.ptr), /mlpNetwork: bufA and X must not overlap/);
    expectKernelError(() => f(2, 4, 2, 2, 0, dims.ptr, X.ptr, P.ptr, 23, Y.ptr, A.ptr, B.ptr, 0), /mlpNetwork: work \(mlpWorkBytes bytes, 16-aligned\) must be a buffer from alloc; got the null pointer 0/);
    expectKernelError(() => f(2, 4, 2, 2, 0, dims.ptr + 2, X.ptr, P.ptr, 23, Y.ptr, A.ptr, B.ptr, work.ptr), /mlpNetwork: dims must be 4-byte aligned; got pointer/);
    const bad = ws.from('i32', [4, 0, 2]);
    expectKernelError(() => f(2, 4, 2, 2, 0, bad.ptr, X.ptr, P.ptr, 23, Y.ptr, A.ptr, B.ptr, work.ptr), /dims\[1\] must be ≥ 1; got 0/);
    expectKernelError(() => mod.exports.mlpWorkBytes(4, 2, bad.ptr), /mlpWorkBytes: dims\[1\] must be ≥ 1/);
    // Every call re-checks the descriptor: words rewritten by the host are caught by mlpForward itself.
    const P2 = ws.f32(2 * 23);
    mod.exports.mlpNetwork(net.ptr, 2, 2, 0, 4, dims.ptr, X.ptr, P2.ptr, 23, Y.ptr, A.ptr, B.ptr, work.ptr);
    mod.exports.mlpForward(net.ptr, 2);
    expectKernelError(() => mod.exports.mlpForward(net.ptr, 0), /mlpForward: members must be ≥ 1; got 0/);
    expectKernelError(() => mod.exports.mlpForward(net.ptr, 1 << 24), /mlpForward: P must lie inside memory; got pointer \d+ \+ extent 1543503872 bytes > memory size \d+ bytes/);
    const words = () => new Int32Array(mod.memory.buffer, net.ptr, 12);
    words()[1] = 9; // act
    expectKernelError(() => mod.exports.mlpForward(net.ptr, 1), /mlpForward: act must be 0 \(identity\).*; got 9/);
    words()[1] = 2;
    words()[7] = 20; // pStride
    expectKernelError(() => mod.exports.mlpForward(net.ptr, 1), /mlpForward: pStride must be ≥ the parameter count = 23; got 20/);
    words()[7] = 23;
    words()[9] = X.ptr; // bufA
    expectKernelError(() => mod.exports.mlpForward(net.ptr, 1), /mlpForward: bufA and X must not overlap/);
    expectKernelError(() => mod.exports.mlpForward(0, 1), /mlpForward: net must be a buffer from alloc; got the null pointer 0/);
    expectKernelError(() => mod.exports.mlpForward(net.ptr + 2, 1), /mlpForward: net must be 4-byte aligned/);
    ws.dispose();
  }
});

test('memory does not grow over 10⁴ calls of denseEnsemble, mlpForward and mlpWorkBytes', () => {
  for (const [name, mod] of builds) {
    const rand = mulberry32(9);
    const ws = new Workspace(mod);
    const m = makeMlp(rand, 3, 6, [7, 5, 3], 2, 3, 0);
    const dims = ws.from('i32', m.dims), X = ws.from('f32', m.X), P = ws.from('f32', m.P);
    const out = ws.f32(3 * 6 * 3), bufA = ws.f32(3 * 6 * 5), bufB = ws.f32(3 * 6 * 5);
    const work = ws.alloc('f32', mod.exports.mlpWorkBytes(6, 2, dims.ptr) / 4);
    const net = ws.i32(mod.exports.mlpNetworkBytes() / 4);
    const before = mod.memory.buffer.byteLength;
    for (let r = 0; r < 10_000; r++) {
      mod.exports.mlpNetwork(net.ptr, 2, 2, 3, 6, dims.ptr, X.ptr, P.ptr, m.pStride, out.ptr, bufA.ptr, bufB.ptr, work.ptr);
      mod.exports.mlpForward(net.ptr, 3);
      mod.exports.denseEnsemble(3, 6, 7, 5, 1, X.ptr, 0, P.ptr, P.byteOffset(35), m.pStride, bufA.ptr, 30, work.ptr);
      mod.exports.mlpWorkBytes(6, 2, dims.ptr);
    }
    assert.is(mod.memory.buffer.byteLength, before, `${name}: memory grew`);
    assert.ok(out.view().every((v) => v > 0 && v < 1), `${name}: sigmoid outputs in (0, 1)`);
    ws.dispose();
  }
});

// A perturbed-forward case: θ (f64, not f32-representable) around makeMlp's first row.
interface Fused { m: Mlp; n: number; theta: Float64Array }

function makeFused(rand: () => number, rows: number, dims: number[], act: number, outAct: number, pad: number): Fused {
  const m = makeMlp(rand, 1, rows, dims, act, outAct, pad);
  let n = 0;
  for (let l = 0; l + 1 < dims.length; l++) n += dims[l] * dims[l + 1] + dims[l + 1];
  const theta = Float64Array.from({ length: n }, (_, j) => m.P[j] + (rand() - 0.5) * 1e-6);
  return { m, n, theta };
}

// Runs one mlpForwardPerturbed call; returns (center + k) × rows × d_L outputs plus a sentinel
// slice after them (which must stay untouched).
function runFused(mod: EnkfModule, f: Fused, k: number, sigma: number, seed: number, draw: number, member0: number,
  anti: boolean, center: boolean): Float32Array {
  const ws = new Workspace(mod);
  try {
    const { m } = f;
    const L = m.dims.length - 1;
    const hidden = Math.max(1, ...m.dims.slice(1, L));
    const slice = m.rows * m.dims[L];
    const dims = ws.from('i32', m.dims), X = ws.from('f32', m.X), theta = ws.from('f64', f.theta);
    const scratch = ws.f32((anti && k > 1 ? 2 : 1) * m.pStride);
    const out = ws.f32((k + (center ? 1 : 0) + 1) * slice);
    out.view().fill(SENTINEL);
    const bufA = ws.f32(m.rows * hidden), bufB = ws.f32(m.rows * hidden);
    const work = ws.alloc('f32', mod.exports.mlpWorkBytes(m.rows, L, dims.ptr) / 4);
    const net = ws.i32(mod.exports.mlpNetworkBytes() / 4);
    mod.exports.mlpNetwork(net.ptr, L, m.act, m.outAct, m.rows, dims.ptr, X.ptr, scratch.ptr, m.pStride, out.ptr,
      bufA.ptr, bufB.ptr, work.ptr);
    mod.exports.mlpForwardPerturbed(net.ptr, k, theta.ptr, sigma, seed, draw, member0, anti ? 1 : 0, center ? 1 : 0);
    return out.copy();
  } finally {
    ws.dispose();
  }
}

// The same members the unfused way: perturb32 into P (θ narrowed into row 0 with center), then mlpForward.
function runUnfused(mod: EnkfModule, f: Fused, k: number, sigma: number, seed: number, draw: number, member0: number,
  anti: boolean, center: boolean): Float32Array {
  const ws = new Workspace(mod);
  try {
    const c = center ? 1 : 0;
    const theta = ws.from('f64', f.theta);
    const P = ws.f32((k + c) * f.m.pStride);
    if (center) mod.exports.narrow(f.n, theta.ptr, P.ptr);
    mod.exports.perturb32(k, f.n, sigma, seed, draw, member0, anti ? 1 : 0, f.m.pStride, theta.ptr, P.byteOffset(c * f.m.pStride));
    return runMlp(mod, { ...f.m, members: k + c, P: P.copy() });
  } finally {
    ws.dispose();
  }
}

test('mlpForwardPerturbed = perturb32 + mlpForward bit for bit: antithetic or not, center or not, odd member0, k = 1, 1–3 layers — both builds', () => {
  const rand = mulberry32(4242);
  // n = 754 and 1 235 span several generator tiles (512); pads 0, 1, 3 give odd and aligned strides.
  const nets: [number[], number, number, number][] = [[[20, 30, 4], 1, 0, 0], [[9, 5], 2, 3, 3], [[13, 40, 12, 7], 2, 1, 1]];
  for (const [dims, act, outAct, pad] of nets) {
    const f = makeFused(rand, 5, dims, act, outAct, pad);
    for (const [k, member0] of [[1, 0], [1, 3], [5, 0], [5, 7], [6, 2], [6, 1]]) {
      for (const anti of [false, true]) {
        for (const center of [false, true]) {
          const seed = 1 + Math.floor(rand() * 1e6), draw = Math.floor(rand() * 100);
          const sigma = 0.01 + rand() * 0.2;
          const slice = f.m.rows * dims[dims.length - 1];
          const rowsOut = k + (center ? 1 : 0);
          for (const [name, mod] of builds) {
            const got = runFused(mod, f, k, sigma, seed, draw, member0, anti, center);
            const want = runUnfused(mod, f, k, sigma, seed, draw, member0, anti, center);
            const gb = new Uint32Array(got.buffer, 0, rowsOut * slice), wb = new Uint32Array(want.buffer);
            const tag = `${name} dims=${dims} k=${k} member0=${member0} anti=${anti} center=${center}`;
            assert.is(wb.length, gb.length, tag);
            for (let e = 0; e < gb.length; e++) {
              if (gb[e] !== wb[e]) assert.unreachable(`${tag}: out[${e}] = ${got[e]}, unfused ${want[e]}`);
            }
            assert.ok(got.subarray(rowsOut * slice).every((v) => v === SENTINEL), `${tag}: wrote past its outputs`);
          }
        }
      }
    }
  }
});

test('mlpForwardPerturbed against an f64 oracle fed with randn: members θ + σ·s_i·ξ_{q_i} and θ itself — both builds', () => {
  const rand = mulberry32(77);
  const f = makeFused(rand, 6, [7, 9, 5, 3], 2, 0, 1);
  const k = 5, member0 = 3, sigma = 0.3, seed = 99, draw = 4;
  for (const anti of [false, true]) {
    // Expected parameters: member i = member0 + r uses stream ⌊i/2⌋ with sign (−1)^i (antithetic)
    // or stream i with sign +; each value computed in f64 and rounded once to f32.
    const P = new Float32Array((k + 1) * f.m.pStride);
    for (let j = 0; j < f.n; j++) P[j] = f.theta[j];
    for (const [name, mod] of builds) {
      const ws = new Workspace(mod);
      const xi = ws.f64(f.n);
      for (let r = 0; r < k; r++) {
        const i = member0 + r;
        mod.exports.randn(f.n, seed, draw, anti ? i >> 1 : i, 0, xi.ptr);
        const x = xi.view();
        const sp = (anti && (i & 1) === 1 ? -1 : 1) * sigma;
        for (let j = 0; j < f.n; j++) P[(r + 1) * f.m.pStride + j] = f.theta[j] + sp * x[j];
      }
      ws.dispose();
      const m: Mlp = { ...f.m, members: k + 1, P };
      const got = runFused(mod, f, k, sigma, seed, draw, member0, anti, true);
      for (let j = 0; j <= k; j++) checkMlpMember(`${name} anti=${anti}`, m, got, j);
    }
  }
});

test('mlpForwardPerturbed: bad arguments raise a KernelError naming the problem', () => {
  for (const [, mod] of builds) {
    const ws = new Workspace(mod);
    const X = ws.f32(256), S = ws.f32(64), Y = ws.f32(256), A = ws.f32(256), B = ws.f32(256);
    const T = ws.f64(23);
    const dims = ws.from('i32', [4, 3, 2]);
    const work = ws.alloc('f32', mod.exports.mlpWorkBytes(4, 2, dims.ptr) / 4);
    const net = ws.i32(mod.exports.mlpNetworkBytes() / 4);
    const g = (k: number, member0: number, anti: number, center: number, o: Partial<Record<string, number>> = {}) => {
      mod.exports.mlpNetwork(net.ptr, 2, 2, 0, 4, dims.ptr, X.ptr, o.scratch ?? S.ptr, o.pStride ?? 24, o.out ?? Y.ptr,
        A.ptr, B.ptr, work.ptr);
      mod.exports.mlpForwardPerturbed(net.ptr, k, o.theta ?? T.ptr, o.sigma ?? 0.1, 1, 2, member0, anti, center);
    };
    g(2, 0, 1, 1);
    expectKernelError(() => g(0, 0, 0, 0), /mlpForwardPerturbed: members must be ≥ 1; got 0/);
    expectKernelError(() => g(2, 0, 0, 0, { pStride: 22 }), /pStride must be ≥ the parameter count = 23; got 22/);
    expectKernelError(() => g(2, 0, 0, 0, { sigma: NaN }), /mlpForwardPerturbed: sigma must be finite; got NaN/);
    expectKernelError(() => g(2, 0xFFFFFFFF, 0, 0), /mlpForwardPerturbed: member0 \+ k must be ≤ 2\^32 \(member is u32\); got member0 = 4294967295, k = 2/);
    expectKernelError(() => g(2, 0, 0, 0, { theta: T.ptr + 4 }), /mlpForwardPerturbed: theta \(f64, 8-aligned\) must be 8-byte aligned/);
    expectKernelError(() => g(2, 0, 1, 0, { scratch: mod.exports.memoryBytes() - 24 * 4 }), /mlpForwardPerturbed: P \(2 × pStride f32 with antithetic pairs\) must lie inside memory; got pointer \d+ \+ extent 188 bytes > memory size/);
    expectKernelError(() => g(2, 0, 0, 0, { scratch: mod.exports.memoryBytes() - 20 * 4 }), /mlpNetwork: P must lie inside memory; got pointer \d+ \+ extent 92 bytes > memory size/);
    expectKernelError(() => g(2, 0, 0, 0, { scratch: X.ptr }), /mlpForwardPerturbed: P and X must not overlap/);
    expectKernelError(() => g(2, 0, 0, 0, { scratch: T.ptr - 16 }), /mlpForwardPerturbed: theta and P must not overlap/);
    expectKernelError(() => g(2, 0, 0, 0, { out: T.ptr }), /mlpForwardPerturbed: theta and out must not overlap/);
    expectKernelError(() => g(2, 0, 0, 0, { out: S.ptr }), /mlpNetwork: out and P must not overlap/);
    // With center the output holds k + 1 slices of 8 floats: 2 end where θ starts, 3 reach into it.
    const big = ws.f64(80);
    big.view().set(T.copy(), 40);
    g(2, 0, 0, 0, { theta: big.byteOffset(40), out: big.byteOffset(32) });
    expectKernelError(() => g(2, 0, 0, 1, { theta: big.byteOffset(40), out: big.byteOffset(32) }), /mlpForwardPerturbed: theta and out must not overlap/);
    ws.dispose();
  }
});

test('memory does not grow over 10⁴ calls of mlpForwardPerturbed', () => {
  for (const [name, mod] of builds) {
    const rand = mulberry32(10);
    const f = makeFused(rand, 6, [7, 5, 3], 2, 3, 1);
    const ws = new Workspace(mod);
    const dims = ws.from('i32', f.m.dims), X = ws.from('f32', f.m.X), theta = ws.from('f64', f.theta);
    const scratch = ws.f32(2 * f.m.pStride), out = ws.f32(5 * 6 * 3), bufA = ws.f32(6 * 5), bufB = ws.f32(6 * 5);
    const work = ws.alloc('f32', mod.exports.mlpWorkBytes(6, 2, dims.ptr) / 4);
    const net = ws.i32(mod.exports.mlpNetworkBytes() / 4);
    mod.exports.mlpNetwork(net.ptr, 2, 2, 3, 6, dims.ptr, X.ptr, scratch.ptr, f.m.pStride, out.ptr, bufA.ptr, bufB.ptr, work.ptr);
    const before = mod.memory.buffer.byteLength;
    for (let r = 0; r < 10_000; r++) {
      mod.exports.mlpForwardPerturbed(net.ptr, 4, theta.ptr, 0.1, 3, r, r & 7, r & 1, (r >> 1) & 1);
    }
    assert.is(mod.memory.buffer.byteLength, before, `${name}: memory grew`);
    assert.ok(out.view().every((v) => v > 0 && v < 1), `${name}: sigmoid outputs in (0, 1)`);
    ws.dispose();
  }
});

test.run();
