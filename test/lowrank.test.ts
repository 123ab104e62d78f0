// lowRankForward, lowRankUpdate and lowRankGram against the plain-TS oracle of the rank-r directions
// (test/lowrank-oracle.ts; the normals from the randn export), in both builds, on odd
// shapes (dims not multiples of 4, odd batches, rank 1–3, antithetic pairs on/off, centre on/off).
// Forward: a member's logits equal referenceForward(θ + σ·s_i·D_{q_i}) within the f32 bound of
// forwardErrorBound (×2 for second-order terms). Update / Gram: f64 sums of at most a few thousand
// terms, so |error| ≤ 1e-12·Σ|terms| (the worst case n·2⁻⁵³ is < 1e-12 for n < 4500).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type EnkfModule } from '../bindings/index.js';
import { builds, expectKernelError, label } from './helpers.js';
import { mulberry32, memberStream } from './oracles.js';
import { referenceForward } from './nn-oracle.js';
import { coordCountRef, directionRef, factorsRef, forwardErrorBound } from './lowrank-oracle.js';

const mods = await builds();
const ACT = { relu: 1, tanh: 2, sigmoid: 3 } as const;

const paramCount = (dims: readonly number[]) => dims.slice(1).reduce((s, d, l) => s + dims[l] * d + d, 0);
// The update and Gram kernels take block shapes: an MLP's are [d_0, d_1, d_1, d_2, …].
const shapesOf = (dims: readonly number[]) => dims.slice(1).flatMap((d, l) => [dims[l], d]);
const uniform = (rand: () => number, n: number, s = 1) => Float64Array.from({ length: n }, () => (rand() * 2 - 1) * s);

// Stream q's coordinates, from the module's randn (the generator itself is checked against its
// definition in rng.test.ts; randnRef's tails use the host's log and differ by a few f32 ulps).
const cache = new Map<string, Float64Array>();
function coords(dims: readonly number[], rank: number, seed: number, iter: number, q: number): Float64Array {
  const key = `${dims}|${rank}|${seed}|${iter}|${q}`;
  let c = cache.get(key);
  if (!c) {
    const ws = new Workspace(mods[0]);
    try {
      const m = coordCountRef(dims, rank);
      const out = ws.f64(m);
      mods[0].exports.randn(m, seed, iter, q, 0, out.ptr);
      cache.set(key, (c = out.copy()));
    } finally {
      ws.dispose();
    }
  }
  return c;
}

interface Case { dims: number[]; rank: number; rows: number; anti: boolean; center: boolean; act: keyof typeof ACT; member0: number; members: number }
const CASES: Case[] = [
  { dims: [7, 5, 3], rank: 1, rows: 9, anti: true, center: true, act: 'tanh', member0: 0, members: 6 },
  { dims: [7, 5, 3], rank: 2, rows: 5, anti: false, center: false, act: 'tanh', member0: 3, members: 5 },
  { dims: [13, 11], rank: 3, rows: 7, anti: true, center: false, act: 'relu', member0: 1, members: 4 },
  { dims: [9, 6, 5, 2], rank: 1, rows: 3, anti: false, center: true, act: 'sigmoid', member0: 0, members: 3 },
  { dims: [30, 17, 10], rank: 2, rows: 33, anti: true, center: true, act: 'tanh', member0: 2, members: 7 },
  { dims: [600, 9, 1], rank: 1, rows: 5, anti: false, center: true, act: 'tanh', member0: 0, members: 2 },
];

function runForward(mod: EnkfModule, c: Case, X: Float32Array, theta: Float64Array, sigma: number, seed: number, iter: number,
  sparse = -1): Float32Array {
  const ws = new Workspace(mod);
  try {
    const L = c.dims.length - 1;
    const dims = ws.from('i32', c.dims);
    const bytes = mod.exports.lowRankForwardWorkBytes(c.members, c.rows, L, dims.ptr, c.rank, c.anti ? 1 : 0);
    const work = ws.alloc('f32', bytes / 4);
    const lead = c.center ? 1 : 0;
    const out = ws.f32((c.members + lead) * c.rows * c.dims[L]);
    mod.exports.lowRankForward(c.members, c.rows, L, ACT[c.act], 0, dims.ptr, c.rank, ws.from('f32', X).ptr,
      ws.from('f64', theta).ptr, sigma, seed, iter, c.member0, c.anti ? 1 : 0, c.center ? 1 : 0, sparse, out.ptr, work.ptr);
    return out.copy();
  } finally {
    ws.dispose();
  }
}

