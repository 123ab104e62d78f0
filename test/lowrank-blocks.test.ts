// Rank-r directions for weight blocks of any shapes (conv filter banks (kh·kw·c_in) × c_out, dense
// layers that do not chain): resolvePerturbation's shapes, lowRankUpdate / lowRankGram against the
// plain-TS oracle of the block directions below, lowRankMembers against LowRankDirections.members
// (the same f64 value, rounded once) and MemberRows for both families, in both builds; the entries'
// mean and variance against 0 and 1 with bounds from the sample size. Every draw is seeded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type EnkfModule } from '../bindings/index.js';
import { createDirections, resolvePerturbation } from '../bindings/optimizers/directions.js';
import { MemberRows } from '../bindings/optimizers/lowrank-members.js';
import type { LowRankPerturbation, PerturbedRequest } from '../bindings/optimizers/types.js';
import { MlpEvaluator } from '../bindings/nn/evaluator.js';
import { builds, expectKernelError, label } from './helpers.js';
import { memberStream, mulberry32 } from './oracles.js';

const mods = await builds();

// 8c5-16c5-fc10 on 28×28×1 with 'valid' convs and 2×2 pools: θ's blocks as fit declares them.
const CONV_BLOCKS = [[5, 5, 1, 8], [8], [5, 5, 8, 16], [16], [256, 10], [10]];
const CONV_SHAPES: [number, number][] = [[25, 8], [200, 16], [256, 10]];
const paramsOf = (shapes: readonly (readonly number[])[]) => shapes.reduce((s, [i, o]) => s + i * o + o, 0);
const N_CONV = paramsOf(CONV_SHAPES); // 5994
const uniform = (rand: () => number, n: number, s = 1) => Float64Array.from({ length: n }, () => (rand() * 2 - 1) * s);
const lowRank = (rank: number) => ({ perturbation: { kind: 'low-rank' as const, rank }, blocks: CONV_BLOCKS });

// ---- oracle: the direction contract of assembly/lowrank-core.ts for block shapes ----------------

// Stream q's m = Σ (fanIn + fanOut)·r + fanOut coordinates, from the module's randn (rng.test.ts checks it).
function coords(mod: EnkfModule, shapes: readonly (readonly number[])[], rank: number, seed: number, draw: number, q: number): Float64Array {
  const m = shapes.reduce((s, [i, o]) => s + (i + o) * rank + o, 0);
  const ws = new Workspace(mod);
  try {
    const out = ws.f64(m);
    mod.exports.randn(m, seed, draw, q, 0, out.ptr);
    return out.copy();
  } finally {
    ws.dispose();
  }
}

/** D_q: per block W = U Vᵀ/√r (U fanIn × r, V fanOut × r row-major in the stream), then b = β. */
function blockDirectionRef(shapes: readonly (readonly number[])[], rank: number, xi: Float64Array): Float64Array {
  const D = new Float64Array(paramsOf(shapes));
  let o = 0, at = 0;
  for (const [din, dout] of shapes) {
    const V = o + din * rank, beta = V + dout * rank;
    for (let a = 0; a < din; a++) {
      for (let b = 0; b < dout; b++) {
        let s = 0;
        for (let c = 0; c < rank; c++) s += xi[o + a * rank + c] * xi[V + b * rank + c];
        D[at + a * dout + b] = s / Math.sqrt(rank);
      }
    }
    for (let b = 0; b < dout; b++) D[at + din * dout + b] = xi[beta + b];
    o = beta + dout;
    at += din * dout + dout;
  }
  return D;
}

const signedDirection = (mod: EnkfModule, rank: number, seed: number, draw: number, i: number, anti: boolean) => {
  const { q, s } = memberStream(i, anti);
  return blockDirectionRef(CONV_SHAPES, rank, coords(mod, CONV_SHAPES, rank, seed, draw, q)).map((v) => s * v);
};

// ---- shapes ------------------------------------------------------------------------------------

