// Reliability regressions (each failed before its fix): a disposed object refuses every call before
// touching memory (another problem on the same module keeps its bits), timer-driven aborts stop
// minimize and fit, an abort ends a run whose evaluation or callback never settles, errors of the
// caller's forward / onIteration carry the last good θ, a checkpoint saved from a callback during
// fit resumes bit-identically, and bad entry arguments get clear typed errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadModule, Workspace, bytesInUse, createNlb, createEki, LeastSquares, CrossEntropy, LastLayerSolver, minimize, createAskTell,
  MinimizeError, mlp, fit, saveModel, loadModel, type EnkfModule, type Evaluator, type ForwardFunction, type Optimizer,
  type MLP, type FitOptions, type Buf,
} from '../bindings/internal.js';
import { mulberry32, gaussArray } from './oracles.js';
import { linearModel, matVec, randomMatrix } from './optim-oracle.js';

const bits = (a: Float64Array) => Array.from(new BigUint64Array(a.slice().buffer), (b) => b.toString(16));

// F(θ) = Aθ, m × n, as a forward function and an Evaluator.
const n = 6;
const m = 24;
const A = randomMatrix(m, n, 7);
const y = Float64Array.from(gaussArray(mulberry32(8), m));
const forward: ForwardFunction = (thetas, k) => {
  const out = new Float64Array(k * m);
  for (let r = 0; r < k; r++) matVec(A, m, n, thetas, out, r * n, r * m);
  return out;
};
const problem = (module: EnkfModule, seed = 1) => ({ y, theta0: new Float64Array(n).fill(seed / 10), ensembleSize: 8, seed, maxIterations: 100, module });

// A small classification set: 200 rows × 8 features, 4 classes.
const rows = 200;
const rand = mulberry32(5);
const X = Float32Array.from({ length: rows * 8 }, () => rand() * 2 - 1);
const Y = Int32Array.from({ length: rows }, (_, r) => (X[8 * r] > 0 ? 2 : 0) + (X[8 * r + 1] > 0 ? 1 : 0));
const data = { data: X, shape: [rows, 8] as [number, number] };

// Busy-waits `ms` (a forward model that computes for a while without yielding).
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* compute */ }
}

// Asserts that `fn` throws (or rejects with) an error of `kind` matching `re`.
async function throwsMatching(what: string, fn: () => unknown, kind: new (...a: never[]) => Error, re: RegExp): Promise<void> {
  try {
    await fn();
  } catch (e) {
    assert.instance(e, kind, `${what}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
    assert.match((e as Error).message, re, what);
    assert.not.match((e as Error).message, /Cannot read properties|is not a function|undefined \(reading/, `${what}: a raw TypeError`);
    return;
  }
  assert.unreachable(`${what}: expected a ${kind.name}`);
}

/** Rounds of ask/tell against the forward model. */
function rounds(opt: Awaited<ReturnType<typeof createAskTell>>, iterations: number): void {
  const target = opt.history.length + iterations;
  while (opt.history.length < target) {
    const ask = opt.ask();
    opt.tell(forward(ask, ask.length / n));
  }
}

test('ask/tell: a disposed one throws "this ask/tell was disposed" before touching memory; the live one keeps its bits', async () => {
  for (const optimizer of ['nlb', 'eki'] as const) {
    const module = await loadModule();
    const a = await createAskTell({ ...problem(module, 1), optimizer });
    rounds(a, 3);
    a.ask(); // a request pending, rows generated into its buffers
    a.dispose();
    const b = await createAskTell({ ...problem(module, 2), optimizer });
    rounds(b, 2);
    const pendingRows = b.ask();
    const before = bits(b.theta());
    for (const [what, call] of [
      ['ask', () => a.ask()], ['tell', () => a.tell(new Float64Array(m))], ['pending', () => a.pending], ['theta', () => a.theta()],
      ['optimizer', () => a.optimizer],
    ] as const) {
      await throwsMatching(`${optimizer} ${what}`, call, Error, /this ask\/tell was disposed/);
    }
    a.dispose(); // a second dispose is a no-op
    assert.equal(bits(b.theta()), before, `${optimizer}: the live problem's θ is unchanged bit for bit`);
    // and it continues exactly as the same problem alone on a module of its own
    b.tell(forward(pendingRows, pendingRows.length / n));
    rounds(b, 2);
    const alone = await createAskTell({ ...problem(await loadModule(), 2), optimizer });
    rounds(alone, b.history.length);
    assert.equal(bits(b.theta()), bits(alone.theta()), `${optimizer}: iterates as if alone`);
    b.dispose();
    alone.dispose();
    assert.is(bytesInUse(module), 0);
  }
});

