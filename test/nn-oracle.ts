// Plain-TypeScript references for the network tests: a seeded PRNG and a per-member MLP forward
// written straight from the layout documented in bindings/nn/mlp.ts (f64 arithmetic).

import { mulberry32 } from './oracles.js';

export { mulberry32 };

export function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const ACT: Record<string, (v: number) => number> = {
  tanh: Math.tanh,
  relu: (v) => (v > 0 ? v : 0),
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
};

/** Logits (rows × d_L) of one member with parameters p in the documented layout. */
export function referenceForward(layers: readonly number[], activation: string, p: ArrayLike<number>, x: ArrayLike<number>, rows: number): Float64Array {
  let input = Float64Array.from(x);
  let at = 0;
  for (let l = 0; l + 1 < layers.length; l++) {
    const din = layers[l];
    const dout = layers[l + 1];
    const out = new Float64Array(rows * dout);
    const last = l + 2 === layers.length;
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < dout; j++) {
        let s = p[at + din * dout + j];
        for (let i = 0; i < din; i++) s += input[r * din + i] * p[at + i * dout + j];
        out[r * dout + j] = last ? s : ACT[activation](s);
      }
    }
    at += din * dout + dout;
    input = out;
  }
  return input;
}

/** Four Gaussian blobs in 8-D with centres ≥ 3 apart and noise 0.35: separable with a wide margin
 *  (the fit suites' synthetic classification set). */
export function blobs(rows: number, seed: number) {
  const rand = mulberry32(seed);
  const centres = [
    [3, 0, 0, 0, 1, 0, 0, 0], [0, 3, 0, 0, 0, -1, 0, 0], [0, 0, 3, 0, 0, 0, 1, 0], [0, 0, 0, 3, 0, 0, 0, -1],
  ];
  const x = new Float32Array(rows * 8);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = Math.floor(rand() * 4);
    y[r] = c;
    for (let j = 0; j < 8; j++) x[r * 8 + j] = centres[c][j] + 0.35 * gaussian(rand);
  }
  return { x: { data: x, shape: [rows, 8] as [number, number] }, y };
}
