// The shared machinery under every optimizer: the chunking rules of a perturbed request (θ on row
// 0, antithetic pairs whole, at most maxMembers rows a call), step and stepAsync as one
// implementation, the Tikhonov penalty reported once in the diagnostics, the process registry's
// entries, and the option errors (renamed, misspelt) every entry point shares. Seeded throughout.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  loadModule, Workspace, createNlb, createEki, minimize, LeastSquares, type Buf, type Evaluator,
} from '../bindings/internal.js';
import type { PerturbedRequest } from '../bindings/optimizers/types.js';
import { memberCalls, splitAcrossThreads, wholePairs } from '../bindings/optimizers/chunking.js';
import { PROCESSES, PROCESS_KINDS } from '../bindings/optimizers/registry.js';
import { nearestName } from '../bindings/optimizers/options.js';
import { linearModel, matVec, mulberry32, randomMatrix } from './optim-oracle.js';

const mod = await loadModule();

test('memberCalls: every member once and in order, θ first, pairs whole, at most maxRows rows a call', () => {
  const rand = mulberry32(3);
  for (let trial = 0; trial < 400; trial++) {
    const antithetic = rand() < 0.5;
    const member0 = antithetic ? 2 * Math.floor(rand() * 10) : Math.floor(rand() * 20);
    const count = antithetic ? 2 * (1 + Math.floor(rand() * 12)) : 1 + Math.floor(rand() * 24);
    const center = rand() < 0.5;
    const maxRows = rand() < 0.1 ? Infinity : (antithetic ? 2 : 1) + Math.floor(rand() * 9);
    const req: PerturbedRequest<null> = { theta: null, sigma: 0.5, seed: 1, draw: 7, member0, count, antithetic, center };
    const what = `member0 ${member0} count ${count} anti ${antithetic} center ${center} maxRows ${maxRows}`;
    let next = member0;
    let row = 0;
    const calls = [...memberCalls(req, maxRows)];
    calls.forEach(({ request: r, row: at }, c) => {
      const rows = r.count + (r.center ? 1 : 0);
      assert.is(at, row, `${what}: call ${c} starts where the last ended`);
      assert.is(r.member0, next, `${what}: call ${c} continues the members`);
      assert.ok(rows >= 1 && rows <= maxRows, `${what}: call ${c} has ${rows} rows`);
      assert.is(r.center, center && c === 0, `${what}: θ only in the first call`);
      if (antithetic && r.count > 0) assert.ok(r.member0 % 2 === 0 && r.count % 2 === 0, `${what}: call ${c} splits a pair`);
      assert.equal([r.draw, r.sigma, r.seed, r.antithetic], [7, 0.5, 1, antithetic]);
      next += r.count;
      row += rows;
    });
    assert.is(next, member0 + count, what);
    assert.is(row, count + (center ? 1 : 0), what);
    // θ goes alone only when no member fits beside it.
    const alone = calls[0].request.count === 0;
    assert.is(alone, center && wholePairs(wholePairs(maxRows, antithetic) - 1, antithetic) < (antithetic ? 2 : 1), `${what}: θ alone`);
    if (maxRows === Infinity) assert.is(calls.length, 1, what);
    // The thread split covers the same members, θ on thread 0 only.
    const parts = splitAcrossThreads(req, 1 + Math.floor(rand() * 4));
    assert.is(parts.reduce((s, p) => s + p.count, 0), count);
    assert.ok(parts.every((p, t) => p.center === (center && t === 0)));
  }
});

// A linear model F(θ) = Aθ whose evaluate optionally answers through a promise.
function asyncLinear(A: Float64Array, m: number, n: number): Evaluator {
  const sync = linearModel(A, m, n);
  return { n, m, evaluate: (rows: Buf<'f64'>, count: number, out: Buf<'f64'>) => Promise.resolve().then(() => sync.evaluate(rows, count, out)) };
}

test('step and stepAsync are one implementation: same diagnostics, and step refuses a promise', async () => {
  const m = 14;
  const n = 6;
  const A = randomMatrix(m, n, 4);
  const y = Float64Array.from({ length: m }, (_, i) => Math.sin(i));
  const ws = new Workspace(mod);
  try {
    const obj = new LeastSquares(ws, y);
    const a = createNlb(ws, new Float64Array(n), { ensembleSize: 5, seed: 2, lambda: 0.01, maxMembers: 3 });
    const b = createNlb(ws, new Float64Array(n), { ensembleSize: 5, seed: 2, lambda: 0.01, maxMembers: 3 });
    for (let i = 0; i < 8; i++) {
      const da = a.step(linearModel(A, m, n), obj, { newBatch: false });
      const db = await b.stepAsync(asyncLinear(A, m, n), obj, { newBatch: false });
      for (const key of ['loss', 'lossBefore', 'sigma', 'alpha', 'stepNorm', 'penalty', 'evaluations'] as const) {
        assert.ok(Object.is(da[key], db[key]), `iteration ${i} ${key}: ${da[key]} vs ${db[key]}`);
      }
      assert.ok(db.forwardMs > 0 && db.totalMs >= db.forwardMs + db.algebraMs - 1e-9);
    }
    assert.equal(Array.from(a.theta()), Array.from(b.theta()));
    const promising: Evaluator = { n, m, evaluate: () => Promise.resolve() };
    assert.throws(() => a.step(promising, obj), (e: Error) => e instanceof TypeError && /use stepAsync\(\)/.test(e.message));
  } finally {
    ws.dispose();
  }
});