// Every public method of an optimizer, called with live arguments (objective, evaluator on another workspace).
function optimizerCalls(opt: Optimizer, objective: LeastSquares, ev: Evaluator, theta: Buf<'f64'>): [string, () => unknown][] {
  const calls: [string, () => unknown][] = [
    ['step', () => opt.step(ev, objective)], ['stepAsync', () => opt.stepAsync(ev, objective)],
    ['iterate', () => opt.iterate(objective).next()], ['theta', () => opt.theta()], ['thetaBuf', () => opt.thetaBuf()],
    ['saveState', () => opt.saveState()],
    ['materialize', () => (opt as unknown as { materialize(r: unknown, d: Float64Array): void }).materialize(
      { kind: 'perturbed', theta, sigma: 1, seed: 1, draw: 0, member0: 0, count: 2, antithetic: false, center: false },
      new Float64Array(2 * n))],
  ];
  if (opt.setTheta) calls.push(['setTheta', () => opt.setTheta!(new Float64Array(n))]);
  if (opt.kind === 'eki') {
    const eki = opt as ReturnType<typeof createEki>;
    calls.push(['ensemble', () => eki.ensemble()], ['spread', () => eki.spread()]);
  }
  return calls;
}

test('optimizers: after dispose, or after their Workspace\'s, every method throws before touching memory', async () => {
  const makers = { nlb: createNlb, eki: createEki } as const;
  for (const kind of ['nlb', 'eki'] as const) {
    for (const how of ['optimizer', 'workspace'] as const) {
      const module = await loadModule();
      const ws1 = new Workspace(module);
      const a = makers[kind](ws1, new Float64Array(n).fill(0.3), { ensembleSize: 8, seed: 1 });
      const objA = new LeastSquares(ws1, y);
      const ev = linearModel(A, m, n);
      for (let t = 0; t < 3; t++) a.step(ev, objA);
      const stateA = a.saveState();
      if (how === 'optimizer') a.dispose();
      else ws1.dispose();
      // a live problem on the same module, in the memory just given back
      const ws2 = new Workspace(module);
      const objB = new LeastSquares(ws2, y);
      const b = makers[kind](ws2, new Float64Array(n).fill(-0.2), { ensembleSize: 8, seed: 2 });
      b.step(ev, objB);
      const before = bits(b.theta());
      const re = how === 'optimizer' ? new RegExp(`This ${kind} optimizer was disposed`) : /lives in a Workspace that was disposed/;
      for (const [what, call] of optimizerCalls(a, objB, ev, ws2.f64(n))) await throwsMatching(`${kind}/${how}: ${what}`, call, Error, re);
      await throwsMatching(`${kind}/${how}: loadState`, () => a.loadState(stateA), Error, re);
      a.dispose(); // idempotent, also after the workspace's
      assert.equal(bits(b.theta()), before, `${kind}/${how}: the live problem's θ is unchanged`);
      ws2.dispose();
      if (how === 'optimizer') ws1.dispose();
      assert.is(bytesInUse(module), 0);
    }
  }
});

test('an evaluation pending when its optimizer is disposed never resumes into freed memory', async () => {
  for (const kind of ['nlb', 'eki'] as const) {
    const module = await loadModule();
    const ws = new Workspace(module);
    const make = kind === 'nlb' ? createNlb : createEki;
    const a = make(ws, new Float64Array(n).fill(0.3), { ensembleSize: 8, seed: 1 });
    const objective = new LeastSquares(ws, y);
    const sync = linearModel(A, m, n);
    let release: () => void = () => undefined;
    const slow: Evaluator = {
      n, m,
      evaluate(r: Buf<'f64'>, count: number, out: Buf<'f64'>) {
        return new Promise<void>((resolve) => {
          release = () => {
            try {
              sync.evaluate(r, count, out);
            } catch { /* the buffers may be gone: the optimizer must notice before using them */ }
            resolve();
          };
        });
      },
    };
    const pending = a.stepAsync(slow, objective);
    a.dispose();
    const b = make(ws, new Float64Array(n).fill(-0.2), { ensembleSize: 8, seed: 2 });
    b.step(sync, objective);
    const before = bits(b.theta());
    const stateB = JSON.stringify(b.saveState(), (_k, v) => (v instanceof Float64Array ? bits(v) : v));
    release();
    await throwsMatching(`${kind}: the resumed step`, () => pending, Error, new RegExp(`This ${kind} optimizer was disposed`));
    assert.equal(bits(b.theta()), before, `${kind}: the live optimizer's θ is unchanged`);
    assert.is(JSON.stringify(b.saveState(), (_k, v) => (v instanceof Float64Array ? bits(v) : v)), stateB);
    ws.dispose();
  }
});

