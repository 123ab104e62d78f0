// Golden iterates: seeded NLB/EKI runs through minimize, ask/tell and fit, on both builds, reduced
// to a SHA-256 of every final θ bit and every logged loss. Recorded before the architecture
// refactor (issue 7) so that a refactor that changes a single bit of any iterate fails here.
// `GOLDEN_PRINT=1 node scripts/test.mjs golden` prints the current digests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { loadModule, minimize, createAskTell, mlp, fit, type EnkfModule } from '../bindings/index.js';
import { mulberry32, gaussArray } from './oracles.js';

const builds: EnkfModule[] = [await loadModule({ simd: true }), await loadModule({ simd: false })];

function digest(theta: ArrayLike<number>, losses: number[]): string {
  const h = createHash('sha256');
  h.update(new Uint8Array(Float64Array.from(theta).buffer));
  h.update(new Uint8Array(Float64Array.from(losses).buffer));
  return h.digest('hex').slice(0, 20);
}

// A mildly nonlinear least-squares problem: F(θ)_i = tanh(a_i·θ) + 0.1·(a_i·θ)², m = 30, n = 12.
function lsProblem() {
  const rand = mulberry32(11);
  const m = 30;
  const n = 12;
  const A = gaussArray(rand, m * n);
  const y = gaussArray(rand, m).map((v) => 0.5 * v);
  const forward = (thetas: Float64Array, k: number): Float64Array => {
    const out = new Float64Array(k * m);
    for (let r = 0; r < k; r++) {
      for (let i = 0; i < m; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += A[i * n + j] * thetas[r * n + j];
        out[r * m + i] = Math.tanh(s) + 0.1 * s * s;
      }
    }
    return out;
  };
  return { y, forward, theta0: new Float64Array(n).fill(0.1) };
}

// Softmax regression: 40 samples, 3 classes, 4 features; θ = W (4 × 3), logits = X W.
function ceProblem() {
  const rand = mulberry32(5);
  const B = 40;
  const X = gaussArray(rand, B * 4);
  const y = Int32Array.from({ length: B }, (_, b) => (X[b * 4] > 0.3 ? 0 : X[b * 4 + 1] > 0 ? 1 : 2));
  const forward = (thetas: Float64Array, k: number): Float64Array => {
    const out = new Float64Array(k * B * 3);
    for (let r = 0; r < k; r++) {
      for (let b = 0; b < B; b++) {
        for (let c = 0; c < 3; c++) {
          let s = 0;
          for (let j = 0; j < 4; j++) s += X[b * 4 + j] * thetas[r * 12 + j * 3 + c];
          out[(r * B + b) * 3 + c] = s;
        }
      }
    }
    return out;
  };
  return { y, forward, theta0: new Float64Array(12) };
}

// Four blobs in 8-D, 240 rows (the fit runs).
function blobs() {
  const rand = mulberry32(21);
  const rows = 240;
  const x = new Float32Array(rows * 8);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = Math.floor(rand() * 4);
    labels[r] = c;
    const g = gaussArray(rand, 8);
    for (let j = 0; j < 8; j++) x[r * 8 + j] = (j === c ? 2 : 0) + (j === c + 4 ? -1 : 0) + 0.5 * g[j];
  }
  return { x: { data: x, shape: [rows, 8] as [number, number] }, labels };
}

const lossesOf = (h: { loss: number; lossBefore: number; sigma: number }[]) => h.flatMap((d) => [d.loss, d.lossBefore, d.sigma]);

type Run = (module: EnkfModule) => Promise<string>;

