// The sequential forward kernel (seqForward, assembly/seq.ts) against tfjs-backend-wasm (XNNPACK,
// SIMD, single-threaded in Node, like our module) on the CNN, 28×28×1 →
// 8c5 relu → maxPool 2 → 16c5 relu → maxPool 2 → dense 10:
//   - one member: each conv layer alone (with bias and relu) and the whole network, ours against
//     tfjs's fused conv2d / maxPool / fused matMul;
//   - an ensemble of k + 1 = 33 and 129 members (each its own parameter row), ours in one
//     seqForward call against k + 1 tfjs forward calls; for the first conv layer also against one
//     tfjs conv2d with the members' filters side by side (8·(k + 1) output channels: the same
//     multiply-adds in one call). Later layers have no such batched form in tfjs (each member's
//     input differs: a grouped convolution tfjs does not offer).
// Times are medians of repeated calls after a warm-up call, the parameters and batch already in
// place on both sides (our f32 rows in WebAssembly memory, tfjs's tensors created beforehand).
// Writes bench/results/conv.json. Run: node --import tsx bench/conv.ts [--smoke]
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { loadModule, type EnkfModule } from '../bindings/wasm.js';
import { Workspace } from '../bindings/workspace.js';
import { mnistSplit } from '../bindings/data/mnist.js';
import { CNN_BLOCKS, CNN_PARAMETERS, tfCnnInit } from './lib/tf-cnn.js';
import { useTf } from './lib/tf-train.js';
import { SMOKE, writeResult } from './lib/smoke.js';

// The whole CNN on fit's batch of 512 rows with 1, 33 and 129 members; a conv layer alone writes
// its whole feature map per member (4 608 floats a row for conv1), so 128 rows and ≤ 33 members.
const ROWS = SMOKE ? 16 : 512;
const LAYER_ROWS = SMOKE ? 16 : 128;
const MEMBERS = SMOKE ? [1, 3] : [1, 33, 129];
const LAYER_MEMBERS = SMOKE ? [1, 3] : [1, 33];
const REPEATS = SMOKE ? 1 : 5;
const SEED = 1;

/** The seq kernels' raw exports (the ABI of assembly/seq.ts). */
interface SeqRaw {
  seqParamCount(layers: number, table: number): number;
  seqWorkBytes(layers: number, table: number, rows: number): number;
  seqNetworkBytes(): number;
  seqNetwork(net: number, layers: number, table: number, rows: number, X: number, P: number, pStride: number, out: number, work: number): void;
  seqForward(net: number, members: number): void;
}

// Layer table rows (LAYER_WORDS = 20 i32): op act inH inW inC outH outW outC kh kw sH sW padT padL wOffset levels range 0 0 0.
const LAYER_WORDS = 20;
const RELU = 1;
const conv = (inH: number, inC: number, outC: number, wOffset: number) => [1, RELU, inH, inH, inC, inH - 4, inH - 4, outC, 5, 5, 1, 1, 0, 0, wOffset, 0, 0, 0, 0, 0];
const pool = (inH: number, c: number) => [2, 0, inH, inH, c, inH / 2, inH / 2, c, 2, 2, 2, 2, 0, 0, -1, 0, 0, 0, 0, 0];
const dense = (inH: number, inC: number, units: number, wOffset: number) => [0, 0, inH, inH, inC, 1, 1, units, 0, 0, 0, 0, 0, 0, wOffset, 0, 0, 0, 0, 0];

// Offsets of the CNN's blocks in θ (our layout: W then b per block).
const OFFSETS = CNN_BLOCKS.reduce<number[]>((o, l, i) => [...o, i ? o[i - 1] + CNN_BLOCKS[i - 1].w.reduce((p, d) => p * d, 1) + CNN_BLOCKS[i - 1].b : 0], []);

interface Network {
  name: string;
  /** Layer table and the input image shape [h, w, c]. */
  table: number[][];
  input: [number, number, number];
  /** Which CNN blocks (indices into CNN_BLOCKS) the network's parameters are. */
  blocks: number[];
  rows: number;
  members: number[];
  multiplyAddsPerRow: number;
}
const NETWORKS: Network[] = [
  { name: 'conv1 (28×28×1 → 24×24×8, 5×5, relu)', table: [conv(28, 1, 8, 0)], input: [28, 28, 1], blocks: [0], rows: LAYER_ROWS, members: LAYER_MEMBERS, multiplyAddsPerRow: 24 * 24 * 8 * 25 },
  { name: 'conv2 (12×12×8 → 8×8×16, 5×5, relu)', table: [conv(12, 8, 16, 0)], input: [12, 12, 8], blocks: [1], rows: LAYER_ROWS, members: LAYER_MEMBERS, multiplyAddsPerRow: 8 * 8 * 16 * 200 },
  {
    name: 'cnn (8c5-pool-16c5-pool-dense10)', input: [28, 28, 1], blocks: [0, 1, 2], rows: ROWS, members: MEMBERS,
    table: [conv(28, 1, 8, 0), pool(24, 8), conv(12, 8, 16, OFFSETS[1]), pool(8, 16), dense(4, 16, 10, OFFSETS[2])],
    multiplyAddsPerRow: 24 * 24 * 8 * 25 + 8 * 8 * 16 * 200 + 256 * 10,
  },
];

