// fit() on the run core: the stopping rules of the process options (the σ schedule's sigmaMin,
// tolerance, patience) end a training run as they end minimize(), each checked against a replay of
// the rule over the logged iterations; and the memberBatch → maxMembers rename (a clear error for
// the old name, an old saved state still resumes bit-identically). Every random draw is seeded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModule } from '../bindings/wasm.js';
import { mlp } from '../bindings/nn/mlp.js';
import { fit, type FitIteration } from '../bindings/nn/fit.js';
import { blobs } from './nn-oracle.js';

const module = await loadModule();


const train = blobs(300, 31);
const net = () => mlp([8, 12, 4], { activation: 'tanh', seed: 3, module });
// Long steps without a trust region: some candidates fail the acceptance test.
const bold = { ensembleSize: 8, sigma: 0.05, maxRetries: 1, stepSize: 1.5, trustRegion: Infinity };
const run = (nlb: Record<string, unknown>, iterations = 200) =>
  fit(net(), train.x, train.y, { batchSize: 50, iterations, seed: 4, nlb });

test('implicit filtering under fit stops with reason sigmaMin once σ falls below its floor', async () => {
  const sigmaMin = 5e-4;
  const h = await run({ ...bold, sigmaSchedule: 'implicit-filtering', sigmaMin });
  // Replay the schedule from the accept flags: σ halves after each failed step (sigmaGrow 1).
  let sigma = 0.05;
  let stopAt = -1;
  h.iterations.forEach((d, i) => {
    assert.is(d.sigma, sigma, `σ of iteration ${i}`);
    if (!d.accepted) sigma *= 0.5;
    if (stopAt < 0 && sigma < sigmaMin) stopAt = i;
  });
  assert.ok(stopAt > 0, 'σ fell below sigmaMin within the budget');
  assert.is(h.stopReason, 'sigmaMin');
  assert.is(h.iterations.length, stopAt + 1, 'stops right after the iteration that took σ below its floor');
  assert.ok(h.iterations.length < 200 && h.iterations.some((d) => d.accepted), 'a real run, stopped early');
  // Without a floor in reach the same run uses its whole budget.
  const free = await run({ ...bold, sigmaSchedule: 'implicit-filtering' }, stopAt + 6);
  assert.is(free.stopReason, 'maxIterations');
  assert.is(free.iterations.length, stopAt + 6);
  assert.ok(free.iterations[stopAt + 5].sigma < sigmaMin, 'σ kept shrinking past the floor of the first run');
});

test('patience: fit stops as stalled after `patience` consecutive failed steps', async () => {
  const patience = 3;
  const h = await run({ ...bold, sigmaSchedule: 'constant', patience });
  const flags = h.iterations.map((d) => d.accepted);
  const first = flags.findIndex((_, i) => i + 1 >= patience && flags.slice(i + 1 - patience, i + 1).every((a) => !a));
  assert.ok(first > 0, 'a run of failures within the budget');
  assert.is(h.stopReason, 'stalled');
  assert.is(h.iterations.length, first + 1);
  // Interrupted two failures into the final streak, a resumed run stops where the whole one did.
  const model = net();
  const opts = { batchSize: 50, seed: 4, nlb: { ...bold, sigmaSchedule: 'constant' as const, patience } };
  const part = await fit(model, train.x, train.y, { ...opts, iterations: first });
  assert.is(part.stopReason, 'maxIterations');
  const rest = await fit(model, train.x, train.y, { ...opts, iterations: 200, resume: true });
  assert.is(rest.stopReason, 'stalled');
  assert.is(rest.iteration, first + 1);
});

test('tolerance: fit stops at the first iteration whose batch loss Φ is ≤ tolerance', async () => {
  const tolerance = 0.15;
  const h = await run({ ensembleSize: 8, sigma: 0.05, tolerance });
  const losses = h.iterations.map((d: FitIteration) => d.loss);
  assert.is(h.stopReason, 'tolerance');
  assert.ok(losses[losses.length - 1] <= tolerance, `last loss ${losses[losses.length - 1]}`);
  assert.ok(losses.slice(0, -1).every((l) => !(l <= tolerance)), 'no earlier iteration met the tolerance');
  assert.ok(losses.length > 3, `${losses.length} iterations`);
  await assert_rejects(run({ tolerance: -1 }), RangeError, /tolerance must be/);
});

test('memberBatch was renamed maxMembers: a clear error, and a saved state holding memberBatch resumes', async () => {
  await assert_rejects(run({ memberBatch: 4 }), TypeError, /'memberBatch' for the nlb optimizer was renamed to 'maxMembers'/);
  const opts = { batchSize: 50, seed: 4, nlb: { ensembleSize: 6, maxMembers: 4 } };
  const whole = net();
  await fit(whole, train.x, train.y, { ...opts, iterations: 8 });
  const part = net();
  await fit(part, train.x, train.y, { ...opts, iterations: 5 });
  // The state as an earlier release wrote it: the option under its old name, in the same place.
  const st = part.trainingState as { optimizerOptions: Record<string, unknown> };
  st.optimizerOptions = Object.fromEntries(Object.entries(st.optimizerOptions).map(([k, v]) => [k === 'maxMembers' ? 'memberBatch' : k, v]));
  assert.ok('memberBatch' in st.optimizerOptions && !('maxMembers' in st.optimizerOptions));
  const h = await fit(part, train.x, train.y, { ...opts, iterations: 8, resume: true });
  assert.equal(h.iterations.map((d) => d.iteration), [5, 6, 7]);
  assert.equal(Array.from(part.params), Array.from(whole.params));
});

async function assert_rejects(p: Promise<unknown>, type: new (...a: never[]) => Error, pattern: RegExp) {
  try {
    await p;
  } catch (e) {
    assert.instance(e, type);
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected ${type.name} matching ${pattern}`);
}

test.run();