test('lowRankForward: every member equals the dense forward of θ + σ·s_i·D_{q_i}, within the f32 bound', () => {
  for (const [ci, c] of CASES.entries()) {
    const rand = mulberry32(100 + ci);
    const n = paramCount(c.dims);
    const theta = uniform(rand, n, 0.5);
    // odd cases: MNIST-like rows (70 % zeros), which the automatic choice runs on the sparse path
    const X = Float32Array.from(uniform(rand, c.rows * c.dims[0]), (v) => (ci % 2 === 1 && rand() < 0.7 ? 0 : v));
    const sigma = 0.3, seed = 17 + ci, iter = 4;
    const dL = c.dims[c.dims.length - 1];
    for (const mod of mods) {
      const out = runForward(mod, c, X, theta, sigma, seed, iter);
      const lead = c.center ? 1 : 0;
      for (let j = -lead; j < c.members; j++) {
        const i = c.member0 + Math.max(j, 0);
        const { q, s } = memberStream(i, c.anti);
        const co = coords(c.dims, c.rank, seed, iter, q);
        const g = j < 0 ? 0 : sigma * s;
        const D = directionRef(c.dims, c.rank, co);
        const p = theta.map((t, k) => t + g * D[k]);
        const ref = referenceForward(c.dims, c.act, p, X, c.rows);
        const bound = forwardErrorBound(c.dims, c.rank, c.act, theta, factorsRef(c.dims, c.rank, co), g, X, c.rows);
        const got = out.subarray((j + lead) * c.rows * dL, (j + lead + 1) * c.rows * dL);
        for (let t = 0; t < ref.length; t++) {
          const err = Math.abs(got[t] - ref[t]);
          if (!(err <= 2 * bound[t] + 1e-30)) {
            assert.unreachable(`${label(mod)} case ${ci} member ${j < 0 ? 'centre' : i} logit ${t}: ${got[t]} vs ${ref[t]} (err ${err}, bound ${bound[t]})`);
          }
        }
      }
    }
  }
});

test('lowRankForward: a member range split across calls gives the same bits; the bound is not vacuous', () => {
  const c = CASES[4];
  const rand = mulberry32(7);
  const theta = uniform(rand, paramCount(c.dims), 0.5);
  const X = Float32Array.from(uniform(rand, c.rows * c.dims[0]));
  const dL = c.dims[c.dims.length - 1], slice = c.rows * dL;
  for (const mod of mods) {
    const whole = runForward(mod, { ...c, center: false, member0: 2, members: 7 }, X, theta, 0.3, 5, 1);
    const a = runForward(mod, { ...c, center: false, member0: 2, members: 3 }, X, theta, 0.3, 5, 1);
    const b = runForward(mod, { ...c, center: false, member0: 5, members: 4 }, X, theta, 0.3, 5, 1);
    assert.equal(Array.from(whole), [...a, ...b], label(mod));
    // members differ from each other and antithetic partners mirror around the centre (not vacuous)
    assert.not.equal(Array.from(whole.subarray(0, slice)), Array.from(whole.subarray(slice, 2 * slice)));
  }
});

// θ + coef·Σ z_i e_i with e_i materialized from the oracle.
function updateRef(dims: number[], rank: number, coef: number, seed: number, iter: number, member0: number, anti: boolean,
  z: Float64Array, theta: Float64Array): { value: Float64Array; scale: Float64Array } {
  const value = Float64Array.from(theta), scale = theta.map(Math.abs);
  z.forEach((zi, r) => {
    const { q, s } = memberStream(member0 + r, anti);
    const D = directionRef(dims, rank, coords(dims, rank, seed, iter, q));
    for (let j = 0; j < D.length; j++) { value[j] += coef * zi * s * D[j]; scale[j] += Math.abs(coef * zi * D[j]); }
  });
  return { value, scale };
}

function runUpdate(mod: EnkfModule, dims: number[], rank: number, coef: number, seed: number, iter: number,
  member0: number, anti: boolean, z: Float64Array, theta: Float64Array): Float64Array {
  const ws = new Workspace(mod);
  try {
    const d = ws.from('i32', shapesOf(dims));
    const work = ws.alloc('f64', mod.exports.lowRankUpdateWorkBytes(dims.length - 1, d.ptr, rank) / 8);
    const t = ws.from('f64', theta);
    mod.exports.lowRankUpdate(z.length, dims.length - 1, d.ptr, rank, coef, seed, iter, member0, anti ? 1 : 0,
      ws.from('f64', z).ptr, t.ptr, work.ptr);
    return t.copy();
  } finally {
    ws.dispose();
  }
}