test('the Tikhonov penalty is reported once: d.penalty = (λ/2)‖θ_{t+1}‖², and the final loss adds it to L(θ)', async () => {
  const m = 20;
  const n = 8;
  const A = randomMatrix(m, n, 6);
  const y = Float64Array.from({ length: m }, (_, i) => Math.cos(i));
  const forward = (t: Float64Array, k: number) => {
    const out = new Float64Array(k * m);
    for (let r = 0; r < k; r++) matVec(A, m, n, t, out, r * n, r * m);
    return out;
  };
  const lambda = 0.3;
  const dataLoss = (theta: ArrayLike<number>) => {
    const f = matVec(A, m, n, theta);
    return 0.5 * f.reduce((s, v, i) => s + (v - y[i]) ** 2, 0);
  };
  const penalty = (theta: ArrayLike<number>) => 0.5 * lambda * Array.from(theta).reduce((s, v) => s + v * v, 0);
  // With acceptance off the loss after a step is unknown (NaN): minimize evaluates the final θ once more.
  for (const acceptance of [true, false]) {
    const r = await minimize({ forward, y, theta0: new Float64Array(n).fill(0.5), lambda, acceptance, ensembleSize: 6, seed: 8, maxIterations: 12, module: mod });
    const last = r.history[r.history.length - 1];
    assert.ok(Math.abs(last.penalty - penalty(r.theta)) <= 1e-12 * penalty(r.theta), `penalty ${last.penalty} vs ${penalty(r.theta)}`);
    assert.ok(Math.abs(r.loss - (dataLoss(r.theta) + penalty(r.theta))) < 1e-9, `final loss ${r.loss}`);
    if (acceptance) assert.ok(Math.abs(last.loss - last.penalty - dataLoss(r.theta)) < 1e-9, 'loss − penalty is the data loss');
    assert.is(r.evaluations, r.history.reduce((s, d) => s + d.evaluations, 0) + (acceptance ? 0 : 1));
  }
  const eki = await minimize({ forward, y, theta0: new Float64Array(n), optimizer: 'eki', ensembleSize: 6, seed: 8, maxIterations: 3, module: mod });
  assert.ok(eki.history.every((d) => d.penalty === 0));
});

test('the registry: each process declares consistent keys, defaults and capabilities, and creates its optimizer', () => {
  const ws = new Workspace(mod);
  try {
    assert.equal(PROCESS_KINDS, ['nlb', 'eki']);
    for (const kind of PROCESS_KINDS) {
      const p = PROCESSES[kind];
      assert.is(p.kind, kind);
      for (const key of [...Object.keys(p.defaults), ...Object.keys(p.networkDefaults)]) {
        assert.ok(p.optionKeys.includes(key), `${kind}: default ${key} is an option`);
      }
      const opt = p.create(ws, new Float64Array(5), { seed: 3 });
      assert.is(opt.kind, kind);
      assert.is(typeof opt.setTheta === 'function', p.thetaIsIterate, `${kind}: setTheta iff θ is the whole iterate`);
      opt.dispose();
    }
  } finally {
    ws.dispose();
  }
});

test('renamed and misspelt options name the right one in every entry point', async () => {
  const ws = new Workspace(mod);
  try {
    const renamed = /'memberBatch' for the (nlb|eki) optimizer was renamed to 'maxMembers'; pass maxMembers instead/;
    assert.throws(() => createNlb(ws, [0, 0], { memberBatch: 2 } as never), (e: Error) => e instanceof TypeError && renamed.test(e.message));
    assert.throws(() => createEki(ws, [0, 0], { memberBatch: 2 } as never), (e: Error) => e instanceof TypeError && renamed.test(e.message));
  } finally {
    ws.dispose();
  }
  const base = { y: [1, 2], theta0: [0, 0], forward: (t: Float64Array) => t, module: mod };
  for (const [bad, pattern] of [
    [{ memberBatch: 2 }, /'memberBatch' for minimize\(\) was renamed to 'maxMembers'/],
    [{ tolerence: 1e-3 }, /Unknown option 'tolerence' for minimize\(\)\. Did you mean 'tolerance'\?/],
    [{ maxIteration: 3 }, /Did you mean 'maxIterations'\?/],
    [{ zzz: 1 }, /Unknown option 'zzz' for minimize\(\)\. Known options: y, theta0/],
  ] as const) {
    try {
      await minimize({ ...base, ...bad } as never);
      assert.unreachable(`${Object.keys(bad)} accepted`);
    } catch (e) {
      assert.instance(e, TypeError);
      assert.match((e as Error).message, pattern);
    }
  }
  assert.is(nearestName('sigmashrink', ['sigma', 'sigmaShrink']), 'sigmaShrink');
  assert.is(nearestName('ab', ['abc', 'xyz']), undefined, 'short keys are not guessed');
});

test.run();
