// minimize() and ask/tell for black-box models: the same iterates as the optimizer core, sync and
// async forward functions, cross-entropy to 100 % training accuracy, stopping rules, failure
// handling with θ kept at its last good value, argument errors before any work, and the memory
// claim (n = 10⁶, m = 10³, k = 32 within 64 MB of growth). Every random draw is seeded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  loadModule, Workspace, createNlb, createAskTell, minimize, LeastSquares, MinimizeError, OptimizationError, NLB_DEFAULTS,
  type ForwardFunction,
} from '../bindings/internal.js';
import { gaussian, leastSquares, linearModel, matVec, randomMatrix, relativeError, rosenbrockResiduals } from './optim-oracle.js';

const mod = await loadModule();

function linearProblem(m: number, n: number, seed: number) {
  const A = randomMatrix(m, n, seed);
  const g = gaussian(seed + 1);
  const y = Float64Array.from({ length: m }, () => g());
  const forward = (thetas: Float64Array, k: number): Float64Array => {
    const out = new Float64Array(k * m);
    for (let r = 0; r < k; r++) matVec(A, m, n, thetas, out, r * n, r * m);
    return out;
  };
  return { A, y, forward };
}

test('minimize (sync and async forward) gives exactly the iterates of the optimizer core', async () => {
  const m = 30;
  const n = 12;
  const { A, y, forward } = linearProblem(m, n, 3);
  const options = { theta0: new Float64Array(n), y, ensembleSize: 5, seed: 17, maxIterations: 25, module: mod };
  const sync = await minimize({ ...options, forward });
  const asyncRun = await minimize({
    ...options,
    forward: async (t, k) => {
      await new Promise((r) => setTimeout(r, 0));
      return forward(t, k);
    },
  });
  const ws = new Workspace(mod);
  const obj = new LeastSquares(ws, y);
  const core = createNlb(ws, new Float64Array(n), { ensembleSize: 5, seed: 17 });
  const ev = linearModel(A, m, n);
  for (let i = 0; i < 25; i++) core.step(ev, obj, { newBatch: false });
  assert.equal(Array.from(sync.theta), Array.from(core.theta()));
  assert.equal(Array.from(asyncRun.theta), Array.from(sync.theta));
  assert.is(sync.reason, 'maxIterations');
  assert.is(sync.history.length, 25);
  assert.is(sync.loss, sync.history[24].loss);
  assert.is(sync.evaluations, sync.history.reduce((s, d) => s + d.evaluations, 0));
  assert.ok(asyncRun.history.every((d) => d.forwardMs > 0), 'async forward time is measured');
  ws.dispose();
});

test('maxMembers chunks the forward calls without changing the iterates (NLB and EKI)', async () => {
  const m = 16;
  const n = 7;
  const { y, forward } = linearProblem(m, n, 9);
  for (const optimizer of ['nlb', 'eki'] as const) {
    const sizes: number[] = [];
    const counting: ForwardFunction = (t, k) => { sizes.push(k); return forward(t, k); };
    const options = { theta0: new Float64Array(n).fill(0.2), y, optimizer, ensembleSize: 8, seed: 4, maxIterations: 8, module: mod };
    const whole = await minimize({ ...options, forward });
    const chunked = await minimize({ ...options, forward: counting, maxMembers: 3 });
    assert.equal(Array.from(chunked.theta), Array.from(whole.theta), `${optimizer}: same iterates`);
    assert.ok(Math.max(...sizes) === 3, `${optimizer}: at most 3 members per call`);
    assert.is(sizes.reduce((a, b) => a + b, 0), chunked.evaluations);
  }
});

test('ask/tell reproduces minimize: ask() gives k × n rows, tell() takes k × m outputs', async () => {
  const m = 20;
  const n = 9;
  const { y, forward } = linearProblem(m, n, 5);
  const options = { theta0: new Float64Array(n).fill(0.1), y, ensembleSize: 4, seed: 8, maxIterations: 10, module: mod };
  const reference = await minimize({ ...options, forward });
  const opt = await createAskTell(options);
  const counts: number[] = [];
  while (!opt.done) {
    const thetas = opt.ask();
    const k = thetas.length / n;
    assert.is(opt.pending, k);
    counts.push(k);
    opt.tell(forward(thetas, k));
  }
  assert.equal(Array.from(opt.theta()), Array.from(reference.theta));
  assert.is(opt.history.length, 10);
  assert.is(opt.reason, 'maxIterations');
  // first iteration: F(θ₀) (1 row), members (4), then candidates (1 row each)
  // θ_t with the 4 members in one ask, then the candidate, then the next draw (θ_t reused from the acceptance test)
  assert.equal(counts.slice(0, 3), [5, 1, 4]);
  assert.throws(() => opt.ask(), /finished/);
  opt.dispose();
  // EKI asks for [θ̄; Θ₁ … Θ_J]
  const eki = await createAskTell({ ...options, optimizer: 'eki', ensembleSize: 6 });
  const rows = eki.ask();
  assert.is(rows.length, 7 * n);
  assert.throws(() => eki.tell(new Float64Array(7 * m - 1)), (e: Error) => e instanceof RangeError && /expected 7 × 20 = 140/.test(e.message));
  const d = eki.tell(forward(rows, 7));
  assert.ok(d && d.iteration === 0);
  eki.dispose();
});