test('resolvePerturbation: weight shapes with ≥ 2 dims give [fanIn, fanOut] blocks; dims only for an MLP chain', () => {
  const conv = resolvePerturbation(lowRank(2), N_CONV);
  assert.equal(conv, { kind: 'low-rank', rank: 2, shapes: CONV_SHAPES });
  assert.not.ok(conv && 'dims' in conv, 'conv blocks do not chain');
  assert.equal(resolvePerturbation({ perturbation: { kind: 'low-rank' }, blocks: [[4, 3], [3], [3, 2], [2]] }, 23),
    { kind: 'low-rank', rank: 1, shapes: [[4, 3], [3, 2]], dims: [4, 3, 2] });
  // 2-D blocks that do not chain, and a 3-D weight shape whose fanIn happens to match
  const loose = resolvePerturbation({ perturbation: { kind: 'low-rank' }, blocks: [[4, 3], [3], [2, 2], [2]] }, 21);
  assert.equal(loose, { kind: 'low-rank', rank: 1, shapes: [[4, 3], [2, 2]] });
  const conv3 = resolvePerturbation({ perturbation: { kind: 'low-rank' }, blocks: [[1, 4, 3], [3], [3, 2], [2]] }, 23);
  assert.equal(conv3, { kind: 'low-rank', rank: 1, shapes: [[4, 3], [3, 2]] });
  // the MLP fast path refuses members drawn for blocks that are not its layers
  const ev = new MlpEvaluator(mods[0], { layers: [4, 3, 2], activation: 'tanh', batchSize: 2, maxMembers: 4 });
  const ws = new Workspace(mods[0]);
  try {
    ev.setBatch(new Float32Array(8), [0, 1]);
    assert.throws(() => ev.evaluatePerturbed({
      theta: ws.f64(23), sigma: 0.1, seed: 1, draw: 0, member0: 0, count: 2, antithetic: false, center: false, perturbation: conv3!,
    }, ws.f64(4 * ev.m)), (e: Error) => e instanceof RangeError && /drawn for blocks 4×3, 3×2 \(not an MLP chain\) but this network has \[4, 3, 2\]/.test(e.message));
  } finally {
    ev.dispose();
    ws.dispose();
  }
});

// ---- update and Gram over non-chaining blocks ----------------------------------------------------

test('update and Gram over conv blocks equal θ + coef·E z and EᵀE, Eᵀθ with E from the oracle; both builds bit-identical', () => {
  for (const [rank, anti, member0] of [[1, false, 3], [2, true, 2], [3, false, 0]] as [number, boolean, number][]) {
    const k = 6, seed = 17, draw = 4, coef = 0.3;
    const rand = mulberry32(40 + rank);
    const theta = uniform(rand, N_CONV);
    const z = uniform(rand, k);
    const E = Array.from({ length: k }, (_, r) => signedDirection(mods[0], rank, seed, draw, member0 + r, anti));
    const got = mods.map((mod) => {
      const ws = new Workspace(mod);
      try {
        const dir = createDirections(ws, N_CONV, lowRank(rank));
        const t = ws.from('f64', theta), zb = ws.from('f64', z), G = ws.f64(k * k), p = ws.f64(k);
        dir.gram(k, seed, draw, member0, anti, t.ptr, G.ptr, p.ptr);
        dir.update(k, coef, seed, draw, member0, anti, zb.ptr, t.ptr);
        return { theta: t.copy(), G: G.copy(), p: p.copy() };
      } finally {
        ws.dispose();
      }
    });
    const at = `rank ${rank} anti ${anti}`;
    for (let j = 0; j < N_CONV; j++) {
      let v = theta[j], s = Math.abs(theta[j]);
      for (let r = 0; r < k; r++) { v += coef * z[r] * E[r][j]; s += Math.abs(coef * z[r] * E[r][j]); }
      if (!(Math.abs(got[0].theta[j] - v) <= 1e-12 * s)) assert.unreachable(`${at}: θ[${j}] = ${got[0].theta[j]}, oracle ${v}`);
    }
    for (let a = 0; a < k; a++) {
      let pr = 0, ps = 0;
      for (let j = 0; j < N_CONV; j++) { pr += E[a][j] * theta[j]; ps += Math.abs(E[a][j] * theta[j]); }
      if (!(Math.abs(got[0].p[a] - pr) <= 1e-12 * ps)) assert.unreachable(`${at}: p[${a}] = ${got[0].p[a]}, oracle ${pr}`);
      for (let b = 0; b < k; b++) {
        let gr = 0, gs = 0;
        for (let j = 0; j < N_CONV; j++) { gr += E[a][j] * E[b][j]; gs += Math.abs(E[a][j] * E[b][j]); }
        if (!(Math.abs(got[0].G[a * k + b] - gr) <= 1e-12 * gs)) assert.unreachable(`${at}: G[${a}][${b}] = ${got[0].G[a * k + b]}, oracle ${gr}`);
      }
    }
    for (const key of ['theta', 'G', 'p'] as const) assert.equal(Array.from(got[1][key]), Array.from(got[0][key]), `${at}: scalar ${key} = simd ${key}`);
  }
});

