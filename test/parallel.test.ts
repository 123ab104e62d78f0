import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { loadModule } from '../bindings/wasm.js';
import { Workspace, bytesInUse } from '../bindings/workspace.js';
import { mlp } from '../bindings/nn/mlp.js';
import { fit, FitError, type History } from '../bindings/nn/fit.js';
import { MlpEvaluator } from '../bindings/nn/evaluator.js';
import { ParallelMlpEvaluator, WorkerError, WorkerAbortError, liveWorkerCount, autoWorkers, resolveWorkers } from '../bindings/nn/parallel.js';
import { availableParallelism } from 'node:os';
import { splitMembers } from '../bindings/optimizers/chunking.js';
import { KernelError } from '../bindings/errors.js';
import { epochPermutation } from '../bindings/nn/random.js';
import { mulberry32, gaussArray, perturbRef, randnRef } from './oracles.js';
import { gaussian, referenceForward } from './nn-oracle.js';

const module = await loadModule();

/** Three Gaussian blobs in 6-D (noise 0.5): a small classification set. */
function blobs(rows: number, seed: number) {
  const rand = mulberry32(seed);
  const x = new Float32Array(rows * 6);
  const y = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const c = Math.floor(rand() * 3);
    y[r] = c;
    for (let j = 0; j < 6; j++) x[r * 6 + j] = (j % 3 === c ? 2 : 0) + 0.5 * gaussian(rand);
  }
  return { x: { data: x, shape: [rows, 6] as [number, number] }, y };
}

const net = () => mlp([6, 10, 3], { activation: 'tanh', seed: 4, module });
const train = blobs(240, 1);

// Bit-for-bit equality of two runs: θ and every logged loss (Object.is also tells −0 from 0 and matches NaN).
function sameRun(a: { params: Float64Array; h: History }, b: { params: Float64Array; h: History }, what: string) {
  assert.is(b.h.iterations.length, a.h.iterations.length, `${what}: iterations`);
  for (let i = 0; i < a.params.length; i++) {
    if (!Object.is(a.params[i], b.params[i])) assert.unreachable(`${what}: θ[${i}] ${b.params[i]} ≠ ${a.params[i]}`);
  }
  a.h.iterations.forEach((d, i) => {
    const e = b.h.iterations[i];
    for (const key of ['loss', 'lossBefore', 'sigma', 'alpha', 'stepNorm', 'crossEntropy'] as const) {
      if (!Object.is(d[key], e[key])) assert.unreachable(`${what}: iteration ${i} ${key} ${e[key]} ≠ ${d[key]}`);
    }
    assert.is(e.accepted, d.accepted, `${what}: iteration ${i} accepted`);
  });
}

async function run(workers: number | 'auto', options: Parameters<typeof fit>[3] = {}) {
  const model = net();
  const h = await fit(model, train.x, train.y, { batchSize: 40, iterations: 12, seed: 2, workers, ...options });
  return { params: model.params.slice(), h };
}

test('splitMembers: contiguous ranges that cover every member once, balanced, antithetic pairs whole', () => {
  const rand = mulberry32(9);
  for (let trial = 0; trial < 300; trial++) {
    const antithetic = rand() < 0.5;
    const member0 = antithetic ? 2 * Math.floor(rand() * 20) : Math.floor(rand() * 40);
    const count = antithetic ? 2 * (1 + Math.floor(rand() * 20)) : 1 + Math.floor(rand() * 40);
    const first = rand() < 0.5 ? 1 : 0;
    const threads = 1 + Math.floor(rand() * 4);
    const ends = splitMembers(member0, count, first, antithetic, threads);
    const what = `member0=${member0} count=${count} first=${first} anti=${antithetic} threads=${threads}: ${ends}`;
    assert.is(ends.length, threads, what);
    assert.is(ends[threads - 1], member0 + count, what);
    let prev = member0;
    const rows: number[] = [];
    for (let t = 0; t < threads; t++) {
      assert.ok(ends[t] >= prev, what);
      if (antithetic) assert.is((ends[t] - member0) % 2, 0, what);
      rows.push(ends[t] - prev + (t === 0 ? first : 0));
      prev = ends[t];
    }
    // Balance: no thread has more than its share plus one pair (or one member).
    const most = Math.ceil((count + first) / threads) + (antithetic ? 2 : 1);
    assert.ok(Math.max(...rows) <= most, `${what}: rows ${rows}`);
  }
});

