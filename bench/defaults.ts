// Evidence for the defaults of minimize()/NLB: one option varied at a time around the defaults,
// on the test problems (linear least squares, Rosenbrock residuals, the oscillatory Φ), measured in
// forward evaluations (rows passed to the model) until a target is reached. Five seeds each;
// medians and success rates. Summarised in docs/defaults.md.
//
// Run: node --import tsx bench/defaults.ts [--smoke]   → bench/results/defaults.json (smoke: bench/lib/smoke.ts)
import {
  loadModule, Workspace, createNlb, createEki, LeastSquares, NLB_DEFAULTS, EKI_DEFAULTS, defaultEnsembleSize, type NlbOptions,
  type EkiOptions,
} from '../bindings/internal.js';
import {
  RowEvaluator, gaussian, leastSquares, linearModel, norm, oscillatoryResiduals, randomMatrix, relativeError,
  rosenbrockResiduals,
} from '../test/optim-oracle.js';
import { SMOKE, writeResult } from './lib/smoke.js';

const mod = await loadModule();
// Smoke: one seed, the first two values of two options, the linear problem (bench/lib/smoke.ts).
const SEEDS = SMOKE ? [1] : [1, 2, 3, 4, 5];
const BUDGET = 20000;

interface Problem {
  name: string;
  n: number;
  make(ws: Workspace): { ev: RowEvaluator; obj: LeastSquares; theta0: Float64Array; done(theta: Float64Array, loss: number): boolean };
}

const linear: Problem = {
  name: 'linear LS 60×40 (relative error < 1e-6)',
  n: 40,
  make(ws) {
    const m = 60;
    const n = 40;
    const A = randomMatrix(m, n, 5);
    const g = gaussian(6);
    const y = Float64Array.from({ length: m }, () => g());
    const star = leastSquares(A, m, n, y);
    return { ev: linearModel(A, m, n), obj: new LeastSquares(ws, y), theta0: new Float64Array(n), done: (t) => relativeError(t, star) < 1e-6 };
  },
};

const rosenbrock: Problem = {
  name: 'Rosenbrock n = 10 (Φ < 1e-8)',
  n: 10,
  make(ws) {
    const n = 10;
    const m = 2 * (n - 1);
    const theta0 = Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? -1.2 : 1));
    return { ev: new RowEvaluator(n, m, rosenbrockResiduals), obj: new LeastSquares(ws, new Float64Array(m)), theta0, done: (_t, loss) => loss < 1e-8 };
  },
};

const oscillatory: Problem = {
  name: 'oscillatory 10-D, a = 1, ω = 2.3, x₀ = 3·𝟙 (global basin ‖x‖ < 0.5/ω and Φ < 1e-8)',
  n: 10,
  make(ws) {
    const n = 10;
    return {
      ev: new RowEvaluator(n, 2 * n, oscillatoryResiduals(1, 2.3)),
      obj: new LeastSquares(ws, new Float64Array(2 * n)),
      theta0: new Float64Array(n).fill(3),
      done: (t, loss) => norm(t) < 0.5 / 2.3 && loss < 1e-8,
    };
  },
};