// ---- member rows ---------------------------------------------------------------------------------

interface RowCase { rank: number; anti: boolean; center: boolean; member0: number; count: number }
const ROW_CASES: RowCase[] = [
  { rank: 1, anti: false, center: true, member0: 0, count: 3 },
  { rank: 1, anti: true, center: false, member0: 3, count: 5 },
  { rank: 2, anti: true, center: true, member0: 0, count: 4 },
  { rank: 2, anti: false, center: false, member0: 7, count: 2 },
  { rank: 3, anti: true, center: true, member0: 5, count: 3 },
  { rank: 3, anti: false, center: true, member0: 1, count: 1 },
];

/** lowRankMembers' rows (count + center, stride n + 3, the padding pre-filled with 7.5). */
function kernelRows(mod: EnkfModule, c: RowCase, sigma: number, seed: number, draw: number, theta: Float64Array): Float32Array {
  const ws = new Workspace(mod);
  try {
    const stride = N_CONV + 3, rows = c.count + (c.center ? 1 : 0);
    const sh = ws.from('i32', CONV_SHAPES.flat());
    const work = ws.f64(mod.exports.lowRankMembersWorkBytes(3, sh.ptr, c.rank) / 8);
    const dst = ws.f32(rows * stride);
    dst.view().fill(7.5);
    mod.exports.lowRankMembers(c.count, 3, sh.ptr, c.rank, sigma, seed, draw, c.member0, c.anti ? 1 : 0, c.center ? 1 : 0,
      ws.from('f64', theta).ptr, dst.ptr, stride, work.ptr);
    return dst.copy();
  } finally {
    ws.dispose();
  }
}

test('lowRankMembers: row = f32 of the f64 member of LowRankDirections.members (= θ + σ·s_i·D_{q_i}, oracle); both builds', () => {
  const sigma = 0.37, seed = 9, draw = 2;
  for (const [ci, c] of ROW_CASES.entries()) {
    const theta = uniform(mulberry32(90 + ci), N_CONV, 0.5);
    const at = `case ${ci} (rank ${c.rank}, anti ${c.anti}, center ${c.center}, member0 ${c.member0})`;
    // the f64 members the optimizer materializes (the update kernel with one unit coefficient)
    const ws = new Workspace(mods[0]);
    let members: Float64Array;
    try {
      const dir = createDirections(ws, N_CONV, lowRank(c.rank));
      const out = ws.f64(c.count * N_CONV);
      dir.members(c.count, sigma, seed, draw, c.member0, c.anti, ws.from('f64', theta).ptr, out.ptr);
      members = out.copy();
    } finally {
      ws.dispose();
    }
    for (let j = 0; j < c.count; j++) {
      const e = signedDirection(mods[0], c.rank, seed, draw, c.member0 + j, c.anti);
      for (let x = 0; x < N_CONV; x++) {
        const want = theta[x] + sigma * e[x];
        const got = members[j * N_CONV + x];
        // f64 sums of r + 1 terms, each ≤ |θ| ≤ 0.5 or σ·|U_ac V_bc| ≤ σ·5.3² (|ξ| ≤ 5.295)
        if (!(Math.abs(got - want) <= 1e-15 * (c.rank + 2) * (0.5 + sigma * 28.1 * c.rank))) {
          assert.unreachable(`${at}: member ${j}[${x}] = ${got}, oracle ${want}`);
        }
      }
    }
    const lead = c.center ? 1 : 0, stride = N_CONV + 3;
    for (const mod of mods) {
      const rows = kernelRows(mod, c, sigma, seed, draw, theta);
      for (let r = 0; r < lead + c.count; r++) {
        for (let x = 0; x < stride; x++) {
          const want = x >= N_CONV ? 7.5 : Math.fround(r < lead ? theta[x] : members[(r - lead) * N_CONV + x]);
          const got = rows[r * stride + x];
          if (!Object.is(got, want)) assert.unreachable(`${at} ${label(mod)}: row ${r}[${x}] = ${got}, want ${want}`);
        }
      }
    }
  }
});