test('ParallelMlpEvaluator: every row bit-identical to MlpEvaluator, and close to a plain-TS forward', async () => {
  const layers = [6, 10, 3];
  const B = 40;
  const n = 6 * 10 + 10 + 3 * 10 + 3;
  const rand = mulberry32(21);
  const theta0 = gaussArray(rand, n).map((v) => 0.5 * v);
  const index = epochPermutation(240, 5, 0).subarray(0, B);
  const opts = { layers, activation: 'tanh' as const, batchSize: B, maxMembers: 17 };
  const single = new MlpEvaluator(module, opts);
  const parallel = await ParallelMlpEvaluator.create(module, opts, train.x.data, 2);
  const ws = new Workspace(module);
  try {
    assert.is(liveWorkerCount(), 2);
    single.setBatch(train.x.data, index);
    parallel.setBatch(train.x.data, index);
    const theta = ws.from('f64', theta0);
    const m = single.m;
    const a = ws.f64(17 * m);
    const b = ws.f64(17 * m);
    const xBatch = Array.from(index, (r) => Array.from(train.x.data.subarray(r * 6, r * 6 + 6))).flat();
    const cases: [number, number, boolean, boolean][] = [
      [0, 16, true, true], [0, 16, false, true], [4, 12, true, false], [3, 5, false, false], [7, 1, true, false], [0, 1, false, false],
    ];
    for (const [member0, count, antithetic, center] of cases) {
      const what = `member0=${member0} count=${count} anti=${antithetic} center=${center}`;
      const rows = count + (center ? 1 : 0);
      a.view().fill(NaN);
      b.view().fill(NaN);
      single.evaluatePerturbed({ theta, sigma: 0.1, seed: 7, draw: 3, member0, count, antithetic, center }, a);
      await parallel.evaluatePerturbed({ theta, sigma: 0.1, seed: 7, draw: 3, member0, count, antithetic, center }, b);
      const va = a.view();
      const vb = b.view();
      for (let i = 0; i < rows * m; i++) {
        if (!Object.is(va[i], vb[i])) assert.unreachable(`${what}: output ${i} (row ${Math.floor(i / m)}) ${vb[i]} ≠ ${va[i]}`);
      }
      if (rows < 17) assert.ok(Number.isNaN(vb[rows * m]), `${what}: nothing written past the ${rows} rows`);
      // Oracle: the members θ + σ·s_i·ξ_{q_i} from the RNG's definition through a plain f64 forward.
      const xi = (q: number) => randnRef(n, 7, 3, q, 0);
      const members = perturbRef(count, 0.1, member0, antithetic, theta0, xi);
      for (let r = 0; r < rows; r++) {
        const p = center && r === 0 ? theta0 : members.subarray((r - (center ? 1 : 0)) * n, (r - (center ? 1 : 0) + 1) * n);
        const want = referenceForward(layers, 'tanh', p, xBatch, B);
        for (let i = 0; i < m; i++) {
          const err = Math.abs(vb[r * m + i] - want[i]);
          if (err > 1e-4 * (1 + Math.abs(want[i]))) assert.unreachable(`${what}: row ${r} output ${i} ${vb[r * m + i]} vs oracle ${want[i]}`);
        }
      }
    }
    // Explicit rows run on the main thread: the same values as the single-thread evaluator.
    single.evaluate(theta, 1, a);
    parallel.evaluate(theta, 1, b);
    assert.equal(Array.from(b.view().subarray(0, m)), Array.from(a.view().subarray(0, m)));
    // Requests the evaluator cannot take are refused before any thread runs.
    await parallel.evaluatePerturbed({ theta, sigma: 0.1, seed: 7, draw: 3, member0: 0, count: 17, antithetic: false, center: true }, b).then(
      () => assert.unreachable('17 members + θ exceed maxMembers 17'),
      (e: Error) => { assert.instance(e, RangeError); assert.match(e.message, /count must be an integer in \[1, 16\]; got 17/); });
    assert.throws(() => parallel.setBatch(train.x.data.slice(), index), (e: Error) => e instanceof RangeError && /same matrix/.test(e.message));
    // A kernel error on the main thread's share: thrown after the workers answered, the evaluator stays usable.
    await parallel.evaluatePerturbed({ theta, sigma: NaN, seed: 7, draw: 3, member0: 0, count: 16, antithetic: false, center: true }, b).then(
      () => assert.unreachable('σ = NaN'),
      (e: Error) => { assert.instance(e, KernelError); assert.match(e.message, /sigma must be finite/, e.message); });
    // θ alone on the main thread, the one member on a worker: the worker's error comes back typed.
    await parallel.evaluatePerturbed({ theta, sigma: NaN, seed: 7, draw: 3, member0: 0, count: 1, antithetic: false, center: true }, b).then(
      () => assert.unreachable('σ = NaN on a worker'),
      (e: Error) => { assert.instance(e, WorkerError); assert.match(e.message, /^Worker \d: KernelError: .*sigma must be finite/); });
    single.evaluatePerturbed({ theta, sigma: 0.1, seed: 7, draw: 4, member0: 2, count: 14, antithetic: false, center: true }, a);
    await parallel.evaluatePerturbed({ theta, sigma: 0.1, seed: 7, draw: 4, member0: 2, count: 14, antithetic: false, center: true }, b);
    assert.equal(Array.from(b.view().subarray(0, 15 * m)), Array.from(a.view().subarray(0, 15 * m)), 'after the errors');
  } finally {
    single.dispose();
    ws.dispose();
    await parallel.close();
  }
  assert.is(liveWorkerCount(), 0, 'close() terminates every worker');
});

