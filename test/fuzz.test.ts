// The fault and fuzz suite (seeded): hostile option objects and shapes against the public entry
// points, corrupted model files, aborts at random points, use after dispose of every disposable,
// and two problems sharing one module. Every outcome must be a result or a typed error — never a
// raw engine error, a hang, a leak, or a change to another live problem on the same module (the
// sentinel). Cases that fail today because of a defect outside this suite's files are listed in
// KNOWN_DEFECTS: they are counted and reported, not failed, until the fix is merged and the entry
// removed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadModule, minimize, createAskTell, fit, mlp, loadModel, saveModel, FormatError, MinimizeError, ModelFileError,
} from '../bindings/index.js';
import {
  Workspace, bytesInUse, createNlb, createEki, LeastSquares, CrossEntropy, MlpEvaluator, ParallelMlpEvaluator, liveWorkerCount,
  encodeModel, decodeModel, crc32, parameterCount, WorkerAbortError, LastLayerSolver, type Optimizer, type Objective, type AskTell,
} from '../bindings/internal.js';
import { Fuzz, Sentinel, count, describeOutcome, outcome, tally, workspaceDigest, type Outcome } from './fuzz-lib.js';

type Matcher = (o: Outcome, what: string) => boolean;
const rawAt = (file: string, message: RegExp): Matcher => (o) =>
  o.kind === 'raw' && message.test(String((o.error as Error)?.message)) && origin(o.error).startsWith(file);

/**
 * Defects in files this suite does not own, found by it. Each entry excuses exactly the outcomes
 * its `matches` recognizes (scenario tests check `knownDefect(id)` instead): they are counted and
 * printed, not failed. Remove an entry once its fix is merged: its cases then fail unless fixed.
 */
const KNOWN_DEFECTS: { id: string; owner: string; note: string; matches?: Matcher }[] = [];
const excused = new Map<string, number>();
/** True (and counted) when `id` is a listed known defect. */
function knownDefect(id: string): boolean {
  if (!KNOWN_DEFECTS.some((d) => d.id === id)) return false;
  excused.set(id, (excused.get(id) ?? 0) + 1);
  tally.knownDefect++;
  return true;
}

const mod = await loadModule();
const sentinel = await Sentinel.create(mod);
const TIMEOUT = 4000;

/** After a case: the sentinel untouched, no buffer left behind, no worker left running. */
function afterCase(what: string, baseline: number): void {
  sentinel.check(what);
  const now = bytesInUse(mod);
  if (now !== baseline) assert.unreachable(`${what}: ${now - baseline} bytes of module memory left behind`);
  if (liveWorkerCount() !== 0) assert.unreachable(`${what}: ${liveWorkerCount()} worker threads left running`);
}

// The first frame of an error's stack inside bindings/ (where the raw error came from).
function origin(e: unknown): string {
  const line = ((e as Error)?.stack ?? '').split('\n').find((l) => l.includes('/bindings/'));
  return line ? line.replace(/^.*\/bindings\//, 'bindings/').replace(/\)?$/, '') : '(no bindings frame)';
}

/** Raw errors and hangs found by one test: `signature` → first case and count. Failed at the end of the test. */
class Findings {
  private readonly seen = new Map<string, { first: string; count: number }>();
  /** Records a raw error or a hang unless a known defect excuses it. */
  check(what: string, o: Outcome): void {
    if (o.kind === 'result' || o.kind === 'typed') return;
    const defect = KNOWN_DEFECTS.find((d) => d.matches?.(o, what));
    if (defect && knownDefect(defect.id)) return;
    const sig = o.kind === 'hang' ? `hang in ${what.split(' (')[0].replace(/ \d+$/, '')}`
      : `${(o.error as Error)?.constructor?.name}: ${String((o.error as Error)?.message).slice(0, 90)} at ${origin(o.error)}`;
    if (o.kind === 'hang') tally.hangFailures++;
    else tally.rawFailures++;
    const f = this.seen.get(sig);
    if (f) f.count++;
    else this.seen.set(sig, { first: what, count: 1 });
  }
  assertNone(): void {
    const list = [...this.seen].map(([sig, f]) => `${sig} — ${f.count}×, first ${f.first}`);
    assert.equal(list, [], `\n${list.join('\n')}`);
  }
}

// ---- A black-box problem for minimize / ask-tell: F_r(θ)_i = (i + 1)·θ_{i mod n}, k rows at once.

const N = 4;
const M = 6;
const Y = Float64Array.from({ length: M }, (_, i) => Math.sin(i + 1));
const linear = (thetas: Float64Array, k: number, m: number, n: number) =>
  Float64Array.from({ length: k * m }, (_, i) => (1 + (i % m)) * thetas[Math.floor(i / m) * n + ((i % m) % n)]);

const PROBLEM_KEYS = ['y', 'theta0', 'loss', 'optimizer', 'noiseCovariance', 'classes', 'module', 'maxIterations', 'tolerance',
  'gradientTolerance', 'patience', 'ensembleSize', 'sigma', 'sigmaSchedule', 'sigmaDecay', 'sigmaShrink', 'sigmaGrow', 'sigmaMin',
  'sigmaMax', 'alpha', 'alphaUp', 'alphaDown', 'dampingControl', 'alphaMin', 'alphaMax', 'acceptance', 'maxRetries', 'stepSize',
  'stepDecay', 'trustRegion', 'lambda', 'antithetic', 'seed', 'maxMembers', 'maxRedraws', 'spread', 'step', 'adaptiveStep',
  'perturbedObservations', 'noise', 'inflation'];
const BUDGET_KEYS = new Set(['maxIterations', 'iterations', 'epochs', 'maxRedraws', 'maxRetries', 'patience', 'validationEvery']);

/** A hostile shape for y / θ₀: wrong lengths, other containers, non-numbers inside. */
function shape(f: Fuzz, length: number): unknown {
  return f.pick<() => unknown>([
    () => new Float64Array(f.int(0, 9)).map(() => f.rand()), () => Array.from({ length }, () => f.rand()),
    () => Int32Array.from({ length }, () => f.int(0, 3)), () => Array.from({ length }, (_, i) => (i === 1 ? f.garbage() : 0.5)),
    () => new Float32Array(length).fill(NaN), () => new Float64Array(f.int(2000, 3000)), () => f.garbage(), () => [[1, 2], [3, 4]],
    () => new Uint8Array(length), () => 'abcdef',
  ])();
}

// Budgets stay small: a legal huge budget is not a fault, only slow. Huge values become ones the
// API must reject (above 2^53 for integers, Infinity for epochs).
function tame(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (BUDGET_KEYS.has(k) && typeof v === 'number' && Number.isFinite(v) && v > 60) o[k] = k === 'epochs' ? Infinity : 2 ** 53 + 2;
    if (k === 'workers' && typeof v === 'number' && Number.isInteger(v) && v > 1 && v <= 64) o[k] = 1;
  }
  return o;
}