test('MemberRows: Gaussian rows = f32 of perturb64, low-rank rows = lowRankMembers; a split request gives the same rows', () => {
  const mod = mods[0];
  const n = N_CONV, stride = n + 1;
  const theta0 = uniform(mulberry32(5), n, 0.3);
  for (const perturbation of [undefined, resolvePerturbation(lowRank(2), n)] as (LowRankPerturbation | undefined)[]) {
    const ws = new Workspace(mod);
    try {
      const rows = new MemberRows(ws, n);
      const theta = ws.from('f64', theta0);
      const req = (member0: number, count: number, center: boolean): PerturbedRequest =>
        ({ theta, sigma: 0.2, seed: 3, draw: 1, member0, count, antithetic: true, center, ...(perturbation && { perturbation }) });
      const all = ws.f32(7 * stride), part = ws.f32(7 * stride);
      rows.write(req(0, 6, true), all.ptr, stride);
      // members 0 … 5 in three calls, the middle one starting inside a pair
      rows.write(req(0, 1, true), part.ptr, stride);
      rows.write(req(1, 3, false), part.ptr + 2 * stride * 4, stride);
      rows.write(req(4, 2, false), part.ptr + 5 * stride * 4, stride);
      const a = all.copy(), b = part.copy();
      for (let r = 0; r < 7; r++) {
        for (let x = 0; x < n; x++) if (!Object.is(a[r * stride + x], b[r * stride + x])) assert.unreachable(`row ${r}[${x}] differs when split`);
      }
      let want: Float64Array;
      if (!perturbation) {
        const out = ws.f64(6 * n);
        mod.exports.perturb64(6, n, 0.2, 3, 1, 0, 1, theta.ptr, out.ptr);
        want = out.copy();
      } else {
        const dir = createDirections(ws, n, lowRank(2));
        const out = ws.f64(6 * n);
        dir.members(6, 0.2, 3, 1, 0, true, theta.ptr, out.ptr);
        want = out.copy();
        dir.dispose();
      }
      for (let x = 0; x < n; x++) assert.is(a[x], Math.fround(theta0[x]));
      for (let r = 0; r < 6; r++) {
        for (let x = 0; x < n; x++) {
          if (!Object.is(a[(r + 1) * stride + x], Math.fround(want[r * n + x]))) assert.unreachable(`${perturbation ? 'low-rank' : 'gaussian'} member ${r}[${x}]`);
        }
      }
      assert.throws(() => rows.write({ ...req(0, 1, false), perturbation: { kind: 'low-rank', rank: 1, shapes: [[4, 3]] } }, all.ptr, stride),
        (e: Error) => e instanceof RangeError && /blocks hold 15 parameters but θ has n = 5994/.test(e.message));
      assert.throws(() => rows.write(req(0, 1, false), all.ptr, n - 1), (e: Error) => e instanceof RangeError && /dstStride must be an integer ≥ n = 5994/.test(e.message));
      rows.dispose();
    } finally {
      ws.dispose();
    }
  }
});

