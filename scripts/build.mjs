// Build: AssemblyScript → build/*.wasm (SIMD release, scalar fallback, and a debug build with its
// source map that is not published), type declarations → dist/*.d.ts, esbuild bundles →
// dist/index.js, dist/inline.js (bytes inlined), dist/internal.js (the unstable subpath) and
// dist/mnist.js (enkf-wasm/mnist); the worker of fit({ workers }) is inlined into them as text.
// The bundles are plain, unminified ES2022 without source maps (they would triple the package).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

// Progress goes to stderr, so that `npm pack --json` (which runs this as prepack) prints clean JSON.
const run = (bin, args) => execFileSync(process.execPath, [bin, ...args], { stdio: ['ignore', 2, 2] });
const asc = 'node_modules/assemblyscript/bin/asc.js';
const tsc = 'node_modules/typescript/bin/tsc';

mkdirSync('build', { recursive: true });
for (const target of ['release', 'scalar', 'debug']) run(asc, ['assembly/index.ts', '--target', target]);
// A clean dist/: no chunk or declaration of an earlier build is left to be published.
rmSync('dist', { recursive: true, force: true });
run(tsc, ['-p', 'tsconfig.json']);

const common = {
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  mainFields: ['module', 'main'],
  external: ['node:*'],
  sourcemap: false,
  // whitespace only: names and expressions stay as written (readable stack traces, unchanged arithmetic)
  minifyWhitespace: true,
  logLevel: 'warning',
};
// The evaluator worker (bindings/nn/worker.ts) as one IIFE script, no file of its own: its source is
// inlined as WORKER_SOURCE (bindings/nn/worker-source.ts), which Node starts with eval and browsers
// from a Blob URL, so no bundler needs to find or copy a worker file. It always receives the
// compiled module, so its import.meta (empty in an IIFE) is never used to locate a .wasm file.
const worker = await build({
  ...common,
  entryPoints: ['bindings/nn/worker.ts'],
  format: 'iife',
  write: false,
  logOverride: { 'empty-import-meta': 'silent' },
});
const workerSource = worker.outputFiles[0].text;
const inlineWorker = {
  name: 'inline-worker',
  setup(b) {
    b.onLoad({ filter: /[\\/]bindings[\\/]nn[\\/]worker-source\.ts$/ }, () => ({
      contents: `export const WORKER_SOURCE = ${JSON.stringify(workerSource)};`, loader: 'js',
    }));
  },
};
// One split build: the entries share their code through dist/chunk-*.js, so 'enkf-wasm',
// 'enkf-wasm/inline', 'enkf-wasm/internal' and 'enkf-wasm/mnist' see the same classes (instanceof holds across them)
// and the same module cache and memory accounting. Chunks sit next to the entries, so the
// import.meta.url-relative paths (../build/*.wasm) still resolve.
await build({
  ...common,
  entryPoints: {
    index: 'bindings/index.ts', inline: 'bindings/inline.ts', internal: 'bindings/internal.ts', mnist: 'bindings/data/mnist.ts',
  },
  outdir: 'dist',
  splitting: true,
  chunkNames: 'chunk-[hash]',
  loader: { '.wasm': 'binary' },
  plugins: [inlineWorker],
});
console.error(`built build/enkf.wasm, build/enkf-scalar.wasm, build/enkf-debug.wasm, dist/index.js, dist/inline.js, dist/internal.js, dist/mnist.js (worker inlined: ${workerSource.length} characters)`);