type ForwardKind = 'sync' | 'async' | 'wrong-length' | 'nan' | 'throws' | 'rejects' | 'null' | 'string' | 'array';

/** The harness's forward functions; each counts its calls and aborts the watchdog after `limit`. */
function forwardOf(kind: ForwardKind, m: number, n: number, tick: () => void) {
  return (t: Float64Array, k: number): unknown => {
    tick();
    const v = linear(t, k, m, n);
    switch (kind) {
      case 'sync': return v;
      case 'async': return Promise.resolve().then(() => v);
      case 'wrong-length': return v.subarray(0, Math.max(0, v.length - 1));
      case 'nan': return v.fill(NaN);
      case 'throws': throw new Error('forward failed');
      case 'rejects': return Promise.reject(new Error('forward failed'));
      case 'null': return null;
      case 'string': return 'x'.repeat(v.length);
      case 'array': return Array.from(v);
    }
  };
}

// The outputs a problem built from `o` expects per member (a guess from valid-looking options).
function outputsOf(o: Record<string, unknown>): number {
  const y = o.y as ArrayLike<number> | undefined;
  const len = y && typeof y === 'object' && typeof y.length === 'number' ? y.length : M;
  if (o.loss !== 'cross-entropy') return len;
  const classes = typeof o.classes === 'number' ? o.classes : Math.max(2, ...Array.from(y ?? [], (v) => Number(v) + 1));
  return len * (Number.isFinite(classes) ? classes : 2);
}

function problemOptions(f: Fuzz): Record<string, unknown> {
  const base: Record<string, unknown> = { y: Y, theta0: new Float64Array(N).fill(0.1), maxIterations: 4, ensembleSize: 6, seed: f.int(0, 99), module: mod };
  if (f.chance(0.2)) Object.assign(base, { loss: 'cross-entropy', y: Int32Array.from([0, 1, 2, 1]), classes: 3 });
  if (f.chance(0.25)) base.optimizer = 'eki';
  const o = f.mutate(base, PROBLEM_KEYS, f.int(0, 3));
  if (f.chance(0.15)) o.y = shape(f, M);
  if (f.chance(0.15)) o.theta0 = shape(f, N);
  return tame(o);
}

test('fuzz: minimize with hostile options, shapes and forward functions', async () => {
  const f = new Fuzz(101);
  const base = bytesInUse(mod);
  const findings = new Findings();
  for (let c = 0; c < 320; c++) {
    const o = problemOptions(f);
    const watchdog = new AbortController();
    let calls = 0;
    const tick = () => { if (++calls === 300) watchdog.abort(); };
    const kind = f.pick<ForwardKind>(['sync', 'sync', 'async', 'async', 'wrong-length', 'nan', 'throws', 'rejects', 'null', 'string', 'array']);
    const theta0 = o.theta0 as ArrayLike<number>;
    const n = theta0 && typeof theta0 === 'object' && typeof theta0.length === 'number' ? theta0.length : N;
    o.forward = f.chance(0.05) ? f.garbage() : forwardOf(kind, outputsOf(o), n, tick);
    o.signal = f.chance(0.05) ? f.pick([null, {}, 'abort', AbortSignal.abort()]) : watchdog.signal;
    const onIteration = f.int(0, 9);
    if (onIteration === 0) o.onIteration = () => { throw new Error('onIteration failed'); };
    else if (onIteration === 1) o.onIteration = (d: { iteration: number }) => d.iteration < 1;
    else if (onIteration === 2) o.onIteration = f.garbage();
    const what = `minimize case ${c} (${kind}, ${JSON.stringify(Object.keys(o))})`;
    const r = count(await outcome(() => minimize(o as never), TIMEOUT));
    findings.check(what, r);
    if (r.kind === 'result') {
      const res = r.value as { theta: Float64Array; history: unknown[] };
      assert.is(res.theta.length, n, what);
    }
    if (r.kind === 'typed' && r.error instanceof MinimizeError) assert.is(r.error.theta.length, n, `${what}: MinimizeError.theta`);
    afterCase(what, base);
  }
  findings.assertNone();
});

