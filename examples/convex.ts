// The paper's first demonstration: a convex (linear least-squares) problem, A ∈ R^{300×200}.
// NLB draws a fresh ensemble every iteration and converges to θ* even with k = 10 ≪ n (slowly: each
// step sees a 10-dimensional subspace); classical EKI with J < n stays in θ̄₀ + span(ΔΘ₀) and stalls.
//
// Run: node --import tsx examples/convex.ts [--out dir]   (writes <dir>/convex.svg, default out/)
import { join } from 'node:path';
import { loadModule, minimize, type IterationDiagnostics } from '../bindings/index.js';
import { writeChart, type Series } from './svg-plot.js';

const outDir = process.argv.includes('--out') ? process.argv[process.argv.indexOf('--out') + 1] : 'out';
const m = 300;
const n = 200;

// Seeded N(0, 1) (mulberry32 + Box–Muller), so every run prints the same table.
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(Math.max(uniform(), 1e-300))) * Math.cos(2 * Math.PI * uniform());
}

const g = gaussian(2018);
const A = Float64Array.from({ length: m * n }, () => g() / Math.sqrt(m));
const y = Float64Array.from({ length: m }, () => g());

// F(θ) = Aθ for k parameter vectors at once (k × n → k × m).
function forward(thetas: Float64Array, k: number): Float64Array {
  const out = new Float64Array(k * m);
  for (let r = 0; r < k; r++) {
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += A[i * n + j] * thetas[r * n + j];
      out[r * m + i] = s;
    }
  }
  return out;
}

const module = await loadModule();
const theta0 = new Float64Array(n);

// Reference θ*: with k = n members and α = 0 an NLB step is the exact Gauss–Newton step (test/nlb.test.ts).
const reference = await minimize({ forward, y, theta0, module, ensembleSize: n, alpha: 0, alphaMin: 0, maxIterations: 3 });
const phiStar = reference.loss;
const thetaStar = reference.theta;

interface Run {
  label: string;
  color: string;
  dashed?: boolean;
  options: Record<string, unknown>;
}
const runs: Run[] = [
  { label: 'NLB k = 10', color: '#1f77b4', options: { optimizer: 'nlb', ensembleSize: 10 } },
  { label: 'NLB k = 32', color: '#2ca02c', options: { optimizer: 'nlb', ensembleSize: 32 } },
  { label: 'EKI J = 10', color: '#d62728', dashed: true, options: { optimizer: 'eki', ensembleSize: 10 } },
  { label: 'EKI J = 32', color: '#ff7f0e', dashed: true, options: { optimizer: 'eki', ensembleSize: 32 } },
];

const iterations = 1000;
const series: Series[] = [];
const rows: string[][] = [];
for (const run of runs) {
  const history: IterationDiagnostics[] = [];
  const t0 = performance.now();
  const res = await minimize({
    forward, y, theta0, module, seed: 7, maxIterations: iterations, patience: Infinity, ...run.options,
    onIteration: (d) => { history.push(d); },
  });
  const ms = performance.now() - t0;
  let err = 0;
  let ref = 0;
  for (let j = 0; j < n; j++) {
    err += (res.theta[j] - thetaStar[j]) ** 2;
    ref += thetaStar[j] ** 2;
  }
  series.push({
    label: run.label, color: run.color, dashed: run.dashed,
    x: history.map((d) => d.iteration + 1), y: history.map((d) => (d.loss - phiStar) / phiStar),
  });
  rows.push([run.label, String(res.history.length), String(res.evaluations), ((res.loss - phiStar) / phiStar).toExponential(2),
    Math.sqrt(err / ref).toExponential(2), (ms / 1000).toFixed(1)]);
}

const header = ['method', 'iterations', 'evaluations', '(Φ − Φ*)/Φ*', '‖θ − θ*‖/‖θ*‖', 'seconds'];
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ');
console.log(`Linear least squares, A ∈ R^${m}×${n} (Gaussian), Φ* = ${phiStar.toFixed(6)}`);
console.log(line(header));
for (const r of rows) console.log(line(r));
const file = join(outDir, 'convex.svg');
writeChart(file, series, {
  title: `Linear least squares ${m}×${n}: NLB vs EKI`, xLabel: 'iteration', yLabel: 'relative excess loss (Φ − Φ*)/Φ*',
  logY: true, width: 760, height: 440,
});
console.log(`wrote ${file}`);
