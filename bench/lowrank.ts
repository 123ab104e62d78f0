// Rank-1 ensemble forward (lowRankForward) against today's Gaussian members (mlpForwardPerturbed):
// 784-64-10 tanh, batch 512, centre + k members with k + 1 ∈ {33, 129, 257}, antithetic pairs, SIMD
// build. Also the shared GEMM of the rank-1 path (X·[W_1 | U_1 …], timed through sgemm, the same
// engine) in GFLOP/s against the practical peak loop (bench/peak.ts, compiled at start).
//
// The machine is shared: every candidate is timed in each round, one right after the other, ratios
// are taken within a round and reported as medians over rounds; absolute times are indicative only.
//
// Run: node --import tsx bench/lowrank.ts [--quick]   → bench/results/lowrank.json
import os from 'node:os';
import Benchmark from 'benchmark';
import { loadModule, Workspace } from '../bindings/index.js';
import { SMOKE, writeResult } from './lib/smoke.js';
import { PEAK_FLOPS, PEAK_ITERS, compilePeak, median } from './lib/peak.js';

const quick = process.argv.includes('--quick');
const ROUNDS = SMOKE ? 1 : quick ? 2 : 5;
const ENSEMBLES = SMOKE ? [33] : [33, 129, 257];
const DIMS = [784, 64, 10];
const ROWS = 512;
const TANH = 2;

const r2 = (x: number) => Math.round(x * 100) / 100;

// Median seconds per call of fn from one Benchmark.js run (≥ 3 samples).
function seconds(name: string, fn: () => void): number {
  const b = new Benchmark(name, fn, { minTime: 0.01, maxTime: 0.2, minSamples: 3 });
  b.run();
  if (b.error) throw b.error;
  return median(b.stats.sample as number[]);
}


const loadBefore = os.loadavg();
const peak = compilePeak();
const mod = await loadModule({ simd: true });
if (!mod.simd) throw new Error('This host has no WebAssembly SIMD; the benchmark compares SIMD kernels.');
const raw = mod.exports;
const ws = new Workspace(mod);

let seed = 1;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const n = DIMS.slice(1).reduce((s, d, l) => s + DIMS[l] * d + d, 0);
// MNIST-like input: 81 % zeros, the rest in (0, 1]
const X = ws.from('f32', Float32Array.from({ length: ROWS * DIMS[0] }, () => (rand() < 0.81 ? 0 : rand())));
const theta = ws.from('f64', Float64Array.from({ length: n }, () => (rand() * 2 - 1) * 0.05));
const dims = ws.from('i32', DIMS);
const L = DIMS.length - 1;
const hidden = ws.f32(ROWS * 64);
const hiddenB = ws.f32(ROWS * 64);
// members' f32 rows start 16-byte aligned
const pStride = (n + 3) & ~3;
const gWork = ws.alloc('f32', raw.mlpWorkBytes(ROWS, L, dims.ptr) / 4);