test('fuzz: createAskTell with hostile options, shapes and tell() values', async () => {
  const f = new Fuzz(202);
  const base = bytesInUse(mod);
  const findings = new Findings();
  for (let c = 0; c < 260; c++) {
    const o = problemOptions(f);
    const what = `ask/tell case ${c} (${JSON.stringify(Object.keys(o))})`;
    let problem: AskTell | undefined;
    const r = count(await outcome(async () => {
      problem = await createAskTell(o as never);
      const m = problem.m;
      for (let round = 0; round < 40 && !problem.done; round++) {
        const rows = problem.ask();
        const k = rows.length / problem.n;
        const bad = f.int(0, 24);
        const out = bad === 0 ? f.garbage() : bad === 1 ? new Float64Array(k * m + 1) : bad === 2 ? new Float64Array(k * m).fill(NaN)
          : linear(rows, k, m, problem.n);
        problem.tell(out as ArrayLike<number>);
      }
      return problem.theta();
    }, TIMEOUT));
    problem?.dispose();
    findings.check(what, r);
    afterCase(what, base);
  }
  findings.assertNone();
});

// ---- Networks: fit and mlp.

const ROWS = 32;
const X = Float32Array.from({ length: ROWS * 4 }, (_, i) => Math.sin(7 * i));
const LABELS = Int32Array.from({ length: ROWS }, (_, r) => (X[4 * r] > 0 ? (X[4 * r + 1] > 0 ? 2 : 1) : 0));
const FIT_KEYS = ['optimizer', 'nlb', 'eki', 'batchSize', 'epochs', 'iterations', 'seed', 'validationData', 'validationEvery', 'callbacks',
  'earlyStopping', 'yieldEvery', 'signal', 'module', 'resume', 'averaging', 'exactLastLayer', 'workers'];

function matrixShape(f: Fuzz): unknown {
  return f.pick<() => unknown>([
    () => X, () => X, () => ({ data: X, shape: [ROWS, 4] }), () => ({ data: X, shape: [ROWS, 5] }), () => ({ data: X, shape: [-1, 4] }),
    () => X.subarray(0, 4 * f.int(0, 3) + f.int(0, 3)), () => Array.from({ length: 8 }, (_, r) => Array.from(X.subarray(4 * r, 4 * r + 4))),
    () => [[1, 2, 3], [4, 5, 6, 7]], () => new Float64Array(ROWS * 4).fill(Infinity), () => f.garbage(), () => ({ data: null, shape: [1, 4] }),
  ])();
}

function labelShape(f: Fuzz): unknown {
  return f.pick<() => unknown>([
    () => LABELS, () => LABELS, () => Array.from(LABELS), () => LABELS.subarray(0, f.int(0, ROWS - 1)), () => LABELS.map(() => 3),
    () => Float64Array.from(LABELS, (v) => v + 0.5), () => Uint8Array.from(LABELS), () => f.garbage(), () => LABELS.map(() => -1),
  ])();
}

test('fuzz: fit with hostile options, data shapes and callbacks (workers 0 and 1)', async () => {
  const f = new Fuzz(303);
  const base = bytesInUse(mod);
  const findings = new Findings();
  for (let c = 0; c < 200; c++) {
    const watchdog = new AbortController();
    let iterations = 0;
    const base0: Record<string, unknown> = {
      iterations: 3, batchSize: 8, module: mod, signal: watchdog.signal, nlb: { ensembleSize: 6 },
      callbacks: { onIterationEnd: () => { if (++iterations >= 40) watchdog.abort(); } },
    };
    const o = tame(f.mutate(base0, FIT_KEYS, f.int(0, 3)));
    if (f.chance(0.15)) o.nlb = tame(f.mutate({ ensembleSize: 6 }, PROBLEM_KEYS, f.int(1, 2)));
    if (f.chance(0.05)) o.callbacks = { onIterationEnd: () => { throw new Error('callback failed'); } };
    if (f.chance(0.05)) o.workers = 1;
    const x = f.chance(0.2) ? matrixShape(f) : X;
    const labels = f.chance(0.2) ? labelShape(f) : LABELS;
    const model = f.chance(0.05) ? f.garbage() : mlp([4, 5, 3], { seed: c, module: mod });
    const what = `fit case ${c} (${JSON.stringify(Object.keys(o))})`;
    const r = count(await outcome(() => fit(model as never, x as never, labels as never, o as never), TIMEOUT));
    // A throwing callback's error passes through fit as it is (documented); the others must be typed.
    if (r.kind === 'raw' && (r.error as Error)?.message === 'callback failed') tally.clearErrors++;
    else findings.check(what, r);
    afterCase(what, base);
  }
  findings.assertNone();
});