const median = (a: number[]) => a.slice().sort((p, q) => p - q)[a.length >> 1];
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function timeMs(fn: () => void): number {
  fn();
  const t: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

// Member m's parameters: θ₀ plus a seeded perturbation (each member its own weights).
function memberRows(net: Network, members: number): { P: Float32Array; n: number; stride: number } {
  const theta = tfCnnInit(SEED);
  const parts = net.blocks.map((b) => theta.subarray(OFFSETS[b], OFFSETS[b] + CNN_BLOCKS[b].w.reduce((p, d) => p * d, 1) + CNN_BLOCKS[b].b));
  const n = parts.reduce((s, p) => s + p.length, 0);
  const stride = (n + 3) & ~3;
  const P = new Float32Array(members * stride);
  let s = 12345;
  for (let m = 0; m < members; m++) {
    let o = m * stride;
    for (const p of parts) for (let i = 0; i < p.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      P[o++] = p[i] + 0.01 * (s / 2 ** 32 - 0.5);
    }
  }
  return { P, n, stride };
}

// Input rows: the first net.rows test digits (conv1, cnn) or seeded values in [0, 1) (conv2's 12×12×8).
function inputRows(net: Network, images: Float32Array): Float32Array {
  const size = net.input[0] * net.input[1] * net.input[2];
  if (net.input[2] === 1) return images.slice(0, net.rows * size);
  let s = 777;
  return Float32Array.from({ length: net.rows * size }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32));
}

function ours(mod: EnkfModule, net: Network, X: Float32Array, rows: { P: Float32Array; n: number; stride: number }, members: number) {
  const r = mod.exports as unknown as SeqRaw;
  const ws = new Workspace(mod);
  try {
    const T = ws.from('i32', Int32Array.from(net.table.flat()));
    const L = net.table.length;
    const n = r.seqParamCount(L, T.ptr);
    if (n !== rows.n) throw new Error(`bench/conv: seqParamCount says ${n} parameters for ${net.name}; the CNN blocks have ${rows.n}.`);
    const last = net.table[L - 1];
    const outSize = last[5] * last[6] * last[7];
    const out = ws.f32(members * net.rows * outSize);
    const work = ws.alloc('f32', r.seqWorkBytes(L, T.ptr, net.rows) / 4);
    const d = ws.i32(r.seqNetworkBytes() / 4);
    r.seqNetwork(d.ptr, L, T.ptr, net.rows, ws.from('f32', X).ptr, ws.from('f32', rows.P).ptr, rows.stride, out.ptr, work.ptr);
    const ms = timeMs(() => r.seqForward(d.ptr, members));
    return { ms, out: out.copy(), outSize, workBytes: work.length * 4 };
  } finally {
    ws.dispose();
  }
}

// tfjs tensors of member m's blocks (W shaped as tfjs wants it, b).
function memberTensors(net: Network, rows: { P: Float32Array; stride: number }, m: number): tf.Tensor[] {
  const t: tf.Tensor[] = [];
  let o = m * rows.stride;
  for (const b of net.blocks) {
    const w = CNN_BLOCKS[b].w, nw = w.reduce((p, d) => p * d, 1);
    t.push(tf.tensor(rows.P.slice(o, o + nw), w), tf.tensor1d(rows.P.slice(o + nw, o + nw + CNN_BLOCKS[b].b)));
    o += nw + CNN_BLOCKS[b].b;
  }
  return t;
}

function tfForward(net: Network, x: tf.Tensor4D, p: tf.Tensor[]): tf.Tensor {
  const convRelu = (h: tf.Tensor4D, w: tf.Tensor, b: tf.Tensor) =>
    tf.fused.conv2d({ x: h, filter: w as tf.Tensor4D, strides: 1, pad: 'valid', bias: b, activation: 'relu' });
  if (net.blocks.length === 1) return convRelu(x, p[0], p[1]);
  let h = tf.maxPool(convRelu(x, p[0], p[1]), 2, 2, 'valid');
  h = tf.maxPool(convRelu(h, p[2], p[3]), 2, 2, 'valid');
  return tf.fused.matMul({ a: tf.reshape(h, [x.shape[0], 256]), b: p[4] as tf.Tensor2D, bias: p[5] });
}

function tfjsPerMember(net: Network, X: Float32Array, rows: { P: Float32Array; stride: number }, members: number) {
  const x = tf.tensor4d(X, [net.rows, ...net.input]);
  const params = Array.from({ length: members }, (_, m) => memberTensors(net, rows, m));
  const outs: Float32Array[] = [];
  const ms = timeMs(() => {
    outs.length = 0;
    for (const p of params) {
      const y = tf.tidy(() => tfForward(net, x, p));
      outs.push(y.dataSync() as Float32Array);
      y.dispose();
    }
  });
  x.dispose();
  params.flat().forEach((t) => t.dispose());
  return { ms, outs };
}

