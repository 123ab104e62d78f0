// The counter-based N(0,1) generator and the kernels built on it: against an independent BigInt
// re-implementation of its definition, statistical bounds, bit-identity across builds, module
// instances and member chunkings, and perturb/nlbUpdate/drawGram against oracles that materialize E.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule, Workspace } from '../bindings/index.js';
import type { EnkfModule } from '../bindings/index.js';
import {
  mulberry32, randInt, uniformArray, gaussArray, maxAbs, maxAbsDiff, randnRef, streamKeyRef,
  uniformCentredRef, acklamRef, normalCdf, perturbRef, nlbUpdateRef, gramRef,
} from './oracles.js';
import { builds, expectKernelError, label } from './helpers.js';

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.is(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.unreachable(`${what}: element ${i} differs: ${a[i]} vs ${b[i]}`);
  }
}

function randn(mod: EnkfModule, n: number, seed: number, iter: number, member: number, offset = 0): Float64Array {
  const ws = new Workspace(mod);
  const out = ws.f64(n);
  mod.exports.randn(n, seed, iter, member, offset, out.ptr);
  const v = out.copy();
  ws.dispose();
  return v;
}

test('randn equals the definition (BigInt SplitMix64 counter + f32 Acklam), central region bit for bit', async () => {
  for (const mod of await builds()) {
    for (const [seed, iter, member, offset, n] of [[0, 0, 0, 0, 20001], [1, 2, 3, 5, 1], [0xffffffff, 7, 0xffffffff, 4294967295 - 999, 1000], [42, 1000, 31, 123457, 4097]]) {
      const got = randn(mod, n, seed, iter, member, offset);
      const want = randnRef(n, seed, iter, member, offset);
      const key = streamKeyRef(seed, iter, member);
      for (let j = 0; j < n; j++) {
        const central = Math.abs(uniformCentredRef(key, offset + j)) <= Math.fround(0.47575);
        // Tails use the host's log (V8's vs AssemblyScript's): equal to a few f32 ulps, not bit for bit.
        if (central) assert.ok(Object.is(got[j], want[j]), `${label(mod)} ${seed}/${iter}/${member} index ${offset + j}: ${got[j]} vs ${want[j]}`);
        else assert.ok(Math.abs(got[j] - want[j]) <= 5e-7 * Math.abs(want[j]), `tail ${got[j]} vs ${want[j]}`);
      }
    }
  }
});

test('the f32 evaluation is within 2e-6 (relative) of Acklam in f64, over the whole range of u', async () => {
  const [mod] = await builds();
  const n = 200_000;
  const got = randn(mod, n, 5, 5, 5);
  const key = streamKeyRef(5, 5, 5);
  let worst = 0;
  for (let j = 0; j < n; j++) {
    const want = acklamRef(uniformCentredRef(key, j), true);
    worst = Math.max(worst, Math.abs(got[j] - want) / Math.abs(want));
  }
  assert.ok(worst < 2e-6, `max relative error ${worst}`);
  // The extreme u = 2⁻²⁴ and 1 − 2⁻²⁴ give the largest |ξ| (≈ 5.2947), symmetric.
  const lo = 2 ** -24 - 0.5;
  const extreme = acklamRef(lo);
  assert.ok(Math.abs(extreme - acklamRef(lo, true)) < 2e-6 * 5.3 && acklamRef(-lo) === -extreme, `${extreme}`);
});

test('SIMD and scalar builds give the same bits (randn, perturb64, perturb32, nlbUpdate, drawGram); so does a second instance', async () => {
  const [simd, scalar] = await builds();
  const other = await loadModule({ simd: true });
  for (const n of [1, 2, 3, 1023, 200001]) {
    const a = randn(simd, n, 9, 4, 2, 17);
    sameBits(a, randn(scalar, n, 9, 4, 2, 17), `randn n=${n} simd vs scalar`);
    sameBits(a, randn(other, n, 9, 4, 2, 17), `randn n=${n} two instances`);
  }
  const rand = mulberry32(301);
  // n = 1001 and 4097: odd tails of the Gram tiles; k = 9, 200: a partial register block, a narrow tile.
  for (const [k, n, anti, member0] of [[1, 1, 0, 1], [4, 5, 1, 2], [8, 1001, 1, 0], [5, 4096, 0, 1], [9, 4097, 0, 3], [200, 333, 1, 4]]) {
    const theta = gaussArray(rand, n);
    const z = gaussArray(rand, k);
    const results = [simd, scalar].map((mod) => {
      const ws = new Workspace(mod);
      const th = ws.from('f64', theta);
      const o64 = ws.f64(k * n);
      const o32 = ws.f32(k * (n + 3));
      const G = ws.f64(k * k);
      const p = ws.f64(k);
      mod.exports.perturb64(k, n, 0.3, 5, 6, member0, anti, th.ptr, o64.ptr);
      mod.exports.perturb32(k, n, 0.3, 5, 6, member0, anti, n + 3, th.ptr, o32.ptr);
      mod.exports.drawGram(k, n, 5, 6, member0, anti, th.ptr, G.ptr, p.ptr);
      mod.exports.nlbUpdate(k, n, 0.7, 5, 6, member0, anti, ws.from('f64', z).ptr, th.ptr);
      const r = [o64.copy(), o32.copy(), th.copy(), G.copy(), p.copy()];
      ws.dispose();
      return r;
    });
    for (let i = 0; i < 5; i++) sameBits(results[0][i], results[1][i], `kernel ${i} k=${k} n=${n} anti=${anti}`);
  }
});