test('fuzz: mlp with hostile layers and options; predict/evaluate with hostile data', async () => {
  const f = new Fuzz(404);
  const base = bytesInUse(mod);
  const findings = new Findings();
  for (let c = 0; c < 300; c++) {
    const layers = f.pick<() => unknown>([
      () => [4, 5, 3], () => [4, f.int(0, 3)], () => [f.garbage(), 3], () => f.garbage(), () => [4, 2 ** 21, 3], () => [4],
      () => Array.from({ length: f.int(2, 5) }, () => f.int(1, 6)), () => [4, 5.5, 3], () => new Int32Array([4, 3]),
    ])();
    const options = f.chance(0.7) ? f.mutate({ activation: 'relu', seed: 1, module: mod }, ['activation', 'seed', 'init', 'module', 'params'], f.int(0, 2)) : f.garbage();
    const what = `mlp case ${c}`;
    const r = count(await outcome(() => {
      const model = mlp(layers as never, options as never);
      if (f.chance(0.5)) model.predict(matrixShape(f) as never);
      else model.evaluate(matrixShape(f) as never, labelShape(f) as never);
      return model;
    }, TIMEOUT));
    // A model without a module says so with a plain Error (no module was given): a clear, typed state error.
    if (r.kind === 'raw' && /has no WebAssembly module/.test((r.error as Error)?.message)) tally.clearErrors++;
    else findings.check(what, r);
    afterCase(what, base);
  }
  findings.assertNone();
});

// ---- Saved files.

const dir = await mkdtemp(join(tmpdir(), 'enkf-fuzz-'));
const trained = mlp([4, 5, 3], { seed: 2, module: mod });
await fit(trained, X, LABELS, { iterations: 3, batchSize: 8, nlb: { ensembleSize: 6 }, averaging: { decay: 0.5 }, earlyStopping: { patience: 3, restoreBest: true } });
const good = encodeModel(trained);

// The file's parts: header JSON and the data after it (sections and CRC excluded).
function split(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
  const start = (16 + hlen + 7) & ~7;
  return { header, data: bytes.slice(start, bytes.length - 4) };
}

// A file with `header` over the same data, with a correct length field, padding and CRC-32.
function assemble(header: unknown, data: Uint8Array, version = 2): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = (16 + json.length + 7) & ~7;
  const bytes = new Uint8Array(start + data.length + 4);
  bytes.set(new TextEncoder().encode('ENKF-MLP'));
  const dv = new DataView(bytes.buffer);
  dv.setUint32(8, version, true);
  dv.setUint32(12, json.length, true);
  bytes.set(json, 16);
  bytes.set(data, start);
  dv.setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
  return bytes;
}

// A hostile value that JSON can hold (what an edited header can contain).
function jsonGarbage(f: Fuzz): unknown {
  for (;;) {
    const v = f.garbage();
    if (typeof v === 'bigint' || typeof v === 'symbol' || typeof v === 'function' || v === undefined) continue;
    return JSON.parse(JSON.stringify(v) ?? 'null');
  }
}

// Every object / array inside a JSON value, with its path, for header edits.
function containers(v: unknown, out: { parent: Record<string, unknown>; key: string }[] = []): typeof out {
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.push({ parent: v as Record<string, unknown>, key: k });
      containers(x, out);
    }
  }
  return out;
}

test('fuzz: corrupted model files (bit flips, truncations, header edits with a recomputed checksum) give a model or a FormatError', async () => {
  const f = new Fuzz(505);
  assert.equal(Array.from(decodeModel(good, { module: mod }).params), Array.from(trained.params), 'the intact file decodes');
  const { header, data } = split(good);
  assert.equal(Array.from(decodeModel(assemble(header, data), { module: mod }).params), Array.from(trained.params), 'reassembled intact');
  const base = bytesInUse(mod);
  const findings = new Findings();
  let valid = 0;
  for (let c = 0; c < 420; c++) {
    let bytes: Uint8Array;
    const kind = c % 4;
    if (kind === 0) {
      bytes = good.slice();
      for (let b = f.int(1, 6); b > 0; b--) bytes[f.int(0, bytes.length - 1)] ^= 1 << f.int(0, 7);
    } else if (kind === 1) {
      bytes = good.slice(0, f.int(0, good.length - 1));
    } else {
      // Header edits with a correct checksum: a field replaced, removed or added; the version or the data edited.
      const h = structuredClone(header);
      const spots = containers(h);
      for (let e = f.int(1, 2); e > 0; e--) {
        const { parent, key } = f.pick(spots);
        const op = f.int(0, 5);
        if (op <= 2) parent[key] = f.chance(0.5) ? jsonGarbage(f) : f.plausible();
        else if (op === 3) delete parent[key];
        else if (op === 4) parent[f.misspell(key)] = f.plausible();
        else parent[key] = f.pick([{ $section: f.int(-1, 9) }, { $number: f.pick(['NaN', 'inf', 3]) }, { $section: 0, x: 1 }, JSON.parse('[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]')]);
      }
      const d = kind === 3 && f.chance(0.5) ? data.subarray(0, f.int(0, data.length)) : data;
      bytes = assemble(h, d, kind === 3 && f.chance(0.3) ? f.pick([0, 1, 3, 2 ** 32 - 1]) : 2);
    }
    const what = `file case ${c} (kind ${kind})`;
    const r = count(await outcome(() => (f.chance(0.5) ? decodeModel(bytes, { module: mod }) : loadModel(bytes, { module: mod })), TIMEOUT));
    if (r.kind === 'typed' && !(r.error instanceof FormatError)) assert.unreachable(`${what}: ${describeOutcome(r)} (a damaged file is a FormatError)`);
    findings.check(what, r);
    if (r.kind === 'result') {
      valid++;
      const model = r.value as ReturnType<typeof mlp>;
      assert.is(model.params.length, parameterCount(model.layers), what);
      model.predict(X);
    }
    afterCase(what, base);
  }
  findings.assertNone();
  assert.ok(valid > 0 && valid < 420, `some edits still give valid models (${valid})`);
});