test('NLB fit: workers 0, 1, 2 give bit-identical θ and losses (plain and antithetic members)', async () => {
  for (const nlb of [{ ensembleSize: 10 }, { ensembleSize: 10, antithetic: true }, { ensembleSize: 7, acceptance: false }]) {
    const base = await run(0, { nlb });
    for (const workers of [1, 2]) sameRun(base, await run(workers, { nlb }), `${JSON.stringify(nlb)} workers ${workers}`);
    // The run trains: Φ(θ_t) on the batch fell.
    assert.ok(base.h.iterations[11].lossBefore < base.h.iterations[0].lossBefore, JSON.stringify(nlb));
  }
  assert.is(liveWorkerCount(), 0);
});

test('EKI fit through the parallel evaluator equals EKI without it', async () => {
  const base = await run(0, { optimizer: 'eki', eki: { ensembleSize: 8 } });
  sameRun(base, await run(1, { optimizer: 'eki', eki: { ensembleSize: 8 } }), 'EKI workers 1');
  assert.is(liveWorkerCount(), 0);
});

test('workers instantiate the main thread\'s compiled module: a module loaded from bytes gives the workers: 0 bits', async () => {
  for (const file of ['enkf.wasm', 'enkf-scalar.wasm']) {
    const bytes = await readFile(new URL(`../build/${file}`, import.meta.url));
    const custom = await loadModule({ source: bytes });
    assert.instance(custom.compiled, WebAssembly.Module);
    const runOn = async (workers: number) => {
      const model = mlp([6, 10, 3], { activation: 'tanh', seed: 4, module: custom });
      const h = await fit(model, train.x, train.y, { batchSize: 40, iterations: 8, seed: 2, workers, module: custom });
      return { params: model.params.slice(), h };
    };
    sameRun(await runOn(0), await runOn(1), `${file} from bytes, workers 1`);
  }
  assert.is(liveWorkerCount(), 0);
});

