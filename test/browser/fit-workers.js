// A seeded fit that the worker tests run in Node and in a page on the same package: a 16-24-3 tanh
// MLP on LCG data (integer arithmetic only, so both engines make the same bits), NLB with k = 12.
export function workload() {
  let state = 777;
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const rows = 96, d = 16;
  const data = Float32Array.from({ length: rows * d }, uniform);
  const labels = Int32Array.from({ length: rows }, (_, i) => (data[d * i] > 0.3 ? 2 : data[d * i + 1] > 0 ? 1 : 0));
  return { x: { data, shape: [rows, d] }, labels, d };
}

/** fit with `workers` (and extra options); returns θ and the losses as plain arrays. */
export async function fitWith(enkf, workers, extra = {}) {
  const { x, labels, d } = workload();
  const model = enkf.mlp([d, 24, 3], { activation: 'tanh', seed: 11, module: await enkf.loadModule() });
  const h = await enkf.fit(model, x, labels, { batchSize: 32, iterations: 10, seed: 4, nlb: { ensembleSize: 12 }, workers, ...extra });
  return { params: Array.from(model.params), losses: h.iterations.map((it) => it.loss), stopReason: h.stopReason };
}
