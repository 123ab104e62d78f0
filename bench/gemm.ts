// f32 GEMM benchmark: our sgemm (SIMD build) against the practical WebAssembly SIMD peak (12
// independent f32x4 mul+add chains, bench/peak.ts compiled at start), a plain-JS blocked GEMM and
// @tensorflow/tfjs-backend-wasm matMul (XNNPACK), on the shapes the training loop runs; then one
// whole-ensemble MLP forward pass (33 members × 512 rows, 784-64-10 tanh) as mlpForward
// (member by member), as two denseEnsemble calls (layer by layer) and as per-member tfjs ops.
//
// Machines are shared and noisy, so every candidate is timed in each of several rounds, one right
// after the other, and ratios are taken within a round; the report gives medians over rounds.
// Each timing is a Benchmark.js run (median of its samples).
//
// Run: node --import tsx bench/gemm.ts [--quick | --smoke]   → bench/results/gemm.json (smoke: bench/lib/smoke.ts)
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname } from 'node:path';
import Benchmark from 'benchmark';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadModule, Workspace } from '../bindings/index.js';
import { jsGemm } from './lib/jsgemm.js';
import { SMOKE, writeResult } from './lib/smoke.js';
import { PEAK_FLOPS, PEAK_ITERS, compilePeak, median } from './lib/peak.js';

const quick = process.argv.includes('--quick');
const ROUNDS = SMOKE ? 1 : quick ? 3 : 9;
// Short Benchmark.js runs (≥ 5 samples of ≥ 10 ms) keep the candidates of a round close in time.
const MIN_TIME = SMOKE ? 0.001 : 0.01;
const MAX_TIME = SMOKE ? 0.005 : 0.1;
const WARM_UP = SMOKE ? 1 : 20;
const require = createRequire(import.meta.url);


// Median seconds per call of fn, from one Benchmark.js run.
function secondsPerCall(name: string, fn: () => void, maxTime = MAX_TIME): number {
  const b = new Benchmark(name, fn, { minTime: MIN_TIME, maxTime, minSamples: 5 });
  b.run();
  if (b.error) throw b.error;
  return median(b.stats.sample as number[]);
}


// ---- set-up -------------------------------------------------------------------------------------
const loadBefore = os.loadavg();
const peak = compilePeak();
const mod = await loadModule({ simd: true });
if (!mod.simd) throw new Error('This host has no WebAssembly SIMD; the benchmark compares SIMD kernels.');
setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/');
await tf.setBackend('wasm');
await tf.ready();
const ws = new Workspace(mod);

function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(1);
const randomF32 = (n: number) => Float32Array.from({ length: n }, () => rand() * 2 - 1);

interface Shape { name: string; transA: boolean; M: number; N: number; K: number }
const SHAPES: Shape[] = [
  { name: '(256×784)·(784×128)', transA: false, M: 256, N: 128, K: 784 },
  { name: '(1000×128)·(128×10)', transA: false, M: 1000, N: 10, K: 128 },
  { name: '(128×4096)·(4096×128)', transA: false, M: 128, N: 128, K: 4096 },
  { name: '(4096×128)ᵀ·(4096×128)', transA: true, M: 128, N: 128, K: 4096 },
];

// tfjsT: for AᵀB, tfjs's matMul(transposeA) leaves XNNPACK, so also time the user's workaround,
// an explicit transpose then the XNNPACK matMul.
interface Candidates { ours: () => void; tfjs: () => void; js: () => void; tfjsT?: () => void }

function prepare(s: Shape): Candidates {
  const { M, N, K, transA } = s;
  const a = randomF32(M * K), b = randomF32(K * N);
  const A = ws.from('f32', a), B = ws.from('f32', b), C = ws.f32(M * N);
  const work = ws.alloc('f32', mod.exports.sgemmWorkBytes(M, N, K) / 4);
  const ta = tf.tensor2d(a, transA ? [K, M] : [M, K]), tb = tf.tensor2d(b, [K, N]);
  const cj = new Float32Array(M * N);
  const ours = () => mod.exports.sgemm(transA ? 1 : 0, 0, M, N, K, 1, A.ptr, transA ? M : K, B.ptr, N, 0, C.ptr, N, work.ptr);
  const tfjs = () => tf.matMul(ta, tb, transA, false).dispose();
  const js = () => jsGemm(transA, M, N, K, a, b, cj);
  // Sanity: all three compute the same product (f32 rounding apart).
  ours();
  js();
  const ct = tf.matMul(ta, tb, transA, false);
  const tv = ct.dataSync();
  ct.dispose();
  const cv = C.view();
  let scale = 0, errJs = 0, errTf = 0;
  for (let i = 0; i < M * N; i++) {
    scale = Math.max(scale, Math.abs(cj[i]));
    errJs = Math.max(errJs, Math.abs(cv[i] - cj[i]));
    errTf = Math.max(errTf, Math.abs(cv[i] - tv[i]));
  }
  if (errJs > 1e-4 * scale || errTf > 1e-4 * scale) {
    throw new Error(`${s.name}: results disagree (vs JS ${errJs}, vs tfjs ${errTf}, scale ${scale})`);
  }
  const tfjsT = transA ? () => tf.tidy(() => tf.matMul(tf.transpose(ta), tb)).dispose() : undefined;
  return { ours, tfjs, js, tfjsT };
}