interface Case { total: number; gaussian: () => void; lowRank: () => void; lowRankDense: () => void; gemm: () => void; gemmFlops: number; N1: number }
const cases: Case[] = ENSEMBLES.map((total) => {
  const k = total - 1;
  const out = ws.f32(total * ROWS * DIMS[L]);
  const out2 = ws.f32(total * ROWS * DIMS[L]);
  const scratch = ws.f32(2 * pStride);
  const work = ws.alloc('f32', raw.lowRankForwardWorkBytes(k, ROWS, L, dims.ptr, 1, 1) / 4);
  // today's Gaussian members through the network descriptor (one per case: out differs)
  const net = ws.i32(raw.mlpNetworkBytes() / 4);
  raw.mlpNetwork(net.ptr, L, TANH, 0, ROWS, dims.ptr, X.ptr, scratch.ptr, pStride, out.ptr, hidden.ptr, hiddenB.ptr, gWork.ptr);
  const gaussian = () => raw.mlpForwardPerturbed(net.ptr, k, theta.ptr, 0.05, 7, 3, 0, 1, 1);
  const lowRank = () => raw.lowRankForward(k, ROWS, L, TANH, 0, dims.ptr, 1, X.ptr, theta.ptr, 0.05, 7, 3, 0, 1, 1, -1, out2.ptr, work.ptr);
  const lowRankDense = () => raw.lowRankForward(k, ROWS, L, TANH, 0, dims.ptr, 1, X.ptr, theta.ptr, 0.05, 7, 3, 0, 1, 1, 0, out2.ptr, work.ptr);
  // Sanity: both centres are θ's forward (f32 rounding apart).
  gaussian();
  lowRank();
  const a = out.view().subarray(0, ROWS * DIMS[L]), b = out2.view().subarray(0, ROWS * DIMS[L]);
  let err = 0, scale = 0;
  for (let i = 0; i < a.length; i++) { err = Math.max(err, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(a[i])); }
  if (err > 1e-5 * Math.max(1, scale)) throw new Error(`k + 1 = ${total}: centres disagree by ${err}`);
  // The shared GEMM: 512 × 784 by 784 × N1 (N1 = 64 + k/2 streams, padded to a multiple of 4).
  const N1 = (DIMS[1] + (k >> 1) + 3) & ~3;
  const A = X, B = ws.from('f32', Float32Array.from({ length: DIMS[0] * N1 }, () => rand() - 0.5));
  const C = ws.f32(ROWS * N1), sw = ws.alloc('f32', raw.sgemmWorkBytes(ROWS, N1, DIMS[0]) / 4);
  const gemm = () => raw.sgemm(0, 0, ROWS, N1, DIMS[0], 1, A.ptr, DIMS[0], B.ptr, N1, 0, C.ptr, N1, sw.ptr);
  return { total, gaussian, lowRank, lowRankDense, gemm, gemmFlops: 2 * ROWS * N1 * DIMS[0], N1 };
});

// Warm-up: out of V8's baseline tier before any timing.
for (let i = 0; i < 10; i++) peak(PEAK_ITERS, 0.999, 0.001);
for (const c of cases) for (let i = 0; i < 3; i++) { c.lowRank(); c.lowRankDense(); c.gemm(); }
cases[0].gaussian();

const rows = cases.map(() => ({ gaussian: [] as number[], lowRank: [] as number[], lowRankDense: [] as number[], gemm: [] as number[],
  speedup: [] as number[], speedupDense: [] as number[], gemmOverPeak: [] as number[] }));
const peaks: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const pk = PEAK_FLOPS / seconds('peak', () => peak(PEAK_ITERS, 0.999, 0.001)) / 1e9;
  peaks.push(pk);
  cases.forEach((c, i) => {
    const g = seconds(`gaussian ${c.total}`, c.gaussian);
    const l = seconds(`lowrank ${c.total}`, c.lowRank);
    const ld = seconds(`lowrank dense ${c.total}`, c.lowRankDense);
    const s = seconds(`gemm ${c.total}`, c.gemm);
    const r = rows[i];
    r.gaussian.push(g * 1e3);
    r.lowRank.push(l * 1e3);
    r.lowRankDense.push(ld * 1e3);
    r.speedupDense.push(g / ld);
    r.gemm.push(s * 1e3);
    r.speedup.push(g / l);
    r.gemmOverPeak.push(c.gemmFlops / s / 1e9 / pk);
  });
  console.log(`round ${round + 1}/${ROUNDS}: ` + cases.map((c, i) => `k+1=${c.total} ${rows[i].speedup.at(-1)!.toFixed(1)}× (dense ${rows[i].speedupDense.at(-1)!.toFixed(1)}×)`).join(', '));
}

// Crossover of the sparse first layer: k + 1 = 33, the whole call with sparse = 1 vs 0, by the
// fraction of nonzeros of X (within-round ratios dense ÷ sparse; > 1: sparse is faster).
const DENSITIES = SMOKE ? [0.19] : [0.05, 0.1, 0.19, 0.3, 0.4, 0.5, 0.6, 0.8];
const crossover = DENSITIES.map((density) => {
  const Xd = ws.from('f32', Float32Array.from({ length: ROWS * DIMS[0] }, () => (rand() < density ? rand() : 0)));
  const work = ws.alloc('f32', raw.lowRankForwardWorkBytes(32, ROWS, L, dims.ptr, 1, 1) / 4);
  const out = ws.f32(33 * ROWS * DIMS[L]);
  const call = (sparse: number) => () => raw.lowRankForward(32, ROWS, L, TANH, 0, dims.ptr, 1, Xd.ptr, theta.ptr, 0.05, 7, 3, 0, 1, 1, sparse, out.ptr, work.ptr);
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) ratios.push(seconds('dense', call(0)) / seconds('sparse', call(1)));
  return { nonzeroFraction: density, denseOverSparse: r2(median(ratios)) };
});
console.log('sparse first layer, dense ÷ sparse time by nonzero fraction: ' + crossover.map((c) => `${c.nonzeroFraction}: ${c.denseOverSparse}`).join(', '));
const loadAfter = os.loadavg();