test('cross-entropy: softmax regression on a separable set reaches 100 % training accuracy', async () => {
  const B = 120;
  const C = 4;
  const d = 5;
  const n = (d + 1) * C;
  const g = gaussian(23);
  const X = Float64Array.from({ length: B * d }, () => g());
  const Wtrue = Float64Array.from({ length: d * C }, () => 2 * g());
  // labels = argmax of a true linear model: separable by construction
  const labels = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let best = -Infinity;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += X[b * d + i] * Wtrue[i * C + c];
      if (s > best) { best = s; labels[b] = c; }
    }
  }
  const logits = (t: Float64Array, off: number, out: Float64Array, o: number) => {
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        let s = t[off + d * C + c];
        for (let i = 0; i < d; i++) s += X[b * d + i] * t[off + i * C + c];
        out[o + b * C + c] = s;
      }
    }
  };
  const forward: ForwardFunction = (thetas, k) => {
    const out = new Float64Array(k * B * C);
    for (let r = 0; r < k; r++) logits(thetas, r * n, out, r * B * C);
    return out;
  };
  const res = await minimize({
    forward, y: labels, loss: 'cross-entropy', classes: C, theta0: new Float64Array(n), ensembleSize: 16,
    seed: 3, maxIterations: 200, module: mod,
  });
  const out = new Float64Array(B * C);
  logits(res.theta, 0, out, 0);
  let correct = 0;
  for (let b = 0; b < B; b++) {
    let arg = 0;
    for (let c = 1; c < C; c++) if (out[b * C + c] > out[b * C + arg]) arg = c;
    if (arg === labels[b]) correct++;
  }
  assert.is(correct, B, `training accuracy ${correct}/${B}`);
  assert.ok(res.loss < 0.1, `cross-entropy ${res.loss}`);
  assert.ok(res.history[0].lossBefore > 1.38 && res.history[0].lossBefore < 1.39, 'starts at log 4');
});

test('stopping: tolerance, callback, AbortSignal, sigmaMin, stalled', async () => {
  const n = 10;
  const m = 18;
  const forward: ForwardFunction = (thetas, k) => {
    const out = new Float64Array(k * m);
    for (let r = 0; r < k; r++) rosenbrockResiduals(thetas.subarray(r * n, (r + 1) * n), out.subarray(r * m, (r + 1) * m));
    return out;
  };
  const base = { forward, y: new Float64Array(m), theta0: new Float64Array(n), ensembleSize: 10, seed: 5, module: mod };
  const tol = await minimize({ ...base, tolerance: 1e-10, maxIterations: 5000 });
  assert.is(tol.reason, 'tolerance');
  assert.ok(tol.loss <= 1e-10 && tol.loss < tol.history[0].lossBefore);
  assert.ok(relativeError(tol.theta, new Float64Array(n).fill(1)) < 1e-4);
  let seen = 0;
  const cb = await minimize({ ...base, maxIterations: 100, onIteration: () => ++seen < 7 });
  assert.is(cb.reason, 'callback');
  assert.is(cb.history.length, 7);
  const ac = new AbortController();
  const ab = await minimize({ ...base, maxIterations: 100, signal: ac.signal, onIteration: (d) => { if (d.iteration === 3) ac.abort(); } });
  assert.is(ab.reason, 'aborted');
  assert.is(ab.history.length, 4);
  // a model whose every candidate is worse: implicit filtering shrinks σ to sigmaMin
  let evals = 0;
  const worse: ForwardFunction = (thetas, k) => {
    evals++;
    const out = forward(thetas, k);
    if (k === 1 && evals > 1) out.fill(1e3);
    return out;
  };
  const sm = await minimize({ ...base, forward: worse, sigma: 1, sigmaMin: 0.1, maxIterations: 100 });
  assert.is(sm.reason, 'sigmaMin');
  assert.is(sm.history.length, 4, 'σ: 1 → ½ → ¼ → ⅛ → 1/16 < 0.1');
  assert.equal(Array.from(sm.theta), new Array(n).fill(0));
  evals = 0;
  const st = await minimize({ ...base, forward: worse, sigmaSchedule: 'constant', patience: 3, maxIterations: 100 });
  assert.is(st.reason, 'stalled');
  assert.is(st.history.length, 3);
});