const runs: Record<string, Run> = {
  async 'minimize nlb least-squares λ'(module) {
    const p = lsProblem();
    const r = await minimize({ ...p, module, ensembleSize: 6, seed: 3, maxIterations: 30, lambda: 1e-3 });
    return digest(r.theta, lossesOf(r.history));
  },
  async 'minimize nlb antithetic implicit-filtering gain-ratio'(module) {
    const p = lsProblem();
    const r = await minimize({
      ...p, module, ensembleSize: 8, seed: 4, maxIterations: 30, antithetic: true, sigmaSchedule: 'implicit-filtering',
      dampingControl: 'gain-ratio', trustRegion: 0.5, maxMembers: 3,
    });
    return digest(r.theta, lossesOf(r.history));
  },
  async 'minimize nlb cross-entropy decay'(module) {
    const p = ceProblem();
    const r = await minimize({ ...p, module, loss: 'cross-entropy', ensembleSize: 6, seed: 9, maxIterations: 25, sigmaSchedule: 'decay', sigmaDecay: 0.95 });
    return digest(r.theta, lossesOf(r.history));
  },
  async 'minimize eki least-squares'(module) {
    const p = lsProblem();
    const r = await minimize({ ...p, module, optimizer: 'eki', ensembleSize: 10, seed: 5, maxIterations: 20 });
    return digest(r.theta, lossesOf(r.history));
  },
  async 'ask/tell nlb least-squares λ'(module) {
    const p = lsProblem();
    const at = await createAskTell({ y: p.y, theta0: p.theta0, module, ensembleSize: 6, seed: 3, maxIterations: 30, lambda: 1e-3 });
    while (!at.done) {
      const rows = at.ask();
      at.tell(p.forward(rows, rows.length / p.theta0.length));
    }
    const d = digest(at.theta(), lossesOf(at.history));
    at.dispose();
    return d;
  },
  async 'fit nlb workers 0'(module) {
    const { x, labels } = blobs();
    const model = mlp([8, 10, 4], { activation: 'tanh', seed: 2, module });
    const h = await fit(model, x, labels, { batchSize: 60, iterations: 24, nlb: { ensembleSize: 10 } });
    return digest(model.params, h.iterations.flatMap((d) => [d.loss, d.lossBefore, d.crossEntropy]));
  },
  async 'fit nlb workers 1'(module) {
    const { x, labels } = blobs();
    const model = mlp([8, 10, 4], { activation: 'tanh', seed: 2, module });
    const h = await fit(model, x, labels, { batchSize: 60, iterations: 24, nlb: { ensembleSize: 10 }, workers: 1 });
    return digest(model.params, h.iterations.flatMap((d) => [d.loss, d.lossBefore, d.crossEntropy]));
  },
  async 'fit nlb averaging exact-last-layer'(module) {
    const { x, labels } = blobs();
    const model = mlp([8, 10, 4], { activation: 'relu', seed: 4, module });
    const h = await fit(model, x, labels, {
      batchSize: 48, iterations: 20, nlb: { ensembleSize: 8, antithetic: true }, averaging: { decay: 0.9, start: 5 },
      exactLastLayer: { every: 7 },
    });
    return digest(model.params, h.iterations.flatMap((d) => [d.loss, d.lossBefore, d.crossEntropy]));
  },
  async 'fit eki'(module) {
    const { x, labels } = blobs();
    const model = mlp([8, 10, 4], { activation: 'tanh', seed: 2, module });
    const h = await fit(model, x, labels, { optimizer: 'eki', batchSize: 60, iterations: 12, eki: { ensembleSize: 12 } });
    return digest(model.params, h.iterations.flatMap((d) => [d.loss, d.lossBefore]));
  },
};

// SIMD: recorded on the code before the issue-7 refactor. Scalar: re-recorded when the scalar
// build's f64 reductions (Gram block, lsSystem's r, ceSystem's pᵀΔF, lsLoss, cholesky's dot) took
// the SIMD build's even/odd lane order, so that the f64 kernels give the same bits in both builds;
// the minimize and ask/tell runs (JS forward, no f32 GEMM) now equal the SIMD digests exactly.
const GOLDEN: Record<string, string> = {
  'simd: minimize nlb least-squares λ': 'b7c013c326c205b8c4fe',
  'simd: minimize nlb antithetic implicit-filtering gain-ratio': '1ba4358c31440b86fe4b',
  'simd: minimize nlb cross-entropy decay': '9989f55e333de2663ce7',
  'simd: minimize eki least-squares': '39ca9b6abc7d0352e800',
  'simd: ask/tell nlb least-squares λ': 'b7c013c326c205b8c4fe',
  'simd: fit nlb workers 0': '3f936db5ce7047bc1cbc',
  'simd: fit nlb workers 1': '3f936db5ce7047bc1cbc',
  'simd: fit nlb averaging exact-last-layer': 'df916ab14e48d658ba1a',
  'simd: fit eki': '47aad95e141cb9b02d79',
  'scalar: minimize nlb least-squares λ': 'b7c013c326c205b8c4fe',
  'scalar: minimize nlb antithetic implicit-filtering gain-ratio': '1ba4358c31440b86fe4b',
  'scalar: minimize nlb cross-entropy decay': '9989f55e333de2663ce7',
  'scalar: minimize eki least-squares': '39ca9b6abc7d0352e800',
  'scalar: ask/tell nlb least-squares λ': 'b7c013c326c205b8c4fe',
  'scalar: fit nlb workers 0': 'eefab9fc3a645dfe88b5',
  'scalar: fit nlb workers 1': 'eefab9fc3a645dfe88b5',
  'scalar: fit nlb averaging exact-last-layer': '8ae3f6b37ac2b3defb72',
  'scalar: fit eki': 'e743b401f987d3e7db18',
};

const print = process.env.GOLDEN_PRINT === '1';
const seen: Record<string, string> = {};

for (const module of builds) {
  const build = module.simd ? 'simd' : 'scalar';
  for (const [name, run] of Object.entries(runs)) {
    test(`golden ${build}: ${name}`, async () => {
      const got = await run(module);
      seen[`${build}: ${name}`] = got;
      if (print) return;
      assert.is(got, GOLDEN[`${build}: ${name}`], `${build}: ${name}`);
    });
  }
}

test('golden: ask/tell equals minimize, workers 1 equals workers 0', () => {
  for (const build of ['simd', 'scalar']) {
    assert.is(seen[`${build}: ask/tell nlb least-squares λ`], seen[`${build}: minimize nlb least-squares λ`]);
    assert.is(seen[`${build}: fit nlb workers 1`], seen[`${build}: fit nlb workers 0`]);
  }
  // Runs without the f32 GEMM (JS forward) touch only kernels that are bit-identical across builds.
  for (const name of Object.keys(runs).filter((r) => !r.startsWith('fit'))) {
    assert.is(seen[`scalar: ${name}`], seen[`simd: ${name}`], `${name}: scalar ≠ simd`);
  }
  if (print) console.log(JSON.stringify(seen, null, 2));
});

test.run();