test('fuzz: loadModel and saveModel with hostile sources, paths and options', async () => {
  const f = new Fuzz(606);
  await writeFile(join(dir, 'empty.enkf'), new Uint8Array(0));
  await writeFile(join(dir, 'text.enkf'), 'hello');
  await mkdir(join(dir, 'sub'));
  const base = bytesInUse(mod);
  const findings = new Findings();
  for (let c = 0; c < 120; c++) {
    const source = f.pick<() => unknown>([
      () => join(dir, 'missing.enkf'), () => join(dir, 'empty.enkf'), () => join(dir, 'text.enkf'), () => join(dir, 'sub'), () => '',
      () => new Blob([good.subarray(0, f.int(0, good.length))]), () => good.buffer.slice(0), () => new DataView(good.buffer), () => f.garbage(),
      () => good,
    ])();
    const options = f.chance(0.8) ? { module: mod } : f.pick([null, { module: {} }, { modul: mod }, 'x', { module: null }]);
    const what = `loadModel case ${c}`;
    const r = count(await outcome(() => loadModel(source as never, options as never), TIMEOUT));
    findings.check(what, r);
    if (c % 4 === 0) {
      // Garbage strings are joined to the temp dir: a fuzzed save never writes into the working directory.
      const g = f.garbage();
      const path = f.pick([join(dir, `m${c}.enkf`), join(dir, 'sub'), join(dir, 'nope', 'x.enkf'), '', typeof g === 'string' && g ? join(dir, g) : g]);
      const real = f.chance(0.9);
      const s = count(await outcome(() => saveModel(real ? trained : (f.garbage() as never), path as never), TIMEOUT));
      findings.check(`saveModel case ${c}`, s);
      // a real model at a usable path string fails only on the file system: a ModelFileError naming it
      if (real && s.kind === 'typed' && typeof path === 'string' && path) assert.instance(s.error, ModelFileError, `saveModel case ${c}`);
    }
    afterCase(what, base);
  }
  findings.assertNone();
});

// ---- Aborts at random points.

test('aborts at random points of minimize (sync and async forwards) stop within one iteration', async () => {
  const f = new Fuzz(707);
  const base = bytesInUse(mod);
  const findings = new Findings();
  for (let c = 0; c < 40; c++) {
    const ac = new AbortController();
    const abortAt = f.int(0, 60);
    const async = c % 2 === 1;
    let calls = 0;
    let iterationAtAbort = -1;
    const history: number[] = [];
    const forward = (t: Float64Array, k: number) => {
      if (calls++ === abortAt) { ac.abort(); iterationAtAbort = history.length; }
      const v = linear(t, k, M, N);
      return async ? new Promise((resolve) => setTimeout(() => resolve(v), 0)) : v;
    };
    const o = { forward, y: Y, theta0: new Float64Array(N).fill(0.1), ensembleSize: 6, maxIterations: 30, seed: c, module: mod, signal: ac.signal,
      optimizer: c % 3 === 0 ? 'eki' as const : 'nlb' as const, onIteration: (d: { iteration: number }) => { history.push(d.iteration); } };
    if (f.chance(0.1)) ac.abort();
    const what = `minimize abort case ${c} (abort at call ${abortAt}, ${async ? 'async' : 'sync'})`;
    const r = count(await outcome(() => minimize(o), TIMEOUT));
    findings.check(what, r);
    assert.is(r.kind, 'result', what);
    const res = (r as { value: { reason: string; history: unknown[] } }).value;
    if (ac.signal.aborted) {
      assert.is(res.reason, 'aborted', what);
      if (iterationAtAbort >= 0) assert.ok(res.history.length <= iterationAtAbort + 1, `${what}: ${res.history.length} iterations`);
    } else {
      assert.is(res.reason, 'maxIterations', what);
    }
    afterCase(what, base);
  }
  findings.assertNone();
});