test('failures: θ stays at its last good value and the error names the cause', async () => {
  const m = 8;
  const n = 4;
  let calls = 0;
  // finite for 20 calls (several iterations), then every member fails
  const forward: ForwardFunction = (thetas, k) => {
    calls++;
    const out = new Float64Array(k * m);
    // inconsistent targets 1 and 2 for each parameter: the minimum loss is positive
    for (let r = 0; r < k; r++) for (let i = 0; i < m; i++) out[r * m + i] = thetas[r * n + (i % n)] - (i < n ? 1 : 2);
    if (calls > 20 && k > 1) out.fill(NaN);
    return out;
  };
  try {
    await minimize({
      forward, y: new Float64Array(m), theta0: new Float64Array(n), ensembleSize: 4, maxMembers: 4, maxRedraws: 3,
      maxIterations: 100, module: mod,
    });
    assert.unreachable('should fail');
  } catch (e) {
    assert.instance(e, MinimizeError);
    assert.instance(e, OptimizationError);
    const err = e as MinimizeError;
    assert.match(err.message, /finite outputs/);
    assert.match(err.message, /after 3 redraws/);
    assert.ok(err.history.length >= 3);
    assert.ok(err.history.every((d) => Number.isFinite(d.loss)));
    assert.ok(err.theta.every(Number.isFinite));
    // θ is the last accepted iterate: its loss is the last reported loss
    const r = err.theta;
    let phi = 0;
    for (let i = 0; i < m; i++) phi += 0.5 * (r[i % n] - (i < n ? 1 : 2)) ** 2;
    assert.ok(Math.abs(phi - err.history[err.history.length - 1].loss) < 1e-12);
  }
  // a user error inside forward comes as a MinimizeError whose cause is the original
  const boom = new Error('model crashed');
  await minimize({ forward: () => { throw boom; }, y: new Float64Array(2), theta0: new Float64Array(2), module: mod })
    .then(() => assert.unreachable('should reject'), (e) => {
      assert.instance(e, MinimizeError);
      assert.is((e as MinimizeError).cause, boom);
      assert.match((e as Error).message, /^forward threw: model crashed/);
      assert.equal(Array.from((e as MinimizeError).theta), [0, 0], 'no iteration finished: θ₀');
    });
});

test('ask/tell: a wrong-length tell keeps the request; all-NaN members trigger a redraw at σ/2', async () => {
  const m = 12;
  const n = 5;
  const { y, forward } = linearProblem(m, n, 13);
  const opt = await createAskTell({ theta0: new Float64Array(n), y, ensembleSize: 4, seed: 2, maxIterations: 3, module: mod });
  const first = opt.ask(); // θ_t, then the 4 members
  assert.is(first.length, 5 * n);
  assert.throws(() => opt.tell(new Float64Array(m + 1)), (e: Error) => e instanceof RangeError && /expected 5 × 12 = 60/.test(e.message));
  assert.is(opt.pending, 5, 'the request is still pending');
  const center = first.slice(0, n);
  const members = first.slice(n);
  // F(θ_t) finite, every member NaN
  const outputs = new Float64Array(5 * m).fill(NaN);
  outputs.set(forward(center, 1));
  assert.is(opt.tell(outputs), undefined, 'the iteration continues');
  const redrawn = opt.ask();
  assert.is(redrawn.length, 4 * n, 'the members are drawn again (F(θ_t) is kept)');
  // a fresh draw at half the radius: |row − θ| shrinks by about 2 on average
  let before = 0;
  let after = 0;
  for (let i = 0; i < 4 * n; i++) {
    before += Math.abs(members[i] - center[i % n]);
    after += Math.abs(redrawn[i] - center[i % n]);
  }
  assert.ok(after < before, `redraw radius ${after} vs ${before}`);
  let d = opt.tell(forward(redrawn, 4));
  while (!d) d = opt.tell(forward(opt.ask(), opt.pending));
  assert.is(d.redraws, 1);
  assert.is(d.dropped, 4);
  assert.ok(Math.abs(d.sigma - NLB_DEFAULTS.sigma / 2) < 1e-15);
  while (!opt.done) opt.tell(forward(opt.ask(), opt.pending));
  assert.is(opt.history.length, 3);
  assert.ok(opt.theta().every(Number.isFinite));
  opt.dispose();
});