// Forward evaluations to reach the problem's target (Infinity if the budget or the σ floor ran out).
function cost(problem: Problem, options: NlbOptions, seed: number): number {
  const ws = new Workspace(mod);
  try {
    const p = problem.make(ws);
    const nlb = createNlb(ws, p.theta0, { ...options, seed });
    for (;;) {
      const d = nlb.step(p.ev, p.obj, { newBatch: false });
      if (p.done(nlb.theta(), d.loss)) return p.ev.rowsEvaluated;
      if (p.ev.rowsEvaluated > BUDGET || nlb.schedules.some((s) => s.stopReason())) return Infinity;
    }
  } catch {
    return Infinity;
  } finally {
    ws.dispose();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
};

// One option varied at a time around the defaults; ensembleSize also relative to n.
const variations: { option: string; values: (number | string | boolean)[] }[] = [
  { option: 'ensembleSize', values: ['n/4', 'n/2', 'n', '2n', 16, 32] },
  { option: 'sigma', values: [1e-3, 1e-2, 0.1, 1] },
  { option: 'sigmaSchedule', values: ['constant', 'decay', 'implicit-filtering'] },
  { option: 'sigmaMin', values: [1e-10, 1e-8, 1e-6] },
  { option: 'alpha', values: [0, 1e-9, 1e-6, 1e-4, 1e-3, 1e-1] },
  { option: 'alphaDown', values: [0.1, 0.3, 1] },
  { option: 'alphaUp', values: [3, 10, 100] },
  { option: 'maxRetries', values: [1, 2, 4, 8] },
  { option: 'dampingControl', values: ['factors', 'gain-ratio'] },
  { option: 'antithetic', values: [false, true] },
];
// Options that only make sense together with another one.
const companions: Record<string, NlbOptions> = { sigmaMin: { sigmaSchedule: 'decay' } };
const VARIED = SMOKE ? variations.slice(0, 2).map((v) => ({ ...v, values: v.values.slice(0, 2) })) : variations;
const PROBLEMS = SMOKE ? [linear] : [linear, rosenbrock, oscillatory];

const started = performance.now();
const results = [];
for (const problem of PROBLEMS) {
  for (const v of VARIED) {
    for (const value of v.values) {
      let resolved = value;
      if (v.option === 'ensembleSize' && typeof value === 'string') {
        const f = value === 'n' ? 1 : value === '2n' ? 2 : value === 'n/2' ? 0.5 : 0.25;
        resolved = Math.max(2, Math.round(problem.n * f));
      }
      const options: NlbOptions = { ...companions[v.option], [v.option]: resolved };
      // antithetic pairs need an even k; keep the default k's rounding up to even
      if (v.option === 'antithetic' && value === true) options.ensembleSize = 2 * Math.ceil(defaultEnsembleSize(problem.n) / 2);
      const costs = SEEDS.map((s) => cost(problem, options, s));
      const ok = costs.filter(Number.isFinite);
      const row = {
        problem: problem.name, option: v.option, value, resolved, with: companions[v.option] ?? null,
        successRate: ok.length / SEEDS.length, medianEvaluations: ok.length ? median(ok) : null,
        evaluations: costs.map((c) => (Number.isFinite(c) ? c : null)),
      };
      results.push(row);
      console.log(`${problem.name.split(' (')[0]} | ${v.option} = ${value}${resolved !== value ? ` (${resolved})` : ''}` +
        `${companions[v.option] ? ` with ${JSON.stringify(companions[v.option])}` : ''}: ` +
        `success ${ok.length}/${SEEDS.length}, median evaluations ${row.medianEvaluations ?? '—'}`);
    }
  }
}
// EKI: Φ(θ̄) after a budget of 2 000 evaluations, by step h (fixed / adaptive) and spread, J = 2n capped at 32.
const ekiResults = [];
for (const problem of SMOKE ? [linear] : [linear, rosenbrock]) {
  const J = Math.min(2 * problem.n, 32);
  const settings: EkiOptions[] = [];
  for (const step of [0.1, 1, 10]) for (const adaptiveStep of [false, true]) settings.push({ step, adaptiveStep });
  for (const spread of [0.1, 1]) settings.push({ spread });
  for (const o of SMOKE ? settings.slice(0, 1) : settings) {
    const losses = SEEDS.map((seed) => {
      const ws = new Workspace(mod);
      try {
        const p = problem.make(ws);
        const eki = createEki(ws, p.theta0, { ensembleSize: J, seed, ...o });
        let loss = NaN;
        while (p.ev.rowsEvaluated < 2000) loss = eki.step(p.ev, p.obj).loss;
        return loss;
      } catch {
        return NaN;
      } finally {
        ws.dispose();
      }
    });
    const row = { problem: problem.name, ensembleSize: J, options: o, medianLoss: median(losses.filter(Number.isFinite)), losses };
    ekiResults.push(row);
    console.log(`EKI ${problem.name.split(' (')[0]} J = ${J} ${JSON.stringify(o)}: median Φ(θ̄) ${row.medianLoss.toExponential(3)}`);
  }
}

const out = {
  benchmark: 'NLB defaults: forward evaluations to target, one option varied at a time (5 seeds)',
  defaults: { ...NLB_DEFAULTS, ensembleSize: 'min(2n, 32)' },
  budget: BUDGET,
  runSeconds: (performance.now() - started) / 1000,
  smoke: SMOKE,
  results,
  eki: { budget: 2000, defaults: EKI_DEFAULTS, results: ekiResults },
};
console.log(`done in ${out.runSeconds.toFixed(0)} s → ${writeResult('defaults', out)}`);
