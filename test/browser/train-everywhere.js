// A seeded workload that the browser test runs in the page and in Node on the same package:
// linear least squares by NLB through minimize(), and a small MLP through fit().
// Data come from an integer LCG, not Math.sin/cos: those differ in the last bit between JS engines.
export async function trainEverywhere(enkf) {
  let state = 12345;
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const n = 12, m = 30;
  const A = Float64Array.from({ length: m * n }, uniform);
  const y = Float64Array.from({ length: m }, uniform);
  const forward = (thetas, k) => {
    const out = new Float64Array(k * m);
    for (let r = 0; r < k; r++) for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += A[i * n + j] * thetas[r * n + j];
      out[r * m + i] = s;
    }
    return out;
  };
  const ls = await enkf.minimize({ forward, y, theta0: new Float64Array(n), ensembleSize: 6, seed: 3, maxIterations: 15 });
  const rows = 64, d = 16;
  const x = Float32Array.from({ length: rows * d }, uniform);
  const labels = Int32Array.from({ length: rows }, (_, i) => (x[d * i] + x[d * i + 1] > 0 ? 1 : 0));
  const model = enkf.mlp([d, 48, 2], { activation: 'tanh', seed: 5, module: await enkf.loadModule() });
  await enkf.fit(model, { data: x, shape: [rows, d] }, labels, { batchSize: 32, iterations: 12, nlb: { ensembleSize: 8 } });
  return { theta: Array.from(ls.theta), params: Array.from(model.params) };
}