// Multiply-adds per call: Gaussian (k + 1) full passes; rank 1: the shared GEMM + per member the
// rank-1 term of layer 1, layer 2's GEMM and its H·u, (H·u)·vᵀ.
const macsGaussian = (t: number) => t * ROWS * (DIMS[0] * DIMS[1] + DIMS[1] * DIMS[2]);
const macsLowRank = (t: number, N1: number) => ROWS * DIMS[0] * N1 + t * ROWS * (DIMS[1] + DIMS[1] * DIMS[2] + DIMS[1] + DIMS[2]);
const results = cases.map((c, i) => {
  const r = rows[i];
  const gMs = median(r.gaussian), lMs = median(r.lowRank), sMs = median(r.gemm);
  return {
    ensemble: c.total,
    ms: { gaussian: r2(gMs), rank1: r2(lMs), rank1DenseFirstLayer: r2(median(r.lowRankDense)), sharedGemm: r2(sMs) },
    speedupRank1OverGaussian: r2(median(r.speedup)),
    speedupRank1DenseFirstLayerOverGaussian: r2(median(r.speedupDense)),
    speedupPerRound: r.speedup.map(r2),
    goalMet: c.total === 33 ? median(r.speedup) >= 8 : undefined,
    sharedGemm: {
      shape: `(${ROWS}×${DIMS[0]})·(${DIMS[0]}×${c.N1})`,
      gflops: r2(c.gemmFlops / sMs / 1e6),
      fractionOfPeak: r2(median(r.gemmOverPeak)),
      fractionOfRank1DenseForward: r2(sMs / median(r.lowRankDense)),
    },
    multiplyAdds: { gaussian: macsGaussian(c.total), rank1: macsLowRank(c.total, c.N1) },
  };
});
const cpus = os.cpus();
const result = {
  smoke: SMOKE,
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus[0]?.model ?? 'unknown',
  cores: cpus.length,
  rounds: ROUNDS,
  loadAverage: { before: loadBefore.map(r2), after: loadAfter.map(r2) },
  machineLoaded: Math.max(loadBefore[0], loadAfter[0]) >= cpus.length / 2,
  problem: { dims: DIMS, rows: ROWS, hidden: 'tanh', output: 'identity', antithetic: true, center: true, rank: 1, sigma: 0.05,
    input: 'MNIST-like: 81 % zeros (rank1 = automatic first layer, i.e. sparse; rank1DenseFirstLayer forces the dense GEMM)' },
  method: 'Median seconds per call from Benchmark.js samples; speed-ups taken within each round (gaussian, rank-1 and ' +
    'the GEMM timed back to back), then the median over rounds. peak = 12 independent f32x4 mul+add chains, timed each round. ' +
    'sharedGemm = sgemm of the rank-1 path\'s shared product shape (same engine as lowRankForward).',
  peakGflops: r2(median(peaks)),
  results,
  sparseFirstLayerCrossover: crossover,
};
const written = writeResult('lowrank', result);
console.log(`node ${process.version}, ${result.cpu}, load ${loadBefore[0].toFixed(2)} → ${loadAfter[0].toFixed(2)}, ${ROUNDS} rounds, peak ${result.peakGflops} GFLOP/s`);
for (const r of results) {
  console.log(`k+1 = ${String(r.ensemble).padStart(3)}: gaussian ${r.ms.gaussian} ms, rank-1 ${r.ms.rank1} ms → ${r.speedupRank1OverGaussian}× ` +
    `(dense first layer ${r.ms.rank1DenseFirstLayer} ms → ${r.speedupRank1DenseFirstLayerOverGaussian}×; shared GEMM ${r.sharedGemm.shape} ` +
    `${r.sharedGemm.gflops} GFLOP/s = ${r.sharedGemm.fractionOfPeak} of peak, ${Math.round(100 * r.sharedGemm.fractionOfRank1DenseForward)} % of the dense-first-layer call)`);
}
console.log(`wrote ${written}`);
ws.dispose();