test('a resumed parallel run continues bit-identically to an uninterrupted single-thread one', async () => {
  const whole = await run(0);
  const model = net();
  await fit(model, train.x, train.y, { batchSize: 40, iterations: 5, seed: 2, workers: 1 });
  const h = await fit(model, train.x, train.y, { batchSize: 40, iterations: 12, seed: 2, workers: 2, resume: true });
  assert.equal(Array.from(model.params), Array.from(whole.params));
  assert.equal(h.iterations.map((d) => d.loss), whole.h.iterations.slice(5).map((d) => d.loss));
  assert.is(liveWorkerCount(), 0);
});

test('abort, a throwing callback and a failing iteration all terminate the workers', async () => {
  const ctrl = new AbortController();
  let seen = -1;
  const h = await fit(net(), train.x, train.y, {
    batchSize: 40, iterations: 50, workers: 2, signal: ctrl.signal,
    callbacks: { onIterationEnd: (d) => { seen = d.iteration; if (d.iteration === 2) ctrl.abort(); } },
  });
  assert.is(h.stopReason, 'aborted');
  assert.is(h.iterations.length, 3);
  assert.is(seen, 2);
  assert.is(liveWorkerCount(), 0, 'after abort');

  let error: unknown;
  await fit(net(), train.x, train.y, {
    batchSize: 40, iterations: 50, workers: 1,
    callbacks: { onIterationEnd: (d) => { if (d.iteration === 1) throw new Error('callback failed'); } },
  }).catch((e) => { error = e; });
  assert.instance(error, Error);
  assert.is((error as Error).message, 'callback failed');
  assert.is(liveWorkerCount(), 0, 'after a throwing callback');

  // Iteration 1's batch holds a row that overflows f32: every member fails, fit throws a FitError.
  const bad = epochPermutation(240, 2, 0)[40];
  const data = train.x.data.slice();
  data.fill(3e38, bad * 6, bad * 6 + 6);
  error = undefined;
  await fit(mlp([6, 10, 3], { activation: 'relu', seed: 4, module }), { data, shape: [240, 6] }, train.y,
    { batchSize: 40, iterations: 5, seed: 2, workers: 2 }).catch((e) => { error = e; });
  assert.instance(error, FitError);
  assert.is((error as FitError).iteration, 1);
  assert.is(liveWorkerCount(), 0, 'after a FitError');
});

test('fit with workers: an abort while the workers start, or mid-run with a worker call pending, ends with aborted and a resumable state', async () => {
  // aborted before the threads are up: no iteration runs, no worker is left
  const early = new AbortController();
  setTimeout(() => early.abort(), 1);
  const model = net();
  const before = model.params.slice();
  const h0 = await fit(model, train.x, train.y, { batchSize: 40, iterations: 50, workers: 1, signal: early.signal });
  assert.is(h0.stopReason, 'aborted');
  assert.ok(h0.iterations.length <= 1, `${h0.iterations.length} iterations after an abort at start-up`);
  if (h0.iterations.length === 0) assert.equal(Array.from(model.params), Array.from(before));
  assert.is(liveWorkerCount(), 0);
  // aborted from a timer while iterations run on two threads: the state resumes to the bits of an
  // uninterrupted run (the abandoned iteration leaves no trace)
  const ctrl = new AbortController();
  const m1 = net();
  const h1 = await fit(m1, train.x, train.y, {
    batchSize: 40, iterations: 30, workers: 1, signal: ctrl.signal,
    callbacks: { onIterationEnd: (d) => { if (d.iteration === 3) setTimeout(() => ctrl.abort(), 0); } },
  });
  assert.is(h1.stopReason, 'aborted');
  assert.is(liveWorkerCount(), 0);
  await fit(m1, train.x, train.y, { batchSize: 40, iterations: 30, workers: 1, resume: true });
  const m2 = net();
  await fit(m2, train.x, train.y, { batchSize: 40, iterations: 30, workers: 0 });
  assert.equal(Array.from(m1.params), Array.from(m2.params));
});