const UPDATE_CASES = [
  { dims: [7, 5, 3], rank: 1, anti: true, member0: 0, k: 6 },
  { dims: [13, 11], rank: 3, anti: false, member0: 5, k: 19 },
  { dims: [9, 6, 5, 2], rank: 2, anti: true, member0: 4, k: 36 },
];

test('lowRankForward: the sparse first layer gives the same bits as the dense GEMM (both builds)', () => {
  for (const [ci, c] of CASES.entries()) {
    const rand = mulberry32(900 + ci);
    const theta = uniform(rand, paramCount(c.dims), 0.5);
    for (const zeros of [0, 0.5, 0.9, 1]) {
      const X = Float32Array.from({ length: c.rows * c.dims[0] }, () => (rand() < zeros ? (rand() < 0.5 ? 0 : -0) : rand() * 2 - 1));
      for (const mod of mods) {
        const dense = runForward(mod, c, X, theta, 0.3, 2, 8, 0);
        const sparse = runForward(mod, c, X, theta, 0.3, 2, 8, 1);
        assert.equal(Array.from(sparse), Array.from(dense), `${label(mod)} case ${ci}, ${zeros * 100} % zeros`);
        assert.equal(Array.from(runForward(mod, c, X, theta, 0.3, 2, 8, -1)), Array.from(dense));
      }
    }
  }
});

test('lowRankUpdate: equals θ + coef·Σ z_i e_i with E materialized; split calls and both builds bit-identical', () => {
  for (const [ci, c] of UPDATE_CASES.entries()) {
    const rand = mulberry32(300 + ci);
    const theta = uniform(rand, paramCount(c.dims));
    const z = uniform(rand, c.k);
    const coef = 0.7, seed = 9, iter = 2 + ci;
    const { value, scale } = updateRef(c.dims, c.rank, coef, seed, iter, c.member0, c.anti, z, theta);
    const got = mods.map((m) => runUpdate(m, c.dims, c.rank, coef, seed, iter, c.member0, c.anti, z, theta));
    for (let j = 0; j < value.length; j++) {
      if (!(Math.abs(got[0][j] - value[j]) <= 1e-12 * scale[j])) assert.unreachable(`case ${ci} θ_${j}: ${got[0][j]} vs ${value[j]}`);
    }
    assert.equal(Array.from(got[1]), Array.from(got[0]), 'scalar = simd');
    // split at an even member (whole pairs): same bits
    const h = c.anti ? 2 * Math.max(1, Math.floor(c.k / 4)) : c.k >> 1;
    const first = runUpdate(mods[0], c.dims, c.rank, coef, seed, iter, c.member0, c.anti, z.slice(0, h), theta);
    const both = runUpdate(mods[0], c.dims, c.rank, coef, seed, iter, c.member0 + h, c.anti, z.slice(h), first);
    assert.equal(Array.from(both), Array.from(got[0]), `case ${ci}: split at ${h}`);
  }
});