test('objectives and the last-layer solver: every method after dispose throws before touching memory', async () => {
  const module = await loadModule();
  const ws = new Workspace(module);
  const out = ws.f64(4).set([7, 7, 7, 7]);
  const F = ws.f64(2 * m).set(new Float64Array(2 * m).fill(1));
  const ls = new LeastSquares(ws, y, 2);
  const ce = new CrossEntropy(ws, 3, Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1]));
  ls.dispose();
  ce.dispose();
  const lsCalls: [string, () => unknown][] = [
    ['losses', () => ls.losses(2, F.ptr, out.ptr)], ['system', () => ls.system(2, F.ptr, F.ptr, out.ptr, out.ptr)],
    ['innerGradients', () => ls.innerGradients(2, F.ptr, F.ptr, 0, out.ptr, out.ptr)], ['setTarget', () => ls.setTarget(y)],
    ['setNoiseCovariance', () => ls.setNoiseCovariance(3)], ['noiseStd', () => ls.noiseStd(0)],
  ];
  const ceCalls: [string, () => unknown][] = [
    ['losses', () => ce.losses(2, F.ptr, out.ptr)], ['system', () => ce.system(2, F.ptr, F.ptr, out.ptr, out.ptr)],
    ['lossesAndHits', () => ce.lossesAndHits(2, F.ptr, out.ptr, out.ptr)],
    ['innerGradients', () => ce.innerGradients(2, F.ptr, F.ptr, 0, out.ptr, out.ptr)], ['setLabels', () => ce.setLabels(new Int32Array(8))],
  ];
  for (const [what, call] of lsCalls) await throwsMatching(`LeastSquares.${what}`, call, Error, /This LeastSquares objective was disposed/);
  for (const [what, call] of ceCalls) await throwsMatching(`CrossEntropy.${what}`, call, Error, /This CrossEntropy objective was disposed/);
  assert.equal(Array.from(out.view()), [7, 7, 7, 7], 'nothing was written');
  ls.dispose();
  ce.dispose();
  const solver = new LastLayerSolver(module, [8, 5, 4], 'tanh', X, Y);
  const theta = mlp([8, 5, 4], { seed: 1 }).params;
  assert.is(solver.solve(theta, { iterations: 2 }).length, theta.length);
  solver.dispose();
  solver.dispose();
  await throwsMatching('LastLayerSolver.solve', () => solver.solve(theta), Error, /This LastLayerSolver was disposed/);
  ws.dispose();
  assert.is(bytesInUse(module), 0);
});

test('AbortSignal.timeout stops minimize with a synchronous and with an asynchronous forward', async () => {
  const module = await loadModule();
  for (const mode of ['sync', 'async'] as const) {
    const t0 = performance.now();
    // ~2 ms per call; gives up (a failure) rather than run on if the timer never fires
    const slow = (thetas: Float64Array, k: number) => {
      if (performance.now() - t0 > 8000) throw new Error('the abort never came');
      busy(2);
      return forward(thetas, k);
    };
    const f: ForwardFunction = mode === 'sync' ? slow : async (t, k) => slow(t, k);
    const r = await minimize({ ...problem(module), forward: f, maxIterations: 1_000_000, patience: Infinity, sigmaSchedule: 'constant', signal: AbortSignal.timeout(300) });
    const elapsed = performance.now() - t0;
    assert.is(r.reason, 'aborted', mode);
    assert.ok(elapsed < 3000, `${mode}: stopped after ${elapsed.toFixed(0)} ms`);
    assert.ok(r.history.length >= 1 && r.history.length < 1000, `${mode}: ${r.history.length} iterations`);
    assert.is(bytesInUse(module), 0, `${mode}: memory given back`);
  }
});