// conv1 of all members as one conv2d: filters [5, 5, 1, 8·members], member m's in channels 8m … 8m + 7.
function tfjsBatchedConv1(net: Network, X: Float32Array, rows: { P: Float32Array; stride: number }, members: number) {
  const x = tf.tensor4d(X, [net.rows, ...net.input]);
  const per = memberTensors(net, rows, 0).map((t) => t.shape);
  const [w, b] = tf.tidy(() => {
    const ps = Array.from({ length: members }, (_, m) => memberTensors(net, rows, m));
    return [tf.concat(ps.map((p) => p[0]), 3), tf.concat(ps.map((p) => p[1]), 0)];
  });
  if (per[0][3] !== 8) throw new Error('bench/conv: the batched form is for conv1 only.');
  const ms = timeMs(() => {
    const y = tf.tidy(() => tf.fused.conv2d({ x, filter: w as tf.Tensor4D, strides: 1, pad: 'valid', bias: b, activation: 'relu' }));
    y.dataSync();
    y.dispose();
  });
  [x, w, b].forEach((t) => t.dispose());
  return { ms };
}

// Largest |ours − tfjs| over members 0 and last, relative to the largest |tfjs| output.
function agreement(ourOut: Float32Array, tfOuts: Float32Array[]): number {
  let diff = 0, scale = 0;
  const size = tfOuts[0].length;
  for (const m of [0, tfOuts.length - 1]) {
    const o = ourOut.subarray(m * size, (m + 1) * size);
    tfOuts[m].forEach((v, i) => {
      diff = Math.max(diff, Math.abs(v - o[i]));
      scale = Math.max(scale, Math.abs(v));
    });
  }
  return diff / scale;
}

const mod = await loadModule();
const tfEnv = await useTf('wasm');
const { test } = await mnistSplit(0);
if (CNN_PARAMETERS !== 5994) throw new Error(`bench/conv: the CNN should have 5 994 parameters; got ${CNN_PARAMETERS}.`);
const loadAtStart = os.loadavg().map((v) => round(v, 2));

const results = [];
for (const net of NETWORKS) {
  const X = inputRows(net, test.images);
  for (const members of net.members) {
    const rows = memberRows(net, members);
    const o = ours(mod, net, X, rows, members);
    const t = tfjsPerMember(net, X, rows, members);
    const madds = members * net.rows * net.multiplyAddsPerRow;
    const entry: Record<string, unknown> = {
      network: net.name, members, rows: net.rows, multiplyAdds: madds,
      oursMs: round(o.ms), tfjsPerMemberMs: round(t.ms), ratioTfjsPerMemberOverOurs: round(t.ms / o.ms),
      oursGflops: round((2 * madds) / o.ms / 1e6, 2), tfjsPerMemberGflops: round((2 * madds) / t.ms / 1e6, 2),
      oursWorkBytes: o.workBytes, maxRelativeDifference: agreement(o.out, t.outs),
    };
    if (net.blocks.length === 1 && net.blocks[0] === 0 && members > 1) {
      const b = tfjsBatchedConv1(net, X, rows, members);
      Object.assign(entry, { tfjsBatchedMs: round(b.ms), ratioTfjsBatchedOverOurs: round(b.ms / o.ms), tfjsBatchedGflops: round((2 * madds) / b.ms / 1e6, 2) });
    }
    console.log(JSON.stringify(entry));
    results.push(entry);
  }
}
for (const r of results) {
  if (!((r.maxRelativeDifference as number) < 1e-4)) throw new Error(`bench/conv: ours and tfjs disagree on ${r.network} (${r.members} members): relative difference ${r.maxRelativeDifference}.`);
}

const out = {
  benchmark: 'seqForward (sequential conv forward, our WebAssembly module) against tfjs-backend-wasm conv2d on the issue\'s CNN: one member and ensembles of k + 1 members',
  command: `node --import tsx bench/conv.ts${SMOKE ? ' --smoke' : ''}`,
  smoke: SMOKE,
  date: new Date().toISOString(),
  host: {
    node: process.versions.node, cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: os.loadavg().map((v) => round(v, 2)), simd: mod.simd, tfjs: tfEnv,
  },
  settings: {
    rows: { cnn: ROWS, layers: LAYER_ROWS }, members: { cnn: MEMBERS, layers: LAYER_MEMBERS }, repeats: REPEATS, timing: 'median of the repeats after one warm-up call; parameters and batch in place beforehand on both sides',
    tfjsOps: 'tf.fused.conv2d (bias + relu fused), tf.maxPool, tf.fused.matMul; output read with dataSync per member',
    batched: 'conv1 only: one tf.fused.conv2d with the members\' filters concatenated along the output channels',
    memberParameters: 'each member its own f32 parameter row: the seeded CNN θ₀ plus uniform noise of width 0.01',
  },
  results,
};
console.log(`wrote ${writeResult('conv', out)}`);
