// The header schema (bindings/nn/header-schema.ts) against what fit() really saves: for every
// optimizer and training option that adds state, a file written after 5 iterations passes the
// schema and, resumed for 2 more, lands on the same θ bit for bit as 7 uninterrupted iterations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule } from '../bindings/wasm.js';
import { mlp } from '../bindings/nn/mlp.js';
import { fit, type FitOptions } from '../bindings/nn/fit.js';
import { decodeModel, encodeModel } from '../bindings/nn/serialize.js';
import { gaussian, mulberry32 } from './nn-oracle.js';

const module = await loadModule();

// Two noisy classes in 3-D, seeded.
function twoClasses(rows: number, seed: number) {
  const rand = mulberry32(seed);
  const x = new Float32Array(rows * 3);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    y[r] = r % 2;
    for (let j = 0; j < 3; j++) x[r * 3 + j] = (y[r] ? 1 : -1) * (j + 1) * 0.5 + gaussian(rand);
  }
  return { x: { data: x, shape: [rows, 3] as [number, number] }, y };
}

const { x, y } = twoClasses(60, 5);
const CASES: [string, FitOptions][] = [
  ['nlb', { nlb: { ensembleSize: 4 } }],
  ['eki', { optimizer: 'eki', eki: { ensembleSize: 4 } }],
  ['eki, default ensemble', { optimizer: 'eki' }],
  ['nlb + averaging', { nlb: { ensembleSize: 4 }, averaging: { decay: 0.5 } }],
  ['nlb + exactLastLayer', { nlb: { ensembleSize: 4 }, exactLastLayer: { every: 2 } }],
  ['nlb + early stopping', { nlb: { ensembleSize: 4 }, validationData: [x, y], earlyStopping: { patience: 50, restoreBest: true } }],
];

for (const [name, options] of CASES) {
  test(`${name}: the saved training state passes the schema and resumes bit-identically`, async () => {
    const base = { batchSize: 10, seed: 2, ...options };
    const whole = mlp([3, 4, 2], { seed: 1, module });
    await fit(whole, x, y, { ...base, iterations: 7 });
    const part = mlp([3, 4, 2], { seed: 1, module });
    await fit(part, x, y, { ...base, iterations: 5 });
    const back = decodeModel(encodeModel(part), { module });
    assert.is((back.trainingState as { iteration: number }).iteration, 5);
    await fit(back, x, y, { ...base, iterations: 7, resume: true });
    assert.ok(back.params.every((v, i) => Object.is(v, whole.params[i])), 'θ after resume equals θ of the uninterrupted run');
  });
}

test.run();