test('lowRankGram: G = EᵀE and p = Eᵀθ with E materialized; exactly symmetric; both builds bit-identical', () => {
  for (const [ci, c] of UPDATE_CASES.entries()) {
    const rand = mulberry32(500 + ci);
    const theta = uniform(rand, paramCount(c.dims));
    const seed = 3, iter = 11;
    const E = Array.from({ length: c.k }, (_, r) => {
      const { q, s } = memberStream(c.member0 + r, c.anti);
      return directionRef(c.dims, c.rank, coords(c.dims, c.rank, seed, iter, q)).map((v) => s * v);
    });
    const results = mods.map((mod) => {
      const ws = new Workspace(mod);
      try {
        const d = ws.from('i32', shapesOf(c.dims));
        const L = c.dims.length - 1;
        const work = ws.alloc('f64', mod.exports.lowRankGramWorkBytes(c.k, L, d.ptr, c.rank, c.anti ? 1 : 0) / 8);
        const G = ws.f64(c.k * c.k), p = ws.f64(c.k);
        mod.exports.lowRankGram(c.k, L, d.ptr, c.rank, seed, iter, c.member0, c.anti ? 1 : 0, ws.from('f64', theta).ptr, G.ptr, p.ptr, work.ptr);
        return { G: G.copy(), p: p.copy() };
      } finally {
        ws.dispose();
      }
    });
    const { G, p } = results[0];
    for (let a = 0; a < c.k; a++) {
      let pr = 0, ps = 0;
      for (let j = 0; j < theta.length; j++) { pr += E[a][j] * theta[j]; ps += Math.abs(E[a][j] * theta[j]); }
      if (!(Math.abs(p[a] - pr) <= 1e-12 * ps)) assert.unreachable(`case ${ci} p_${a}: ${p[a]} vs ${pr}`);
      for (let b = 0; b < c.k; b++) {
        let gr = 0, gs = 0;
        for (let j = 0; j < theta.length; j++) { gr += E[a][j] * E[b][j]; gs += Math.abs(E[a][j] * E[b][j]); }
        if (!(Math.abs(G[a * c.k + b] - gr) <= 1e-12 * gs)) assert.unreachable(`case ${ci} G_${a}${b}: ${G[a * c.k + b]} vs ${gr}`);
        assert.is(G[a * c.k + b], G[b * c.k + a]);
      }
    }
    assert.equal(Array.from(results[1].G), Array.from(G), 'scalar G = simd G');
    assert.equal(Array.from(results[1].p), Array.from(p), 'scalar p = simd p');
  }
});

test('rank-r directions have identity covariance: mean of e eᵀ over 20 000 members ≈ I (5σ bound)', () => {
  const mod = mods[0];
  const N = 20_000;
  for (const [dims, rank] of [[[3, 2, 2], 1], [[2, 3], 2]] as [number[], number][]) {
    const n = paramCount(dims);
    const ws = new Workspace(mod);
    try {
      // e_i from the update kernel itself: θ = 0, k = 1, z = 1 gives θ = e_i exactly.
      const d = ws.from('i32', shapesOf(dims));
      const work = ws.alloc('f64', mod.exports.lowRankUpdateWorkBytes(dims.length - 1, d.ptr, rank) / 8);
      const z = ws.from('f64', [1]);
      const t = ws.f64(n);
      const S = new Float64Array(n * n), S2 = new Float64Array(n * n);
      for (let i = 0; i < N; i++) {
        t.view().fill(0);
        mod.exports.lowRankUpdate(1, dims.length - 1, d.ptr, rank, 1, 21, 0, i, 0, z.ptr, t.ptr, work.ptr);
        const e = t.view();
        for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) { const v = e[a] * e[b]; S[a * n + b] += v; S2[a * n + b] += v * v; }
      }
      for (let a = 0; a < n; a++) {
        for (let b = 0; b < n; b++) {
          const mean = S[a * n + b] / N;
          const sd = Math.sqrt((S2[a * n + b] / N - mean * mean) / N);
          const want = a === b ? 1 : 0;
          if (!(Math.abs(mean - want) <= 5 * sd)) assert.unreachable(`dims ${dims} r ${rank}: Cov[${a}][${b}] = ${mean} (sd ${sd})`);
        }
      }
    } finally {
      ws.dispose();
    }
  }
});