// ---- GEMM shapes --------------------------------------------------------------------------------
const prepared = SHAPES.map((s) => ({ shape: s, c: prepare(s) }));
// Warm-up: lift every candidate out of V8's baseline tier before any timing.
for (let i = 0; i < WARM_UP; i++) peak(PEAK_ITERS, 0.999, 0.001);
for (const { c } of prepared) {
  for (let i = 0; i < WARM_UP; i++) {
    c.ours();
    c.tfjs();
    c.tfjsT?.();
  }
  for (let i = 0; i < Math.min(3, WARM_UP); i++) c.js();
}

type Row = { ours: number[]; peak: number[]; tfjs: number[]; tfjsT: number[]; js: number[]; oursPeak: number[]; oursTfjs: number[]; oursTfjsT: number[] };
const rows: Row[] = SHAPES.map(() => ({ ours: [], peak: [], tfjs: [], tfjsT: [], js: [], oursPeak: [], oursTfjs: [], oursTfjsT: [] }));
for (let round = 0; round < ROUNDS; round++) {
  prepared.forEach(({ shape, c }, i) => {
    const flops = 2 * shape.M * shape.N * shape.K;
    const p = PEAK_FLOPS / secondsPerCall('peak', () => peak(PEAK_ITERS, 0.999, 0.001)) / 1e9;
    const o = flops / secondsPerCall('ours', c.ours) / 1e9;
    const t = flops / secondsPerCall('tfjs', c.tfjs) / 1e9;
    const j = flops / secondsPerCall('js', c.js) / 1e9;
    const r = rows[i];
    r.peak.push(p);
    r.ours.push(o);
    r.tfjs.push(t);
    r.js.push(j);
    r.oursPeak.push(o / p);
    r.oursTfjs.push(o / t);
    if (c.tfjsT) {
      const tt = flops / secondsPerCall('tfjs transpose+matMul', c.tfjsT) / 1e9;
      r.tfjsT.push(tt);
      r.oursTfjsT.push(o / tt);
    }
  });
  process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
}