test("workers: 'auto' = os.availableParallelism() − 1 (at least 0), and its run equals workers: 0 bit for bit", async () => {
  const expected = Math.max(0, Math.min(64, availableParallelism() - 1));
  assert.is(autoWorkers(), expected);
  assert.is(resolveWorkers('auto'), expected);
  assert.is(resolveWorkers(undefined), 0);
  assert.is(resolveWorkers(3), 3);
  // 'auto' must start at least one worker here for the run below to test anything beyond workers: 0.
  assert.ok(expected >= 1, `this host reports ${availableParallelism()} cores`);
  sameRun(await run(0), await run('auto'), "workers 'auto'");
  assert.is(liveWorkerCount(), 0, 'every worker ended');
});

test('bad workers values give a RangeError that names the option', async () => {
  for (const workers of [-1, 1.5, Number.NaN, 65, '2', 'Auto', true]) {
    let error: unknown;
    await fit(net(), train.x, train.y, { iterations: 1, workers: workers as number }).catch((e) => { error = e; });
    assert.instance(error, RangeError, String(workers));
    assert.match((error as Error).message, /^workers must be an integer in \[0, 64\] or 'auto'; got /, String(workers));
  }
  assert.is(liveWorkerCount(), 0);
});


// ---- Lifetime and faults of the evaluators (use after dispose/close, abort, crashed and failed workers).

const small = { layers: [6, 10, 3], activation: 'tanh' as const, batchSize: 8, maxMembers: 6 };
const batch8 = Int32Array.from({ length: 8 }, (_, i) => i);

// A request of `count` members around θ (no center).
const req = (theta: import('../bindings/workspace.js').Buf<'f64'>, count: number, center = false) =>
  ({ theta, sigma: 0.1, seed: 3, draw: 0, member0: 0, count, antithetic: false, center });

/** Bits of a live buffer of another problem (it must not change when a disposed object is called). */
const bitsOf = (b: import('../bindings/workspace.js').Buf<'f64'>) => Array.from(new Uint32Array(b.view().slice().buffer));

test('MlpEvaluator after dispose: every method throws before touching memory; a second dispose does nothing', () => {
  const ws = new Workspace(module);
  const ev = new MlpEvaluator(module, small);
  const theta = ws.from('f64', gaussArray(mulberry32(4), ev.n));
  const rows = ws.from('f64', gaussArray(mulberry32(5), 2 * ev.n));
  const out = ws.f64(6 * ev.m);
  ev.setBatch(train.x.data, batch8);
  ev.evaluatePerturbed(req(theta, 3, true), out);
  ev.dispose();
  // Another problem now holds the freed memory: buffers of the same sizes, filled with a pattern.
  const other = new Workspace(module);
  const victims = [other.f32(ev.n + 3), other.f32(6 * ev.m), other.f64(6 * ev.m), other.f32(64)];
  const pattern = victims.map((b, i) => { b.view().fill(i + 0.25); return Array.from(b.view()); });
  const outBefore = bitsOf(out);
  const calls: [string, () => unknown][] = [
    ['setBatch', () => ev.setBatch(train.x.data, batch8)],
    ['evaluate', () => ev.evaluate(rows, 2, out)],
    ['evaluatePerturbed', () => ev.evaluatePerturbed(req(theta, 3, true), out)],
  ];
  for (const [name, call] of calls) {
    assert.throws(call, (e: Error) => e.constructor === Error && new RegExp(`^MlpEvaluator\\.${name}: this MlpEvaluator was disposed`).test(e.message), name);
  }
  victims.forEach((b, i) => assert.equal(Array.from(b.view()), pattern[i], `victim ${i} untouched`));
  assert.equal(bitsOf(out), outBefore, 'out untouched');
  const held = bytesInUseOf();
  ev.dispose();
  assert.is(bytesInUseOf(), held, 'second dispose frees nothing');
  assert.is(ev.bytes, 0);
  other.dispose();
  ws.dispose();
});