test('rank-r block directions: entries have mean 0 and variance 1 per block (M = 600 members, 5σ bounds from M)', () => {
  const mod = mods[0];
  const M = 600, n = N_CONV, chunk = 100;
  for (const rank of [1, 3]) {
    const ws = new Workspace(mod);
    try {
      const sh = ws.from('i32', CONV_SHAPES.flat());
      const work = ws.f64(mod.exports.lowRankMembersWorkBytes(3, sh.ptr, rank) / 8);
      const theta = ws.f64(n); // θ = 0, σ = 1: a row is f32(D_i)
      const dst = ws.f32(chunk * n);
      // per member and region (W_1, b_1, W_2, b_2, W_3, b_3): the mean of its entries and of their squares
      const regions: [number, number][] = [];
      let at = 0;
      for (const [i, o] of CONV_SHAPES) { regions.push([at, i * o], [at + i * o, o]); at += i * o + o; }
      const means = regions.map(() => new Float64Array(M)), squares = regions.map(() => new Float64Array(M));
      for (let m0 = 0; m0 < M; m0 += chunk) {
        mod.exports.lowRankMembers(chunk, 3, sh.ptr, rank, 1, 77, 0, m0, 0, 0, theta.ptr, dst.ptr, n, work.ptr);
        const v = dst.view();
        for (let r = 0; r < chunk; r++) {
          regions.forEach(([start, len], g) => {
            let s = 0, s2 = 0;
            for (let x = start; x < start + len; x++) { const e = v[r * n + x]; s += e; s2 += e * e; }
            means[g][m0 + r] = s / len;
            squares[g][m0 + r] = s2 / len;
          });
        }
      }
      regions.forEach(([, len], g) => {
        // members are independent; the entries of one member are uncorrelated with variance 1, so a
        // member's mean has variance 1/len exactly: the average of M has sd 1/√(M·len)
        const avg = means[g].reduce((s, x) => s + x, 0) / M;
        const bound = 5 / Math.sqrt(M * len);
        if (!(Math.abs(avg) <= bound)) assert.unreachable(`rank ${rank} region ${g}: mean ${avg} beyond ${bound}`);
        // the mean square: its sd from the members' sample sd (fourth moments depend on the factors)
        const sq = squares[g].reduce((s, x) => s + x, 0) / M;
        const sd = Math.sqrt(squares[g].reduce((s, x) => s + (x - sq) ** 2, 0) / (M - 1));
        const sqBound = 5 * sd / Math.sqrt(M);
        assert.ok(sqBound < 0.25, `rank ${rank} region ${g}: the bound ${sqBound} is informative`);
        if (!(Math.abs(sq - 1) <= sqBound)) assert.unreachable(`rank ${rank} region ${g}: variance ${sq} vs 1 beyond ${sqBound}`);
      });
    } finally {
      ws.dispose();
    }
  }
});

test('lowRankMembers rejects bad arguments with "<kernel>: <argument> must be …; got …"', () => {
  const mod = mods[0];
  const ws = new Workspace(mod);
  try {
    const sh = ws.from('i32', [4, 3, 2, 5]); // n = 15 + 15 = 30
    const bad = ws.from('i32', [4, 3, 2, 0]);
    const work = ws.f64(mod.exports.lowRankMembersWorkBytes(2, sh.ptr, 2) / 8);
    const th = ws.f64(30), dst = ws.f32(3 * 32);
    const call = (count: number, shapes: number, stride: number, sigma = 0.1, out = dst.ptr, theta = th.ptr) =>
      mod.exports.lowRankMembers(count, 2, shapes, 2, sigma, 1, 0, 0, 0, 1, theta, out, stride, work.ptr);
    call(2, sh.ptr, 32); // fits: 3 rows of stride 32
    expectKernelError(() => call(0, sh.ptr, 32), /^lowRankMembers: count must be ≥ 1; got 0$/);
    expectKernelError(() => call(2, bad.ptr, 32), /^lowRankMembers: shapes\[3\] \(the fanOut of block 2\) must be ≥ 1; got 0$/);
    expectKernelError(() => call(2, sh.ptr, 29), /^lowRankMembers: dstStride must be ≥ the parameter count n = 30; got 29$/);
    expectKernelError(() => call(2, sh.ptr, 32, NaN), /^lowRankMembers: sigma must be finite; got NaN$/);
    expectKernelError(() => call(1, sh.ptr, 30, 0.1, work.ptr),
      /^lowRankMembers: dst and work must not overlap \(pass separate buffers\); got \[\d+, \d+\) and \[\d+, \d+\)$/);
    expectKernelError(() => call(1, sh.ptr, 30, 0.1, dst.ptr, dst.ptr + 64),
      /^lowRankMembers: dst and theta must not overlap \(pass separate buffers\); got \[\d+, \d+\) and \[\d+, \d+\)$/);
    expectKernelError(() => mod.exports.lowRankMembersWorkBytes(0, sh.ptr, 1), /^lowRankMembersWorkBytes: layers must be ≥ 1; got 0$/);
  } finally {
    ws.dispose();
  }
});

test.run();