test('aborts at random points of fit (workers 0 and 1: before, during and after iterations) stop within a bound', async () => {
  const f = new Fuzz(808);
  const base = bytesInUse(mod);
  const findings = new Findings();
  for (let c = 0; c < 16; c++) {
    const workers = c % 2;
    const ac = new AbortController();
    const abortAt = f.int(-1, 8);
    const timer = workers === 1 && f.chance(0.5) ? f.int(0, 40) : -1;
    let t = -1;
    if (abortAt === -1) ac.abort();
    if (timer >= 0) setTimeout(() => ac.abort(), timer);
    const model = mlp([4, 5, 3], { seed: c, module: mod });
    const what = `fit abort case ${c} (workers ${workers}, at ${timer >= 0 ? `${timer} ms` : `iteration ${abortAt}`})`;
    const r = count(await outcome(() => fit(model, X, LABELS, {
      iterations: 400, batchSize: 8, nlb: { ensembleSize: 6 }, workers, signal: ac.signal, module: mod,
      callbacks: { onIterationEnd: (d) => { t = d.iteration; if (timer < 0 && d.iteration === abortAt) ac.abort(); } },
    }), TIMEOUT));
    // Abort while workers were still starting: a WorkerAbortError until fit maps it to stopReason 'aborted'.
    if (r.kind === 'typed' && r.error instanceof WorkerAbortError) tally.clearErrors++;
    else {
      findings.check(what, r);
      assert.is(r.kind, 'result', `${what}: ${describeOutcome(r)}`);
      const h = (r as { value: { stopReason: string; iterations: unknown[] } }).value;
      assert.is(h.stopReason, 'aborted', what);
      if (timer < 0) assert.is(h.iterations.length, abortAt + 1, what);
      assert.ok(h.iterations.length < 400, what);
    }
    void t;
    afterCase(what, base);
    // After the run: aborting again changes nothing.
    ac.abort();
  }
  findings.assertNone();
});

test('aborts at random points of a parallel NLB run (ParallelMlpEvaluator with a signal): done or a WorkerAbortError, within a bound', async () => {
  const f = new Fuzz(818);
  const base = bytesInUse(mod);
  const findings = new Findings();
  const opts = { layers: [4, 16, 3], activation: 'tanh' as const, batchSize: 16, maxMembers: 9 };
  for (let c = 0; c < 10; c++) {
    const ac = new AbortController();
    const at = f.int(0, 400);
    const what = `parallel abort case ${c} (at ${at} ms)`;
    let aborted = -1;
    setTimeout(() => { aborted = performance.now(); ac.abort(); }, at);
    const ws = new Workspace(mod);
    let ev: ParallelMlpEvaluator | undefined;
    let steps = 0;
    const r = count(await outcome(async () => {
      ev = await ParallelMlpEvaluator.create(mod, opts, X, 1, { signal: ac.signal });
      const opt = createNlb(ws, new Float64Array(ev.n).fill(0.05), { ensembleSize: 8, seed: c });
      const obj = new CrossEntropy(ws, 3, new Int32Array(16));
      try {
        for (; steps < 400; steps++) {
          const rows = Int32Array.from({ length: 16 }, (_, i) => (steps * 16 + i) % ROWS);
          ev.setBatch(X, rows);
          obj.setLabels(Array.from(rows, (i) => LABELS[i]));
          await opt.stepAsync(ev, obj);
        }
      } finally {
        opt.dispose();
        obj.dispose();
      }
    }, TIMEOUT));
    const end = performance.now();
    await (ev as ParallelMlpEvaluator | undefined)?.close();
    ws.dispose();
    if (r.kind === 'typed' && r.error instanceof WorkerAbortError) {
      tally.clearErrors++;
      assert.ok(end - aborted < 1000, `${what}: ended ${end - aborted} ms after the abort`);
    } else {
      findings.check(what, r);
      assert.is(r.kind, 'result', `${what}: ${describeOutcome(r)}`);
    }
    afterCase(what, base);
  }
  findings.assertNone();
});

// ---- Use after dispose.

/** Calls every method of a disposed object: each must throw an Error mentioning dispose/close, and
 *  a problem on the memory just freed (a fresh Workspace filled with a pattern) must stay untouched. */
async function refusesAll(what: string, calls: [string, () => unknown][], pattern?: RegExp): Promise<string[]> {
  const victim = new Workspace(mod);
  const bufs = [victim.f64(64), victim.f32(256), victim.f64(512), victim.i32(64)];
  bufs.forEach((b, i) => b.view().fill(i + 0.5));
  const before = workspaceDigest(victim);
  const failures: string[] = [];
  for (const [name, call] of calls) {
    const r = count(await outcome(call, TIMEOUT));
    const ok = r.kind !== 'result' && r.kind !== 'hang' && r.error instanceof Error && (pattern ?? /disposed|closed/).test(r.error.message);
    if (!ok) failures.push(`${what}.${name}: ${describeOutcome(r)}`);
    else tally.clearErrors++;
    if (workspaceDigest(victim) !== before) failures.push(`${what}.${name}: wrote into memory freed by dispose`);
    sentinel.check(`${what}.${name}`);
  }
  victim.dispose();
  return failures;
}

const lsq = (ws: Workspace) => new LeastSquares(ws, Y);
const directEvaluator = { n: N, m: M, evaluate: (rows: { view(): Float64Array }, k: number, out: { view(): Float64Array }) => { out.view().set(linear(rows.view(), k, M, N)); } };