test('AbortSignal.timeout stops fit with workers: 0 and the default yieldEvery', async () => {
  const module = await loadModule();
  const model = mlp([8, 12, 4], { seed: 3, module });
  const t0 = performance.now();
  // ~0.1 ms per iteration: without a yield this budget takes seconds and ends as 'maxIterations'
  const h = await fit(model, data, Y, { batchSize: 50, iterations: 40_000, nlb: { ensembleSize: 8 }, signal: AbortSignal.timeout(300) });
  const elapsed = performance.now() - t0;
  assert.is(h.stopReason, 'aborted');
  assert.ok(elapsed < 3000, `stopped after ${elapsed.toFixed(0)} ms`);
  assert.ok(h.iterations.length >= 1 && h.iterations.length < 40_000);
  assert.is((model.trainingState as { iteration: number }).iteration, h.iterations.length);
  assert.is(bytesInUse(module), 0);
});

// `work`, or 'hung' if it has not settled after `ms`.
function guard<T>(work: Promise<T>, ms = 5000): Promise<T | 'hung'> {
  let timer: ReturnType<typeof setTimeout>;
  const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), ms); });
  return Promise.race([work, hung]).finally(() => clearTimeout(timer));
}

test('minimize: a forward that never settles ends with reason aborted, θ the last good one, memory given back', async () => {
  for (const optimizer of ['nlb', 'eki'] as const) {
    const module = await loadModule();
    let calls = 0;
    const stuck: ForwardFunction = async (t, k) => (++calls > 5 ? new Promise<Float64Array>(() => undefined) : forward(t, k));
    const r = await guard(minimize({ ...problem(module), optimizer, forward: stuck, signal: AbortSignal.timeout(200) }));
    assert.ok(r !== 'hung', `${optimizer}: minimize returned`);
    if (r === 'hung') return;
    assert.is(r.reason, 'aborted');
    assert.ok(r.history.length >= 1, `${optimizer}: ${r.history.length} iterations before the stuck call`);
    assert.is(calls, 6, 'no forward call after the abort');
    // θ after the completed iterations: a run of exactly that many
    const ref = await minimize({ ...problem(await loadModule()), optimizer, forward, maxIterations: r.history.length });
    assert.equal(bits(r.theta), bits(ref.theta), `${optimizer}: θ is the last good one`);
    assert.is(bytesInUse(module), 0);
  }
});

test('stepAsync with a signal: a pending evaluation is abandoned at the abort and never resumes', async () => {
  const module = await loadModule();
  const ws = new Workspace(module);
  const opt = createNlb(ws, new Float64Array(n).fill(0.3), { ensembleSize: 8, seed: 1 });
  const objective = new LeastSquares(ws, y);
  const sync = linearModel(A, m, n);
  opt.step(sync, objective);
  const state = opt.saveState();
  let release: () => void = () => undefined;
  const slow: Evaluator = {
    n, m,
    evaluate: (r, count, out) => new Promise<void>((resolve) => { release = () => { sync.evaluate(r, count, out); resolve(); }; }),
  };
  const ac = new AbortController();
  const step = opt.stepAsync(slow, objective, { signal: ac.signal });
  setTimeout(() => ac.abort(), 20);
  const outcome = await guard(step.then(() => new Error('resolved'), (e: Error) => e), 3000);
  assert.ok(outcome !== 'hung', 'the step settled at the abort');
  if (outcome === 'hung') return;
  assert.is(outcome.name, 'AbortError');
  assert.match(outcome.message, /aborted while an evaluation was pending/);
  release();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(bits(opt.theta()), bits(state.theta as Float64Array), 'θ did not move');
  assert.is(opt.iteration, state.iteration, 'the iteration was not finished later');
  ws.dispose();
});

test('fit: a callback that never settles ends with reason aborted and a resumable state', async () => {
  const module = await loadModule();
  const model = mlp([8, 12, 4], { seed: 3, module });
  const options: FitOptions = { batchSize: 50, iterations: 30, seed: 2, nlb: { ensembleSize: 8 } };
  const h = await guard(fit(model, data, Y, {
    ...options, signal: AbortSignal.timeout(200),
    callbacks: { onIterationEnd: (d) => (d.iteration === 2 ? new Promise(() => undefined) : undefined) },
  }));
  assert.ok(h !== 'hung', 'fit returned');
  if (h === 'hung') return;
  assert.is(h.stopReason, 'aborted');
  assert.is(h.iterations.length, 3);
  assert.is(bytesInUse(module), 0);
  await fit(model, data, Y, { ...options, resume: true });
  const whole = mlp([8, 12, 4], { seed: 3, module });
  await fit(whole, data, Y, options);
  assert.equal(bits(model.params), bits(whole.params), 'the resumed run ends bit-identical to an uninterrupted one');
});

