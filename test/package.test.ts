// The package as a user imports it: the built entry points of package.json "exports" (dist/, not
// the TypeScript sources), the raw modules under ./wasm/*, and the type declarations.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

test('"exports": types first, default last, every target built', () => {
  for (const [entry, target] of Object.entries<Record<string, string> | string>(pkg.exports)) {
    if (typeof target === 'string') continue;
    const keys = Object.keys(target);
    assert.is(keys[0], 'types', `${entry}: types first`);
    assert.is(keys[keys.length - 1], 'default', `${entry}: default last`);
    for (const file of Object.values(target)) assert.ok(existsSync(fileURLToPath(new URL(`../${file}`, import.meta.url))), `${entry} → ${file} exists`);
  }
  // require() of an ES module is unflagged from Node 20.19 and 22.12; process.getBuiltinModule from 20.16
  assert.is(pkg.engines.node, '^20.19.0 || >=22.12.0');
});

test('enkf-wasm and enkf-wasm/inline load and fit a small least-squares problem the same way', async () => {
  const results = [];
  for (const name of ['enkf-wasm', 'enkf-wasm/inline']) {
    const lib = await import(name);
    const y = Float64Array.from([1, -2, 3]);
    const r = await lib.minimize({
      forward: (t: Float64Array, k: number) => t.slice(0, k * 3).map((v) => 2 * v),
      y, theta0: new Float64Array(3), ensembleSize: 6, seed: 9, maxIterations: 40, tolerance: 1e-20,
    });
    // F(θ) = 2θ: the minimizer is y/2
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(r.theta[i] - y[i] / 2) < 1e-8, `${name}: θ_${i} = ${r.theta[i]}`);
    results.push(Array.from(r.theta));
  }
  assert.equal(results[0], results[1]);
});

// The public entry is what the README documents; everything else is in enkf-wasm/internal.
const PUBLIC = [
  'Buf', 'FIT_EKI_DEFAULTS', 'FIT_NLB_DEFAULTS', 'FitError', 'FormatError', 'KernelError', 'MAX_WORKERS',
  'MinimizeError', 'ModelFileError', 'NotPositiveDefiniteError', 'OptimizationError', 'Sequential', 'WorkerError', 'Workspace',
  'argmaxRows', 'avgPool2d', 'conv2d', 'createAskTell', 'dense', 'fit', 'flatten', 'loadModel', 'loadModule', 'maxPool2d', 'minimize',
  'mlp', 'modelToBlob', 'saveModel', 'sequential', 'setDefaultModule',
];
const MNIST = ['MNIST_CLASSES', 'MNIST_FEATURES', 'MNIST_SIDE', 'loadMnist', 'mnistSplit', 'stratifiedSplit', 'takeDigits'];

test('enkf-wasm and enkf-wasm/inline export exactly the documented names', async () => {
  for (const name of ['enkf-wasm', 'enkf-wasm/inline']) {
    assert.equal(Object.keys(await import(name)).sort(), PUBLIC, name);
  }
  // every public name appears in the README
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const name of PUBLIC) assert.ok(readme.includes(name), `README documents ${name}`);
});

test('enkf-wasm/internal resolves, holds the internals and shares classes and state with enkf-wasm', async () => {
  const pub: Record<string, any> = await import('enkf-wasm');
  const internal: Record<string, any> = await import('enkf-wasm/internal');
  for (const name of PUBLIC) assert.ok(internal[name] === pub[name], `internal.${name} is the public one`);
  for (const name of ['createNlb', 'createEki', 'LeastSquares', 'CrossEntropy', 'MlpEvaluator', 'ParallelMlpEvaluator', 'encodeModel',
    'decodeModel', 'crc32', 'FORMAT_VERSION', 'liveWorkerCount', 'ACTIVATION_CODE', 'setInlinedModules', 'bytesInUse', 'hostHasSimd',
    'defaultModule']) {
    assert.ok(name in internal, `internal exports ${name}`);
    assert.not.ok(name in pub, `the public entry does not export ${name}`);
  }
  // one module-level state: a Workspace made through the public entry is counted by internal.bytesInUse
  const mod = await pub.loadModule();
  const ws = new pub.Workspace(mod);
  ws.f64(16);
  assert.is(internal.bytesInUse(mod), 128);
  ws.dispose();
  assert.is(internal.bytesInUse(mod), 0);
  assert.ok(existsSync(fileURLToPath(new URL('../dist/internal.d.ts', import.meta.url))), 'dist/internal.d.ts');
  assert.match(readFileSync(new URL('../dist/internal.d.ts', import.meta.url), 'utf8'), /export \* from '\.\/nn\/fit\.js'/);
});

test('enkf-wasm/mnist holds the digits, shares the public classes, and is out of the main entries', async () => {
  const mnist: Record<string, unknown> = await import('enkf-wasm/mnist');
  assert.equal(Object.keys(mnist).sort(), MNIST);
  for (const entry of ['enkf-wasm', 'enkf-wasm/internal']) {
    const lib: Record<string, unknown> = await import(entry);
    for (const name of MNIST) assert.not.ok(name in lib, `${entry} does not export ${name}`);
  }
  const { train, test: held } = await (mnist.mnistSplit as (seed: number) => Promise<{ train: { count: number }; test: { count: number } }>)(0);
  assert.is(train.count, 8000);
  assert.is(held.count, 2000);
  assert.ok(pkg.peerDependenciesMeta.mnist.optional && pkg.peerDependencies.mnist && !pkg.dependencies?.mnist);
});

test('enkf-wasm/inline compiles its inlined bytes once; every load has its own memory', async () => {
  const lib = await import('enkf-wasm/inline');
  const [a, b] = [await lib.loadModule(), await lib.loadModule()];
  assert.ok(a.compiled === b.compiled);
  assert.ok(a.memory !== b.memory);
});

test('enkf-wasm/wasm/* resolves to the raw modules', async () => {
  for (const file of ['enkf.wasm', 'enkf-scalar.wasm']) {
    const url = import.meta.resolve(`enkf-wasm/wasm/${file}`);
    const bytes = readFileSync(fileURLToPath(url));
    assert.ok(WebAssembly.validate(bytes), `${file} is a valid module`);
  }
});

test.run();