test('lowrank kernels reject bad arguments with "<kernel>: <argument> must be …; got …"', () => {
  const mod = mods[0];
  const ws = new Workspace(mod);
  try {
    const d = ws.from('i32', [4, 3, 2]);
    const bad = ws.from('i32', [4, 0, 2]);
    const sh = ws.from('i32', [4, 3, 3, 2]); // the same network as block shapes (update, Gram)
    const work = ws.alloc('f32', mod.exports.lowRankForwardWorkBytes(2, 3, 2, d.ptr, 1, 0) / 4);
    const X = ws.f32(12), th = ws.f64(23), out = ws.f32(2 * 3 * 2), z = ws.f64(2), G = ws.f64(4), p = ws.f64(2);
    const fwd = (rank: number, act: number, dims = d.ptr, sigma = 0.1) =>
      mod.exports.lowRankForward(2, 3, 2, act, 0, dims, rank, X.ptr, th.ptr, sigma, 1, 0, 0, 0, 0, -1, out.ptr, work.ptr);
    expectKernelError(() => fwd(0, 2), /^lowRankForward: rank must be ≥ 1; got 0$/);
    expectKernelError(() => fwd(1, 7), /^lowRankForward: act must be 0 \(identity\).*; got 7$/);
    expectKernelError(() => fwd(1, 2, bad.ptr), /^lowRankForward: dims\[1\] must be ≥ 1; got 0$/);
    expectKernelError(() => fwd(1, 2, d.ptr, NaN), /^lowRankForward: sigma must be finite; got NaN$/);
    expectKernelError(() => mod.exports.lowRankForward(2, 3, 2, 2, 0, d.ptr, 1, X.ptr, th.ptr, 0.1, 1, 0, 0, 0, 0, 2, out.ptr, work.ptr),
      /^lowRankForward: sparse must be −1 \(automatic\), 0 \(dense\) or 1 \(sparse\); got 2$/);
    expectKernelError(() => mod.exports.lowRankForward(2, 3, 2, 2, 0, d.ptr, 1, X.ptr, th.ptr, 0.1, 1, 0, 0xFFFFFFFF, 0, 0, -1, out.ptr, work.ptr),
      /^lowRankForward: member0 \+ k must be ≤ 2\^32 \(member is u32\); got member0 = 4294967295, k = 2$/);
    expectKernelError(() => mod.exports.lowRankForward(2, 3, 2, 2, 0, d.ptr, 1, X.ptr, th.ptr, 0.1, 1, 0, 0, 0, 0, -1, out.ptr, X.ptr),
      /^lowRankForward: (out and work|work and X) must not overlap \(pass separate buffers\); got \[\d+, \d+\) and \[\d+, \d+\)$/);
    expectKernelError(() => mod.exports.lowRankUpdate(2, 2, sh.ptr, 1, 1, 1, 0, 1, 1, z.ptr, th.ptr, work.ptr),
      /^lowRankUpdate: with antithetic pairs member0 and k must be even.*got member0 = 1, k = 2/);
    expectKernelError(() => mod.exports.lowRankUpdate(2, 2, sh.ptr, 1, Infinity, 1, 0, 0, 0, z.ptr, th.ptr, work.ptr),
      /^lowRankUpdate: coef must be finite; got Infinity$/);
    // z (2 f64) ending 8 bytes past the end of memory
    const end = mod.exports.memoryBytes();
    expectKernelError(() => mod.exports.lowRankUpdate(2, 2, sh.ptr, 1, 1, 1, 0, 0, 0, end - 8, th.ptr, work.ptr),
      new RegExp(`^lowRankUpdate: z must lie inside memory; got pointer ${end - 8} \\+ extent 16 bytes > memory size ${end} bytes$`));
    expectKernelError(() => mod.exports.lowRankGram(2, 2, sh.ptr, 1, 1, 0, 0, 0, th.ptr, G.ptr, G.ptr, work.ptr),
      /^lowRankGram: G and p must not overlap \(pass separate buffers\); got \[\d+, \d+\) and \[\d+, \d+\)$/);
    expectKernelError(() => mod.exports.lowRankGram(2, 2, sh.ptr, 1, 1, 0, 0, 0, th.ptr, G.ptr, p.ptr, 0),
      /^lowRankGram: work \(lowRankGramWorkBytes bytes, 16-aligned\) must be a buffer from alloc; got the null pointer 0$/);
    // m = (2²⁹ + 2²⁹)·4 + 2²⁹ = 4831838208 coordinates: past the u32 stream positions
    const wide = ws.from('i32', [1 << 29, 1 << 29]);
    expectKernelError(() => mod.exports.lowRankForwardWorkBytes(1, 1, 1, wide.ptr, 4, 0),
      /^lowRankForwardWorkBytes: the direction coordinates per member .* must be ≤ 4294967295 \(.*\); got 4831838208$/);
    // k = 2³⁰ members × m = 17 coordinates × 8 bytes
    expectKernelError(() => mod.exports.lowRankGramWorkBytes(1 << 30, 2, sh.ptr, 1, 0),
      /^lowRankGramWorkBytes: the scratch must be < 2 GiB \(split the members\); got 146028888064 bytes$/);
    expectKernelError(() => mod.exports.lowRankUpdateWorkBytes(0, sh.ptr, 1), /^lowRankUpdateWorkBytes: layers must be ≥ 1; got 0$/);
    const badShapes = ws.from('i32', [4, 3, 0, 2]);
    expectKernelError(() => mod.exports.lowRankUpdate(2, 2, badShapes.ptr, 1, 1, 1, 0, 0, 0, z.ptr, th.ptr, work.ptr),
      /^lowRankUpdate: shapes\[2\] \(the fanIn of block 2\) must be ≥ 1; got 0$/);
  } finally {
    ws.dispose();
  }
});

test.run();