test('fit with a worker: an abort (mostly while members are on the worker) leaves a state that resumes bit-identically', async () => {
  const module = await loadModule();
  const options: FitOptions = { batchSize: 100, iterations: 60, seed: 2, nlb: { ensembleSize: 16 }, workers: 1 };
  const whole = mlp([8, 24, 4], { seed: 3, module });
  await fit(whole, data, Y, options);
  const model = mlp([8, 24, 4], { seed: 3, module });
  const ac = new AbortController();
  // abort from a timer once training is under way: most of an iteration's time is in evaluations
  const h = await fit(model, data, Y, { ...options, signal: ac.signal, callbacks: { onIterationEnd: (d) => { if (d.iteration === 3) setTimeout(() => ac.abort(), 1); } } });
  assert.is(h.stopReason, 'aborted');
  assert.ok(h.iterations.length < 60);
  await fit(model, data, Y, { ...options, resume: true });
  assert.equal(bits(model.params), bits(whole.params));
});

test('minimize: an error thrown by forward or onIteration is a MinimizeError with the cause, last good θ and history', async () => {
  const module = await loadModule();
  const boom = new Error('model crashed');
  for (const mode of ['sync', 'async'] as const) {
    let calls = 0;
    const failing: ForwardFunction = (t, k) => {
      if (++calls > 7) {
        if (mode === 'sync') throw boom;
        return Promise.reject(boom);
      }
      return mode === 'sync' ? forward(t, k) : Promise.resolve(forward(t, k));
    };
    try {
      await minimize({ ...problem(module), forward: failing });
      assert.unreachable('should reject');
    } catch (e) {
      assert.instance(e, MinimizeError, `${mode}: ${e}`);
      const err = e as MinimizeError;
      assert.is(err.cause, boom);
      assert.match(err.message, /^forward threw: model crashed \(stopped after \d+ iterations/);
      assert.ok(err.history.length >= 2, `${mode}: ${err.history.length} iterations`);
      const ref = await minimize({ ...problem(module), forward, maxIterations: err.history.length });
      assert.equal(bits(err.theta), bits(ref.theta), `${mode}: the last good θ`);
    }
  }
  const oops = new TypeError('plot failed');
  try {
    await minimize({ ...problem(module), forward, onIteration: (d) => { if (d.iteration === 2) throw oops; } });
    assert.unreachable('should reject');
  } catch (e) {
    assert.instance(e, MinimizeError);
    const err = e as MinimizeError;
    assert.is(err.cause, oops);
    assert.match(err.message, /^onIteration threw: plot failed/);
    assert.is(err.history.length, 3);
    const ref = await minimize({ ...problem(module), forward, maxIterations: 3 });
    assert.equal(bits(err.theta), bits(ref.theta), 'θ after the iteration whose callback threw');
  }
  assert.is(bytesInUse(module), 0);
});

test('fit: a model saved from onIterationEnd holds the current θ and state and resumes bit-identically', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'enkf-reliability-'));
  try {
    const module = await loadModule();
    const net = () => mlp([8, 12, 4], { seed: 3, module });
    const cases: [string, FitOptions][] = [
      ['nlb with averaging and early stopping on the loss', {
        batchSize: 60, iterations: 14, seed: 2, nlb: { ensembleSize: 8 }, averaging: { decay: 0.8, start: 2 },
        earlyStopping: { monitor: 'loss', patience: 50 },
      }],
      ['eki', { batchSize: 60, iterations: 10, seed: 2, optimizer: 'eki', eki: { ensembleSize: 8 } }],
    ];
    for (const [what, options] of cases) {
      const whole = net();
      await fit(whole, data, Y, options);
      const path = join(dir, `${what.split(' ')[0]}.enkf`);
      const model = net();
      const seen: Float64Array[] = [];
      await fit(model, data, Y, {
        ...options,
        callbacks: {
          onIterationEnd: async (d) => {
            seen.push(model.params.slice());
            if (d.iteration === 4) await saveModel(model, path);
          },
        },
      });
      assert.equal(bits(seen[seen.length - 1]), bits(model.params), `${what}: a callback sees the current parameters`);
      assert.equal(bits(model.params), bits(whole.params), `${what}: callbacks change nothing`);
      const saved = await loadModel(path, { module });
      assert.is((saved.trainingState as { iteration: number }).iteration, 5, `${what}: the file holds the state after 5 iterations`);
      assert.equal(bits(saved.params), bits(seen[4]), `${what}: and the parameters after 5 iterations`);
      await fit(saved, data, Y, { ...options, resume: true });
      assert.equal(bits(saved.params), bits(whole.params), `${what}: resumed from the mid-fit file: bit-identical`);
      const a = whole.trainingState as Record<string, unknown>;
      const b = saved.trainingState as Record<string, unknown>;
      for (const key of ['iteration', 'forwardPasses', 'epochLossSum', 'epochIterations', 'failures']) {
        assert.equal(b[key], a[key], `${what}: trainingState.${key}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('entry points: fit(null), fit({}), null options, module: {} and non-number data get clear typed errors', async () => {
  const module = await loadModule();
  const model = mlp([8, 5, 4], { seed: 1, module });
  const notModule = /must be a module from `await loadModule\(\)`/;
  await throwsMatching('fit(null)', () => fit(null as never, data, Y), TypeError, /model must be a network from mlp/);
  await throwsMatching('fit({})', () => fit({} as never, data, Y), TypeError, /model must be a network from mlp/);
  await throwsMatching('fit options null', () => fit(model, data, Y, null as never), TypeError, /fit options must be an object; got null/);
  await throwsMatching('fit module: {}', () => fit(model, data, Y, { module: {} as never }), TypeError, notModule);
  const stray = mlp([8, 5, 4], { seed: 1 });
  stray.module = {} as never;
  await throwsMatching('fit with model.module = {}', () => fit(stray, data, Y), TypeError, /model\.module must be a module/);
  await throwsMatching('minimize module: {}', () => minimize({ ...problem(module), forward, module: {} as never }), TypeError, notModule);
  await throwsMatching('createAskTell module: {}', () => createAskTell({ ...problem(module), module: {} as never }), TypeError, notModule);
  for (const [value, shown] of [['1', 'string "1"'], [undefined, 'undefined'], [{}, 'object'], [true, 'boolean true']] as const) {
    const theta0 = [0, value, 0] as unknown as number[];
    await throwsMatching(`theta0 with ${shown}`, () => minimize({ ...problem(module), theta0, forward }), TypeError,
      new RegExp(`theta0\\[1\\] must be a number; got ${shown}`));
    const yBad = Array.from(y) as unknown[];
    yBad[3] = value;
    await throwsMatching(`y with ${shown}`, () => createAskTell({ ...problem(module), y: yBad as number[] }), TypeError,
      new RegExp(`y\\[3\\] must be a number; got ${shown}`));
    await throwsMatching(`class ids with ${shown}`, () => createAskTell({ ...problem(module), loss: 'cross-entropy', y: [0, 1, value] as number[] }),
      TypeError, new RegExp(`y\\[2\\] must be a number \\(a class id\\); got ${shown}`));
  }
  assert.is(bytesInUse(module), 0);
});

test('fit: a NaN in model.params is reported up front, by its index', async () => {
  const module = await loadModule();
  const model = mlp([8, 5, 4], { seed: 1, module });
  model.params[3] = NaN;
  await throwsMatching('NaN parameter', () => fit(model, data, Y, { iterations: 3 }), RangeError, /model\.params\[3\] is NaN; every parameter must be finite/);
  model.params[3] = Infinity;
  await throwsMatching('Infinite parameter', () => fit(model, data, Y, { iterations: 3 }), RangeError, /model\.params\[3\] is Infinity/);
  assert.is(bytesInUse(module), 0);
});

test('fit: a second fit on a model still training is refused; the first is unaffected; the model trains again after', async () => {
  const module = await loadModule();
  const options: FitOptions = { batchSize: 50, iterations: 8, seed: 2, nlb: { ensembleSize: 8 } };
  const model: MLP = mlp([8, 12, 4], { seed: 3, module });
  const first = fit(model, data, Y, options);
  await throwsMatching('second fit', () => fit(model, data, Y, options), Error, /already being trained by another fit\(\) call/);
  const h = await first;
  assert.is(h.iterations.length, 8);
  const alone = mlp([8, 12, 4], { seed: 3, module });
  await fit(alone, data, Y, options);
  assert.equal(bits(model.params), bits(alone.params), 'the first run is as if alone');
  // released after it ended (also after an error)
  await throwsMatching('bad labels', () => fit(model, data, Y.map(() => 9)), RangeError, /labels/);
  const again = await fit(model, data, Y, { ...options, iterations: 10, resume: true });
  assert.is(again.iteration, 10);
});

test.run();