// ---- one whole-ensemble MLP forward pass ----------------------------------------------------------
const members = 33, batch = 512, dims = [784, 64, 10];
const nP = dims[0] * dims[1] + dims[1] + dims[1] * dims[2] + dims[2];
const xs = randomF32(batch * dims[0]);
const ps = randomF32(members * nP).map((v) => v * 0.05);
const X = ws.from('f32', xs), P = ws.from('f32', ps), D = ws.from('i32', dims);
const out = ws.f32(members * batch * dims[2]);
const bufA = ws.f32(batch * dims[1]), bufB = ws.f32(batch * dims[1]);
// Layer by layer keeps every member's hidden activations: members × batch × hidden.
const hidden = ws.f32(members * batch * dims[1]);
const mlpWork = ws.alloc('f32', mod.exports.mlpWorkBytes(batch, 2, D.ptr) / 4);
const TANH = 2, IDENTITY = 0;
const net = ws.i32(mod.exports.mlpNetworkBytes() / 4);
mod.exports.mlpNetwork(net.ptr, 2, TANH, IDENTITY, batch, D.ptr, X.ptr, P.ptr, nP, out.ptr, bufA.ptr, bufB.ptr, mlpWork.ptr);
const memberByMember = () => mod.exports.mlpForward(net.ptr, members);
const w1 = dims[0] * dims[1];
const layerByLayer = () => {
  mod.exports.denseEnsemble(members, batch, dims[0], dims[1], TANH, X.ptr, 0, P.ptr, P.byteOffset(w1), nP, hidden.ptr, batch * dims[1], mlpWork.ptr);
  mod.exports.denseEnsemble(members, batch, dims[1], dims[2], IDENTITY, hidden.ptr, batch * dims[1], P.byteOffset(w1 + dims[1]),
    P.byteOffset(w1 + dims[1] + dims[1] * dims[2]), nP, out.ptr, batch * dims[2], mlpWork.ptr);
};
// tfjs: the same network, one member at a time (its batched matMul is far slower; see notes).
const tX = tf.tensor2d(xs, [batch, dims[0]]);
const tW = Array.from({ length: members }, (_, j) => {
  const o = j * nP;
  return [
    tf.tensor2d(ps.subarray(o, o + w1), [dims[0], dims[1]]),
    tf.tensor1d(ps.subarray(o + w1, o + w1 + dims[1])),
    tf.tensor2d(ps.subarray(o + w1 + dims[1], o + w1 + dims[1] + dims[1] * dims[2]), [dims[1], dims[2]]),
    tf.tensor1d(ps.subarray(o + w1 + dims[1] + dims[1] * dims[2], o + nP)),
  ] as const;
});
const tfjsMlp = () => {
  for (const [W0, b0, W1, b1] of tW) {
    tf.tidy(() => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(tX, W0), b0)), W1), b1)).dispose();
  }
};
{
  // Sanity: the three agree on member 7's logits.
  memberByMember();
  const ref = out.copy();
  layerByLayer();
  const lbl = out.copy();
  const [W0, b0, W1, b1] = tW[7];
  const t = tf.tidy(() => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(tX, W0), b0)), W1), b1));
  const tv = t.dataSync();
  t.dispose();
  let err = 0;
  for (let i = 0; i < batch * dims[2]; i++) err = Math.max(err, Math.abs(ref[7 * batch * dims[2] + i] - tv[i]));
  if (err > 1e-4 || ref.some((v, i) => v !== lbl[i])) throw new Error(`MLP forward passes disagree (tfjs max diff ${err})`);
}
for (let i = 0; i < Math.min(5, WARM_UP); i++) {
  memberByMember();
  layerByLayer();
  tfjsMlp();
}
const mlpFlops = 2 * members * batch * (dims[0] * dims[1] + dims[1] * dims[2]);
const mlp = { memberByMember: [] as number[], layerByLayer: [] as number[], tfjs: [] as number[] };
const layerOverMember: number[] = [];
const tfjsOverMember: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which order goes first, so a load spike does not always hit the same one.
  const first = round % 2 === 0;
  const lbl1 = first ? 0 : secondsPerCall('denseEnsemble×2', layerByLayer, 2 * MAX_TIME) * 1e3;
  const mbm = secondsPerCall('mlpForward', memberByMember, 2 * MAX_TIME) * 1e3;
  const lbl = first ? secondsPerCall('denseEnsemble×2', layerByLayer, 2 * MAX_TIME) * 1e3 : lbl1;
  const tfm = secondsPerCall('tfjs per member', tfjsMlp, 2 * MAX_TIME) * 1e3;
  mlp.memberByMember.push(mbm);
  mlp.layerByLayer.push(lbl);
  mlp.tfjs.push(tfm);
  layerOverMember.push(lbl / mbm);
  tfjsOverMember.push(tfm / mbm);
}
const loadAfter = os.loadavg();