test('use after dispose: optimizers, objectives, evaluators and workspaces refuse every call', async () => {
  const failures: string[] = [];
  for (const make of [(ws: Workspace) => createNlb(ws, new Float64Array(N), { ensembleSize: 6, seed: 1 }), (ws: Workspace) => createEki(ws, new Float64Array(N), { ensembleSize: 6, seed: 1 })]) {
    const ws = new Workspace(mod);
    const obj = lsq(ws);
    const opt: Optimizer = make(ws);
    opt.step(directEvaluator as never, obj);
    const state = opt.saveState();
    opt.dispose();
    opt.dispose();
    failures.push(...await refusesAll(`${opt.kind} optimizer`, [
      ['step', () => opt.step(directEvaluator as never, obj)], ['stepAsync', () => opt.stepAsync(directEvaluator as never, obj)],
      ['theta', () => opt.theta()], ['thetaBuf', () => opt.thetaBuf().view()], ['saveState', () => opt.saveState()],
      ['loadState', () => opt.loadState(state)], ['iterate', () => opt.iterate(obj).next()],
      ...(opt.setTheta ? [['setTheta', () => opt.setTheta!(new Float64Array(N))] as [string, () => unknown]] : []),
    ]));
    obj.dispose();
    ws.dispose();
  }
  const objectiveFailures: string[] = [];
  const lastLayerFailures: string[] = [];
  for (const make of [lsq, (ws: Workspace) => new CrossEntropy(ws, 3, Int32Array.from([0, 1]))]) {
    const ws = new Workspace(mod);
    const obj = make(ws) as Objective & { dispose(): void; setTarget?(y: ArrayLike<number>): void; setLabels?(l: ArrayLike<number>): void };
    const F = ws.f64(6 * obj.m);
    const k = ws.f64(64);
    obj.dispose();
    obj.dispose();
    objectiveFailures.push(...await refusesAll(`${obj.kind} objective`, [
      ['system', () => obj.system(2, F.ptr, F.ptr, k.ptr, k.byteOffset(8))], ['losses', () => obj.losses(2, F.ptr, k.ptr)],
      ['innerGradients', () => obj.innerGradients(2, F.ptr, F.ptr, 0, k.ptr, k.byteOffset(16))],
      ...(obj.setTarget ? [['setTarget', () => obj.setTarget!(Y)] as [string, () => unknown]] : []),
      ...(obj.setLabels ? [['setLabels', () => obj.setLabels!([1, 0])] as [string, () => unknown]] : []),
    ]));
    ws.dispose();
  }
  {
    const ws = new Workspace(mod);
    const opts = { layers: [4, 5, 3], activation: 'tanh' as const, batchSize: 8, maxMembers: 4 };
    const ev = new MlpEvaluator(mod, opts);
    const theta = ws.f64(ev.n);
    const out = ws.f64(4 * ev.m);
    ev.dispose();
    ev.dispose();
    const req = { theta, sigma: 0.1, seed: 1, draw: 0, member0: 0, count: 2, antithetic: false, center: true };
    failures.push(...await refusesAll('MlpEvaluator', [
      ['setBatch', () => ev.setBatch(X, new Int32Array(8))], ['evaluate', () => ev.evaluate(theta, 1, out)],
      ['evaluatePerturbed', () => ev.evaluatePerturbed(req, out)],
    ]));
    const par = await ParallelMlpEvaluator.create(mod, opts, X, 1);
    await par.close();
    await par.close();
    failures.push(...await refusesAll('ParallelMlpEvaluator', [
      ['setBatch', () => par.setBatch(X, new Int32Array(8))], ['evaluate', () => par.evaluate(theta, 1, out)],
      ['evaluatePerturbed', () => par.evaluatePerturbed(req, out)],
    ]));
    ws.dispose();
    const solver = new LastLayerSolver(mod, [4, 5, 3], 'tanh', X, LABELS);
    const theta0 = new Float64Array(parameterCount([4, 5, 3])).fill(0.1);
    solver.solve(theta0, { iterations: 2 });
    solver.dispose();
    solver.dispose();
    lastLayerFailures.push(...await refusesAll('LastLayerSolver', [['solve', () => solver.solve(theta0, { iterations: 2 })]]));
    const gone = new Workspace(mod);
    const b = gone.f64(4);
    gone.dispose();
    gone.dispose();
    failures.push(...await refusesAll('Workspace', [
      ['alloc', () => gone.f64(4)], ['from', () => gone.from('f64', [1])], ['free', () => gone.free(b)], ['view', () => b.view()],
    ], /disposed|freed/));
  }
  if (objectiveFailures.length && knownDefect('objective-after-dispose')) {
    console.log(`\nfuzz: KNOWN DEFECT objective-after-dispose (${objectiveFailures.length} calls), e.g. ${objectiveFailures[0]}`);
  } else {
    failures.push(...objectiveFailures);
  }
  if (lastLayerFailures.length && knownDefect('lastlayer-after-dispose')) {
    console.log(`\nfuzz: KNOWN DEFECT lastlayer-after-dispose: ${lastLayerFailures[0]}`);
  } else {
    failures.push(...lastLayerFailures);
  }
  assert.equal(failures, [], failures.join('\n'));
  assert.is(liveWorkerCount(), 0);
});

test('use after dispose: ask/tell refuses every call (KNOWN_DEFECTS guard)', async () => {
  const problem = await createAskTell({ y: Y, theta0: new Float64Array(N).fill(0.2), ensembleSize: 6, seed: 3, module: mod });
  for (let i = 0; i < 3; i++) {
    const rows = problem.ask();
    problem.tell(linear(rows, rows.length / N, M, N));
  }
  problem.ask();
  problem.dispose();
  problem.dispose();
  const failures = await refusesAll('ask/tell', [
    ['ask', () => problem.ask()], ['tell', () => problem.tell(new Float64Array(7 * M))], ['theta', () => problem.theta()],
    ['pending', () => problem.pending],
  ]);
  if (failures.length && knownDefect('asktell-after-dispose')) {
    console.log(`fuzz: KNOWN DEFECT asktell-after-dispose (${failures.length} calls): ${failures[0]}`);
    return;
  }
  assert.equal(failures, [], failures.join('\n'));
});