function bytesInUseOf(): number {
  return bytesInUse(module);
}

test('ParallelMlpEvaluator after close: every method throws; a second close does nothing', async () => {
  const ws = new Workspace(module);
  const ev = await ParallelMlpEvaluator.create(module, small, train.x.data, 1);
  const theta = ws.from('f64', gaussArray(mulberry32(4), ev.n));
  const out = ws.f64(6 * ev.m);
  ev.setBatch(train.x.data, batch8);
  await ev.evaluatePerturbed(req(theta, 4, true), out);
  await ev.close();
  assert.is(liveWorkerCount(), 0);
  const outBefore = bitsOf(out);
  const closed = (name: string) => (e: Error) => new RegExp(`^ParallelMlpEvaluator\\.${name}: this ParallelMlpEvaluator was closed`).test(e.message);
  assert.throws(() => ev.setBatch(train.x.data, batch8), closed('setBatch'));
  assert.throws(() => ev.evaluate(theta, 1, out), closed('evaluate'));
  await ev.evaluatePerturbed(req(theta, 4, true), out).then(() => assert.unreachable('closed'), (e: Error) => assert.ok(closed('evaluatePerturbed')(e), e.message));
  assert.equal(bitsOf(out), outBefore, 'out untouched');
  const held = bytesInUse(module);
  await ev.close();
  assert.is(bytesInUse(module), held);
  ws.dispose();
});

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

test('abort: a worker that never replies, a worker mid-computation, and workers still starting all end within a bound', async () => {
  const ws = new Workspace(module);
  try {
    // A worker that never answers: the pending call rejects with an AbortError once the signal fires.
    let ac = new AbortController();
    let ev = await ParallelMlpEvaluator.create(module, small, train.x.data, 2, { signal: ac.signal, entry: fixture('silent-worker.mjs') });
    const theta = ws.from('f64', gaussArray(mulberry32(4), ev.n));
    const out = ws.f64(6 * ev.m);
    ev.setBatch(train.x.data, batch8);
    let t0 = 0;
    setTimeout(() => { t0 = performance.now(); ac.abort(); }, 30);
    await ev.evaluatePerturbed(req(theta, 4), out).then(() => assert.unreachable('no worker answers'), (e: Error) => {
      assert.instance(e, WorkerAbortError);
      assert.is(e.name, 'AbortError');
      assert.match(e.message, /aborted/);
    });
    assert.ok(performance.now() - t0 < 1000, 'rejected soon after the abort');
    await ev.evaluatePerturbed(req(theta, 4), out).then(() => assert.unreachable('after abort'), (e: Error) => assert.instance(e, WorkerAbortError));
    await ev.close();
    assert.is(liveWorkerCount(), 0, 'the silent workers were terminated');

    // A real worker inside a long forward pass (one member of a large network: seconds of work) is
    // terminated mid-kernel; with 2 workers and 1 member the main thread has nothing to compute.
    const big = { layers: [256, 1024, 1024, 10], activation: 'tanh' as const, batchSize: 512, maxMembers: 2 };
    const bigData = Float32Array.from({ length: 512 * 256 }, (_, i) => Math.sin(i));
    ac = new AbortController();
    ev = await ParallelMlpEvaluator.create(module, big, bigData, 2, { signal: ac.signal });
    const bigTheta = ws.from('f64', gaussArray(mulberry32(6), ev.n).map((v) => 0.03 * v));
    const bigOut = ws.f64(ev.m);
    ev.setBatch(bigData, Int32Array.from({ length: 512 }, (_, i) => i));
    setTimeout(() => { t0 = performance.now(); ac.abort(new Error('user stop')); }, 50);
    await ev.evaluatePerturbed(req(bigTheta, 1), bigOut).then(() => assert.unreachable('aborted mid-call'), (e: Error) => {
      assert.instance(e, WorkerAbortError);
      assert.is((e.cause as Error).message, 'user stop');
    });
    assert.ok(performance.now() - t0 < 1000, `rejected ${performance.now() - t0} ms after the abort`);
    await ev.close();
    assert.is(liveWorkerCount(), 0, 'terminated mid-kernel');

    // Workers still starting; and a signal already aborted.
    ac = new AbortController();
    const starting = ParallelMlpEvaluator.create(module, small, train.x.data, 2, { signal: ac.signal });
    ac.abort();
    await starting.then(() => assert.unreachable('aborted while starting'), (e: Error) => assert.instance(e, WorkerAbortError));
    assert.is(liveWorkerCount(), 0, 'starting workers terminated');
    await ParallelMlpEvaluator.create(module, small, train.x.data, 1, { signal: AbortSignal.abort() })
      .then(() => assert.unreachable('pre-aborted'), (e: Error) => assert.instance(e, WorkerAbortError));
    await ParallelMlpEvaluator.create(module, small, train.x.data, 1, { signal: {} as AbortSignal })
      .then(() => assert.unreachable('bad signal'), (e: Error) => { assert.instance(e, TypeError); assert.match(e.message, /signal must be an AbortSignal/); });
  } finally {
    ws.dispose();
  }
  assert.is(liveWorkerCount(), 0);
});