// ---- report -------------------------------------------------------------------------------------
const r2 = (x: number) => Math.round(x * 100) / 100;
const shapes = SHAPES.map((s, i) => {
  const r = rows[i];
  return {
    shape: s.name, M: s.M, N: s.N, K: s.K, transA: s.transA,
    gflops: {
      ours: r2(median(r.ours)), peak: r2(median(r.peak)), tfjsWasm: r2(median(r.tfjs)), plainJs: r2(median(r.js)),
      ...(s.transA ? { tfjsWasmTransposeThenMatMul: r2(median(r.tfjsT)) } : {}),
    },
    // Best round per candidate: the closest a loaded machine gets to the unloaded speed.
    bestGflops: {
      ours: r2(Math.max(...r.ours)), peak: r2(Math.max(...r.peak)), tfjsWasm: r2(Math.max(...r.tfjs)), plainJs: r2(Math.max(...r.js)),
    },
    peakSpread: { min: r2(Math.min(...r.peak)), max: r2(Math.max(...r.peak)) },
    bestRatios: {
      oursOverPeak: r2(Math.max(...r.ours) / Math.max(...r.peak)),
      oursOverTfjs: r2(Math.max(...r.ours) / Math.max(...r.tfjs)),
    },
    ratios: {
      oursOverPeak: r2(median(r.oursPeak)), oursOverTfjs: r2(median(r.oursTfjs)),
      ...(s.transA ? { oursOverTfjsTransposeThenMatMul: r2(median(r.oursTfjsT)) } : {}),
    },
    goal: { oursOverPeakAtLeast: 0.85, oursOverTfjsAtLeast: 1.3 },
    meetsGoal: median(r.oursPeak) >= 0.85 && median(r.oursTfjs) >= 1.3 && (!s.transA || median(r.oursTfjsT) >= 1.3),
    perRound: { oursOverPeak: r.oursPeak.map(r2), oursOverTfjs: r.oursTfjs.map(r2) },
  };
});
const mlpMs = { memberByMember: median(mlp.memberByMember), layerByLayer: median(mlp.layerByLayer), tfjs: median(mlp.tfjs) };
const cpus = os.cpus();
const result = {
  date: new Date().toISOString(),
  node: process.version,
  v8: process.versions.v8,
  cpu: cpus[0]?.model ?? 'unknown',
  cores: cpus.length,
  rounds: ROUNDS,
  smoke: SMOKE,
  loadAverage: { before: loadBefore.map(r2), after: loadAfter.map(r2) },
  // Loaded = other work competed for the cores (1-minute load ≥ half the cores).
  machineLoaded: Math.max(loadBefore[0], loadAfter[0]) >= cpus.length / 2,
  method: 'GFLOP/s = 2MNK / median seconds per call (Benchmark.js samples); medians over rounds; ' +
    'ratios taken within each round, then the median. peak = 12 independent f32x4 mul+add chains. ' +
    'tfjsWasm = tf.matMul (transposeA for AᵀB, which tfjs runs off XNNPACK); ' +
    'tfjsWasmTransposeThenMatMul = tf.transpose then tf.matMul (XNNPACK), timed together.',
  shapes,
  mlpForward: {
    problem: { members, rows: batch, dims, hidden: 'tanh', output: 'identity' },
    ms: { mlpForwardMemberByMember: r2(mlpMs.memberByMember), denseEnsembleLayerByLayer: r2(mlpMs.layerByLayer), tfjsWasmPerMember: r2(mlpMs.tfjs) },
    bestMs: { mlpForwardMemberByMember: r2(Math.min(...mlp.memberByMember)), denseEnsembleLayerByLayer: r2(Math.min(...mlp.layerByLayer)), tfjsWasmPerMember: r2(Math.min(...mlp.tfjs)) },
    gflops: { mlpForward: r2(mlpFlops / mlpMs.memberByMember / 1e6), layerByLayer: r2(mlpFlops / mlpMs.layerByLayer / 1e6), tfjsWasm: r2(mlpFlops / mlpMs.tfjs / 1e6) },
    // Within-round ratios (medians): layer by layer ÷ member by member, and tfjs ÷ mlpForward.
    layerByLayerOverMemberByMember: r2(median(layerOverMember)),
    speedupOverTfjs: r2(median(tfjsOverMember)),
  },
};
const written = writeResult('gemm', result);

console.log(`node ${process.version}, ${result.cpu}, load ${loadBefore[0].toFixed(2)} → ${loadAfter[0].toFixed(2)}, ${ROUNDS} rounds`);
console.log('shape'.padEnd(26) + 'ours  peak  tfjs    js  ours/peak  ours/tfjs  (GFLOP/s, medians)');
for (const s of shapes) {
  const g = s.gflops;
  console.log(s.shape.padEnd(24) + [g.ours, g.peak, g.tfjsWasm, g.plainJs].map((v) => v.toFixed(1).padStart(6)).join('') +
    s.ratios.oursOverPeak.toFixed(2).padStart(11) + s.ratios.oursOverTfjs.toFixed(2).padStart(11) +
    (s.transA ? `   (tfjs transpose+matMul ${s.gflops.tfjsWasmTransposeThenMatMul?.toFixed(1)}: ours/that ${s.ratios.oursOverTfjsTransposeThenMatMul?.toFixed(2)})` : ''));
}
const m = result.mlpForward;
console.log(`MLP forward 33×512×[784,64,10]: mlpForward ${m.ms.mlpForwardMemberByMember} ms (${m.gflops.mlpForward} GFLOP/s), ` +
  `layer by layer ${m.ms.denseEnsembleLayerByLayer} ms (${m.layerByLayerOverMemberByMember}× within rounds), ` +
  `tfjs-wasm per member ${m.ms.tfjsWasmPerMember} ms (${m.speedupOverTfjs}× slower within rounds)`);
console.log('best rounds (≈ unloaded): ' + shapes.map((s) => `${s.shape} ${s.bestRatios.oursOverPeak}× peak, ${s.bestRatios.oursOverTfjs}× tfjs`).join('; '));
console.log(`wrote ${written}`);

ws.dispose();
tX.dispose();
for (const t of tW) for (const x of t) x.dispose();