test('statistics of 2·10⁶ draws: mean, variance, lag-1 correlations, tails and the CDF within bounds', async () => {
  const [mod] = await builds();
  const members = 40;
  const n = 50_000;
  const N = members * n;
  const rows = Array.from({ length: members }, (_, i) => randn(mod, n, 2024, 3, i));
  let s1 = 0, s2 = 0, lagIndex = 0, lagMember = 0, over3 = 0, over4 = 0;
  for (let i = 0; i < members; i++) {
    const x = rows[i];
    const next = rows[(i + 1) % members];
    for (let j = 0; j < n; j++) {
      s1 += x[j];
      s2 += x[j] * x[j];
      if (j + 1 < n) lagIndex += x[j] * x[j + 1];
      lagMember += x[j] * next[j];
      const a = Math.abs(x[j]);
      if (a > 3) over3++;
      if (a > 4) over4++;
    }
  }
  const mean = s1 / N;
  const variance = s2 / N - mean * mean;
  // Each bound is 5 standard errors of the statistic for i.i.d. N(0,1) (false alarm ≈ 6·10⁻⁷).
  assert.ok(Math.abs(mean) < 5 / Math.sqrt(N), `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 5 * Math.sqrt(2 / N), `variance ${variance}`);
  assert.ok(Math.abs(lagIndex / (N - members)) < 5 / Math.sqrt(N), `lag-1 correlation across index ${lagIndex / N}`);
  assert.ok(Math.abs(lagMember / N) < 5 / Math.sqrt(N), `correlation of neighbouring members ${lagMember / N}`);
  // Tail counts are binomial: P(|x| > 3) = 2Φ(−3), P(|x| > 4) = 2Φ(−4).
  for (const [count, t] of [[over3, 3], [over4, 4]]) {
    const p = 2 * normalCdf(-t);
    const sd = Math.sqrt(N * p * (1 - p));
    assert.ok(Math.abs(count - N * p) < 5 * sd, `P(|x| > ${t}): ${count} vs ${N * p} ± ${sd}`);
  }
  // Kolmogorov–Smirnov on the first 2·10⁵ draws: D < 1.95/√n rejects at α = 0.001.
  const sample = Float64Array.from(rows.slice(0, 4).flatMap((r) => Array.from(r))).sort();
  let D = 0;
  for (let i = 0; i < sample.length; i++) {
    const F = normalCdf(sample[i]);
    D = Math.max(D, Math.abs(F - i / sample.length), Math.abs(F - (i + 1) / sample.length));
  }
  assert.ok(D < 1.95 / Math.sqrt(sample.length), `KS statistic ${D}`);
});

test('streams of different seeds and iterations are uncorrelated; the key depends on every argument', async () => {
  const [mod] = await builds();
  const n = 100_000;
  const base = randn(mod, n, 1, 1, 1);
  for (const [seed, iter, member] of [[2, 1, 1], [1, 2, 1], [1, 1, 2], [0, 1, 1], [1, 0, 1], [1, 1, 0]]) {
    const other = randn(mod, n, seed, iter, member);
    let c = 0;
    for (let j = 0; j < n; j++) c += base[j] * other[j];
    assert.ok(Math.abs(c / n) < 5 / Math.sqrt(n), `corr with ${seed}/${iter}/${member}: ${c / n}`);
  }
});

test('any chunking of indices or members gives the same values', async () => {
  for (const mod of await builds()) {
    const whole = randn(mod, 1000, 3, 3, 3, 100);
    const parts = [randn(mod, 1, 3, 3, 3, 100), randn(mod, 500, 3, 3, 3, 101), randn(mod, 499, 3, 3, 3, 601)];
    sameBits(whole, Float64Array.from(parts.flatMap((p) => Array.from(p))), `${label(mod)} randn offsets`);
    const rand = mulberry32(302);
    const n = 333;
    for (const anti of [0, 1]) {
      const k = anti ? 10 : 11;
      const theta = gaussArray(rand, n);
      const z = gaussArray(rand, k);
      const ws = new Workspace(mod);
      const th = ws.from('f64', theta);
      const all = ws.f64(k * n);
      mod.exports.perturb64(k, n, 0.1, 8, 9, 4, anti, th.ptr, all.ptr);
      // Chunks generated in reverse order, splitting antithetic pairs ([4..7), [7..8), [8..k+4)).
      const chunked = ws.f64(k * n);
      for (const [r0, cnt] of [[4, k - 4], [3, 1], [0, 3]]) mod.exports.perturb64(cnt, n, 0.1, 8, 9, 4 + r0, anti, th.ptr, chunked.byteOffset(r0 * n));
      sameBits(all.copy(), chunked.copy(), `${label(mod)} perturb64 chunks anti=${anti}`);
      const f32all = ws.f32(k * n);
      const f32chunk = ws.f32(k * n);
      mod.exports.perturb32(k, n, 0.1, 8, 9, 4, anti, n, th.ptr, f32all.ptr);
      for (const [r0, cnt] of [[5, k - 5], [0, 5]]) mod.exports.perturb32(cnt, n, 0.1, 8, 9, 4 + r0, anti, n, th.ptr, f32chunk.byteOffset(r0 * n));
      sameBits(f32all.copy(), f32chunk.copy(), `${label(mod)} perturb32 chunks anti=${anti}`);
      // nlbUpdate over consecutive member chunks, in order, adds the same terms in the same order
      // (with pairs, chunks start at even members; chunks of 1 to 6 streams cross the groups of 4).
      const zb = ws.from('f64', z);
      const t1 = ws.from('f64', theta);
      mod.exports.nlbUpdate(k, n, 0.5, 8, 9, 4, anti, zb.ptr, t1.ptr);
      const t2 = ws.from('f64', theta);
      const chunks = anti ? [[0, 2], [2, 8]] : [[0, 1], [1, 4], [5, 6]];
      for (const [r0, cnt] of chunks) mod.exports.nlbUpdate(cnt, n, 0.5, 8, 9, 4 + r0, anti, zb.byteOffset(r0), t2.ptr);
      sameBits(t1.copy(), t2.copy(), `${label(mod)} nlbUpdate chunks anti=${anti}`);
      ws.dispose();
    }
  }
});

test('perturb64 / perturb32 / nlbUpdate equal oracles that materialize E from randn', async () => {
  const rand = mulberry32(303);
  for (const mod of await builds()) {
    for (const [k, n, member0] of [[1, 1, 0], [2, 3, 1], [2, 3, 2], [7, 64, 6], [8, 257, 6], [9, 1025, 3], [32, 2000, 0], [14, 600, 10]]) {
      for (const anti of [false, true]) {
        const ws = new Workspace(mod);
        const sigma = 0.05;
        const theta = gaussArray(rand, n);
        const xi = (q: number) => randn(mod, n, 77, 12, q);
        const th = ws.from('f64', theta);
        const what = `${label(mod)} k=${k} n=${n} member0=${member0} anti=${anti}`;
        const o64 = ws.f64(k * n);
        mod.exports.perturb64(k, n, sigma, 77, 12, member0, anti ? 1 : 0, th.ptr, o64.ptr);
        const ref = perturbRef(k, sigma, member0, anti, theta, xi);
        sameBits(o64.copy(), ref, `${what} perturb64`);
        const stride = n + 5;
        const o32 = ws.f32(k * stride).set(new Float32Array(k * stride).fill(-123));
        mod.exports.perturb32(k, n, sigma, 77, 12, member0, anti ? 1 : 0, stride, th.ptr, o32.ptr);
        const v32 = o32.copy();
        for (let r = 0; r < k; r++) {
          for (let j = 0; j < stride; j++) {
            const want = j < n ? Math.fround(ref[r * n + j]) : -123; // padding untouched
            if (v32[r * stride + j] !== want) assert.unreachable(`${what} perturb32 (${r},${j}): ${v32[r * stride + j]} vs ${want}`);
          }
        }
        // Pairs are whole in a call: the antithetic kernels take an even member0 and k.
        if (!anti || (k % 2 === 0 && member0 % 2 === 0)) {
          const G = ws.f64(k * k);
          const p = ws.f64(k);
          mod.exports.drawGram(k, n, 77, 12, member0, anti ? 1 : 0, th.ptr, G.ptr, p.ptr);
          const ref = gramRef(k, member0, anti, theta, xi);
          const g = G.copy();
          // Sums of n products of magnitude ≤ ~30: f64 rounding ~n·1e-16·30 absolute.
          assert.ok(maxAbsDiff(g, ref.G) <= 1e-13 * n, `${what} drawGram G: ${maxAbsDiff(g, ref.G)}`);
          assert.ok(maxAbsDiff(p.copy(), ref.p) <= 1e-13 * n, `${what} drawGram p`);
          for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) assert.ok(Object.is(g[a * k + b], g[b * k + a]), `${what} G symmetric`);
          const z = gaussArray(rand, k);
          mod.exports.nlbUpdate(k, n, 0.3, 77, 12, member0, anti ? 1 : 0, ws.from('f64', z).ptr, th.ptr);
          const upd = nlbUpdateRef(0.3, member0, anti, z, theta, xi);
          assert.ok(maxAbsDiff(th.copy(), upd) <= 1e-14 * maxAbs(upd), `${what} nlbUpdate`);
        }
        ws.dispose();
      }
    }
  }
});

test('antithetic pairs are exact mirrors: row 2q − θ = −(row 2q+1 − θ)', async () => {
  const [mod] = await builds();
  const ws = new Workspace(mod);
  const n = 501;
  const theta = new Float64Array(n); // θ = 0 makes the mirror exact in floating point
  const out = ws.f64(6 * n);
  mod.exports.perturb64(6, n, 1.5, 1, 1, 0, 1, ws.from('f64', theta).ptr, out.ptr);
  const v = out.copy();
  for (let q = 0; q < 3; q++) for (let j = 0; j < n; j++) assert.is(v[2 * q * n + j], -v[(2 * q + 1) * n + j]);
  ws.dispose();
});

test('bad arguments give KernelError', async () => {
  for (const mod of await builds()) {
    const ws = new Workspace(mod);
    const b = ws.f64(64);
    const p = b.ptr;
    const x = mod.exports;
    const end = x.memoryBytes();
    expectKernelError(() => x.randn(0, 1, 1, 1, 0, p), /randn: n must be ≥ 1; got 0/);
    expectKernelError(() => x.randn(-5, 1, 1, 1, 0, p), /randn: n must be ≥ 1; got -5/);
    expectKernelError(() => x.randn(8, 1, 1, 1, 0, p + 4), /randn: out must be 8-byte aligned; got pointer \d+/);
    expectKernelError(() => x.randn(8, 1, 1, 1, 0, end - 32), /randn: out must lie inside memory; got pointer \d+ \+ extent \d+ bytes > memory size \d+ bytes/);
    expectKernelError(() => x.randn(8, 1, 1, 1, 4294967295 - 3, p), /randn: offset \+ n must be ≤ 2\^32 \(index is u32\); got offset = 4294967292, n = 8/);
    expectKernelError(() => x.perturb64(0, 4, 1, 1, 1, 0, 0, p, p), /perturb64: k must be ≥ 1; got 0/);
    expectKernelError(() => x.perturb64(2, 4, NaN, 1, 1, 0, 0, p, p), /perturb64: sigma must be finite; got NaN/);
    expectKernelError(() => x.perturb64(2, 4, 1, 1, 1, 4294967295, 0, p, p), /perturb64: member0 \+ k must be ≤ 2\^32 \(member is u32\); got member0 = 4294967295, k = 2/);
    expectKernelError(() => x.perturb64(2, 4, 1, 1, 1, 0, 0, end - 8, p), /perturb64: theta must lie inside memory; got pointer \d+ \+ extent \d+ bytes > memory size \d+ bytes/);
    expectKernelError(() => x.perturb32(2, 4, 1, 1, 1, 0, 0, 3, p, p), /perturb32: outStride must be ≥ n = 4; got 3/);
    expectKernelError(() => x.perturb32(2, 4, 1, 1, 1, 0, 0, 4, p, p + 2), /perturb32: out must be 4-byte aligned; got pointer \d+/);
    expectKernelError(() => x.nlbUpdate(2, 0, 1, 1, 1, 0, 0, p, p), /nlbUpdate: n must be ≥ 1; got 0/);
    expectKernelError(() => x.nlbUpdate(2, 4, Infinity, 1, 1, 0, 0, p, p), /nlbUpdate: coef must be finite; got Infinity/);
    expectKernelError(() => x.nlbUpdate(2, 4, 1, 1, 1, 0, 0, end - 8, p), /nlbUpdate: z must lie inside memory; got pointer \d+ \+ extent \d+ bytes > memory size \d+ bytes/);
    expectKernelError(() => x.nlbUpdate(2, 4, 1, 1, 1, 1, 1, p, p + 64), /nlbUpdate: with antithetic pairs member0 and k must be even .* member0 = 1, k = 2/);
    expectKernelError(() => x.nlbUpdate(3, 4, 1, 1, 1, 0, 1, p, p + 64), /nlbUpdate: with antithetic pairs .* k = 3: split/);
    expectKernelError(() => x.drawGram(0, 4, 1, 1, 0, 0, p, p, p), /drawGram: k must be ≥ 1; got 0/);
    expectKernelError(() => x.drawGram(2, 0, 1, 1, 0, 0, p, p, p), /drawGram: n must be ≥ 1; got 0/);
    expectKernelError(() => x.drawGram(3, 4, 1, 1, 0, 1, p, p + 64, p + 160), /drawGram: with antithetic pairs member0 and k must be even/);
    expectKernelError(() => x.drawGram(2, 4, 1, 1, 4294967295, 0, p, p, p), /drawGram: member0 \+ k must be ≤ 2\^32/);
    expectKernelError(() => x.drawGram(8193, 4, 1, 1, 0, 0, p, p, p), /drawGram: k must be ≤ 8192 \(16384 with antithetic pairs; split the ensemble\); got 8193/);
    expectKernelError(() => x.drawGram(2, 4, 1, 1, 0, 0, end - 8, p, p), /drawGram: theta must lie inside memory; got pointer \d+ \+ extent \d+ bytes > memory size \d+ bytes/);
    expectKernelError(() => x.drawGram(2, 4, 1, 1, 0, 0, p, end - 16, p), /drawGram: G must lie inside memory; got pointer \d+ \+ extent \d+ bytes > memory size \d+ bytes/);
    expectKernelError(() => x.drawGram(2, 4, 1, 1, 0, 0, p, p, p + 1), /drawGram: p must be 8-byte aligned; got pointer \d+/);
    ws.dispose();
  }
});

test('the generator core stays internal: the module exports the rng kernels and none of its helpers', async () => {
  for (const mod of await builds()) {
    const names = Object.keys(mod.exports);
    for (const k of ['randn', 'perturb64', 'perturb32', 'nlbUpdate', 'drawGram', 'mlpForwardPerturbed']) {
      assert.ok(names.includes(k), `${label(mod)}: ${k} exported`);
    }
    for (const k of ['streamKey', 'fillNormals', 'perturbRows32', 'checkBuf', 'mix64', 'normal1']) {
      assert.not.ok(names.includes(k), `${label(mod)}: ${k} must not be exported`);
    }
  }
});

test('memory does not grow over 10⁴ calls', async () => {
  for (const mod of await builds()) {
    const ws = new Workspace(mod);
    const n = 37, k = 4;
    const th = ws.from('f64', uniformArray(mulberry32(304), n));
    const o = ws.f64(k * n), o32 = ws.f32(k * n), z = ws.from('f64', [0.1, -0.2, 0.05, 0.3]);
    const G = ws.f64(k * k), p = ws.f64(k);
    const before = mod.exports.memoryBytes();
    for (let i = 0; i < 10_000; i++) {
      mod.exports.randn(n, 1, i, 2, 0, o.ptr);
      mod.exports.perturb64(k, n, 0.1, 1, i, 0, i & 1, th.ptr, o.ptr);
      mod.exports.perturb32(k, n, 0.1, 1, i, 0, i & 1, n, th.ptr, o32.ptr);
      mod.exports.nlbUpdate(k, n, 1e-3, 1, i, 0, i & 1, z.ptr, th.ptr);
      mod.exports.drawGram(k, n, 1, i, 0, i & 1, th.ptr, G.ptr, p.ptr);
    }
    assert.is(mod.exports.memoryBytes(), before);
    assert.ok(th.copy().every(Number.isFinite));
    ws.dispose();
  }
});

test.run();