// ---- Two problems on one module.

test('two problems sharing one module, interleaved at random, each equal bit for bit to the problem run alone', async () => {
  const f = new Fuzz(909);
  type Spec = { options: Parameters<typeof createAskTell>[0]; n: number };
  const specs: Spec[] = [
    { options: { y: Y, theta0: new Float64Array(N).fill(0.1), ensembleSize: 6, seed: 5, maxIterations: 12, module: mod }, n: N },
    { options: { y: Y, theta0: new Float64Array(N).fill(-0.2), ensembleSize: 5, seed: 6, maxIterations: 10, optimizer: 'eki', module: mod }, n: N },
    { options: { y: Int32Array.from([0, 2]), loss: 'cross-entropy', classes: 3, theta0: new Float64Array(N).fill(0.3), ensembleSize: 4, seed: 7, antithetic: true, maxIterations: 9, module: mod }, n: N },
  ];
  const outputs = (p: AskTell, rows: Float64Array) => linear(rows, rows.length / p.n, p.m, p.n);
  const trace = (p: AskTell) => ({ theta: Array.from(new Uint32Array(p.theta().buffer)), losses: p.history.map((d) => d.loss), reason: p.reason });
  const alone = [];
  for (const s of specs) {
    const p = await createAskTell(s.options);
    while (!p.done) p.tell(outputs(p, p.ask()));
    alone.push(trace(p));
    p.dispose();
  }
  for (let round = 0; round < 6; round++) {
    const [a, b] = [f.int(0, 2), f.int(0, 2)];
    const ps = [await createAskTell(specs[a].options), await createAskTell(specs[b].options)];
    while (!ps[0].done || !ps[1].done) {
      const p = ps[f.int(0, 1)];
      if (!p.done) p.tell(outputs(p, p.ask()));
    }
    assert.equal(trace(ps[0]), alone[a], `round ${round}: problem ${a}`);
    assert.equal(trace(ps[1]), alone[b], `round ${round}: problem ${b}`);
    ps.forEach((p) => p.dispose());
    sentinel.check(`interleaved round ${round}`);
  }
});

// ---- Known defects that need a specific scenario (each a bounded run, skipped while listed).

test('timer-driven abort stops minimize (sync forward) and fit (workers 0) (KNOWN_DEFECTS guard)', async () => {
  if (knownDefect('timer-abort')) {
    console.log('fuzz: KNOWN DEFECT timer-abort skipped (bindings/optimizers/run.ts, bindings/nn/fit-train.ts)');
    return;
  }
  // Budgets a run takes seconds to use up; an abort that fires ends it after 100 ms.
  const t0 = performance.now();
  const r = count(await outcome(() => minimize({ forward: (t, k) => linear(t, k, M, N), y: Y, theta0: new Float64Array(N), maxIterations: 50000,
    patience: Infinity, sigmaSchedule: 'constant', module: mod, signal: AbortSignal.timeout(100) }), 10000));
  assert.is(r.kind === 'result' && (r.value as { reason: string }).reason, 'aborted', describeOutcome(r));
  assert.ok(performance.now() - t0 < 2000);
  const h = count(await outcome(() => fit(mlp([4, 5, 3], { module: mod }), X, LABELS, { iterations: 10000, batchSize: 8, signal: AbortSignal.timeout(100), module: mod }), 10000));
  assert.is(h.kind === 'result' && (h.value as { stopReason: string }).stopReason, 'aborted', describeOutcome(h));
});

test('abort while a forward promise never settles ends minimize (KNOWN_DEFECTS guard)', async () => {
  if (knownDefect('pending-forward-abort')) {
    console.log('fuzz: KNOWN DEFECT pending-forward-abort skipped (bindings/optimizers/run.ts)');
    return;
  }
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  const r = count(await outcome(() => minimize({ forward: () => new Promise(() => {}), y: Y, theta0: new Float64Array(N), module: mod, signal: ac.signal }), 2000));
  assert.ok(r.kind === 'result' || r.kind === 'typed', describeOutcome(r));
});

test('summary', async () => {
  await rm(dir, { recursive: true, force: true });
  const defects = [...excused].map(([id, n]) => `${id} ×${n}`).join(', ');
  console.log(`\nfuzz: ${tally.inputs} inputs, ${tally.typed} typed errors, ${tally.results} results, ${tally.clearErrors} clear state/user errors, ` +
    `${tally.rawFailures} raw errors, ${tally.hangFailures} hangs; known defects excused: ${tally.knownDefect}${defects ? ` (${defects})` : ''}`);
  for (const d of KNOWN_DEFECTS) if (excused.has(d.id)) console.log(`fuzz:   known defect ${d.id} [${d.owner}]: ${d.note}`);
  sentinel.problem.dispose();
  assert.is(liveWorkerCount(), 0);
});

test.run();