test('bad arguments throw typed errors before any forward evaluation', async () => {
  let calls = 0;
  const forward: ForwardFunction = (t, k) => { calls++; return new Float64Array(k * 3); };
  const ok = { forward, y: new Float64Array(3), theta0: new Float64Array(2), module: mod };
  const cases: [object, RegExp, ErrorConstructor][] = [
    [{ theta0: new Float64Array([1, NaN]) }, /theta0\[1\] is NaN/, RangeError],
    [{ theta0: [] }, /theta0 is empty/, RangeError],
    [{ theta0: 'abc' }, /theta0 must be/, TypeError],
    [{ y: new Float64Array([1, Infinity, 0]) }, /y\[1\] is Infinity/, RangeError],
    [{ ensembleSize: 0 }, /ensembleSize must be an integer in \[1, 4096\]; got 0/, RangeError],
    [{ ensembleSize: 2.5 }, /ensembleSize/, RangeError],
    [{ optimizer: 'adam' }, /optimizer must be one of 'nlb', 'eki'/, TypeError],
    [{ loss: 'l1' }, /loss must be one of/, TypeError],
    [{ sigmaa: 1 }, /Unknown option 'sigmaa'/, TypeError],
    [{ optimizer: 'eki', sigma: 1 }, /belongs to optimizer 'nlb'/, TypeError],
    [{ spread: 1 }, /belongs to optimizer 'eki'/, TypeError],
    [{ forward: 3 }, /forward must be a function/, TypeError],
    [{ maxIterations: -1 }, /maxIterations/, RangeError],
    [{ noiseCovariance: [1, 2] }, /noiseCovariance has 2 values; expected 3/, RangeError],
    [{ loss: 'cross-entropy', y: new Int32Array([0, 1, 5]), classes: 3 }, /class id 5/, RangeError],
    [{ loss: 'cross-entropy', y: new Float64Array([0, 0.5]) }, /class ids/, RangeError],
    [{ signal: {} }, /AbortSignal/, TypeError],
  ];
  for (const [patch, re, type] of cases) {
    await minimize({ ...ok, ...patch } as never).then(
      () => assert.unreachable(`should reject ${JSON.stringify(patch)}`),
      (e) => {
        assert.instance(e, type, `${JSON.stringify(patch)} → ${e}`);
        assert.match((e as Error).message, re);
      },
    );
  }
  assert.is(calls, 0, 'no forward evaluation happened');
  // the output length is checked at the first call, with the expected shape in the message
  await minimize({ ...ok, forward: (_t, k) => new Float64Array(k * 3 + 1) }).then(
    () => assert.unreachable('should reject'),
    (e) => {
      assert.instance(e, RangeError);
      assert.match((e as Error).message, /forward returned (\d+) values for (\d+) parameter vectors; expected \2 × 3 = /);
    },
  );
});

test('memory: n = 10⁶, m = 10³, k = 32 least squares grows wasm + JS memory by < 64 MB beyond θ and the data', async () => {
  const n = 1_000_000;
  const m = 1000;
  const block = n / m;
  // F_i(θ) = Σ_{j in block i} w_j θ_j: a cheap linear forward model
  const theta0 = new Float64Array(n);
  const y = Float64Array.from({ length: m }, (_, i) => Math.sin(i));
  const fresh = await loadModule();
  const wasmBefore = fresh.memory.buffer.byteLength;
  const base = process.memoryUsage();
  let peak = 0;
  const sample = () => {
    const u = process.memoryUsage();
    peak = Math.max(peak, u.heapUsed + u.arrayBuffers - base.heapUsed - base.arrayBuffers);
  };
  const forward: ForwardFunction = (thetas, k) => {
    const out = new Float64Array(k * m);
    for (let r = 0; r < k; r++) {
      for (let i = 0; i < m; i++) {
        let s = 0;
        const b = r * n + i * block;
        for (let j = 0; j < block; j++) s += thetas[b + j] * (1 + (j & 7) * 0.125);
        out[r * m + i] = s;
      }
    }
    sample();
    return out;
  };
  const res = await minimize({ forward, y, theta0, ensembleSize: 32, maxIterations: 2, module: fresh, onIteration: sample });
  const wasmGrowth = fresh.memory.buffer.byteLength - wasmBefore;
  const total = wasmGrowth + peak;
  assert.ok(res.history[1].loss < res.history[0].lossBefore, 'the fit progressed');
  assert.ok(total < 64 * 2 ** 20, `growth ${(wasmGrowth / 2 ** 20).toFixed(1)} MB wasm + ${(peak / 2 ** 20).toFixed(1)} MB JS`);
  // an n × k perturbation matrix alone would be 256 MB
  assert.ok(8 * n * 32 > 4 * total);
});

test.run();