test('a worker that exits in the middle of a call rejects it with a WorkerError; later calls too', async () => {
  const before = bytesInUse(module);
  const ws = new Workspace(module);
  const ev = await ParallelMlpEvaluator.create(module, small, train.x.data, 1, { entry: fixture('exiting-worker.mjs') });
  const theta = ws.from('f64', gaussArray(mulberry32(4), ev.n));
  const out = ws.f64(6 * ev.m);
  ev.setBatch(train.x.data, batch8);
  for (let i = 0; i < 2; i++) {
    await ev.evaluatePerturbed(req(theta, 4), out).then(() => assert.unreachable('the worker exited'), (e: Error) => {
      assert.instance(e, WorkerError);
      assert.match(e.message, /^Worker 0 exited \(code 3\) while evaluating members/);
    });
  }
  await ev.close();
  ws.dispose();
  assert.is(liveWorkerCount(), 0);
  assert.is(bytesInUse(module), before);
});

test('workers that cannot start (missing entry, heap limit, a module that is not enkf-wasm) give a WorkerError naming workers and workers: 0', async () => {
  const notEnkf = { ...module, compiled: await WebAssembly.compile(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])) };
  const cases: [string, Parameters<typeof ParallelMlpEvaluator.create>[0], Parameters<typeof ParallelMlpEvaluator.create>[4], RegExp][] = [
    ['missing entry', module, { entry: fixture('no-such-worker.mjs') }, /Cannot find module/],
    ['heap limit', module, { resourceLimits: { maxOldGenerationSizeMb: 1, maxYoungGenerationSizeMb: 1 } }, /memory limit/],
    ['not enkf-wasm', notEnkf, {}, /TypeError: the given WebAssembly\.Module is not an enkf-wasm module/],
  ];
  for (const [what, mod, options, cause] of cases) {
    const before = bytesInUse(module);
    await ParallelMlpEvaluator.create(mod, small, train.x.data, 2, options).then(() => assert.unreachable(what), (e: Error) => {
      assert.instance(e, WorkerError, what);
      assert.match(e.message, /^workers: 2 could not start: worker \d failed \(/, what);
      assert.match(e.message, cause, what);
      assert.match(e.message, /Pass workers: 0 to evaluate on the main thread only\.$/, what);
    });
    assert.is(liveWorkerCount(), 0, `${what}: every thread terminated`);
    assert.is(bytesInUse(module), before, `${what}: the main thread's buffers given back`);
  }
});

test.run();
