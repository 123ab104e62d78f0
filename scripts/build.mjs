// Build: AssemblyScript → build/*.wasm (SIMD release, scalar fallback, and a debug build with its
// source map that is not published), type declarations → dist/*.d.ts, esbuild bundles →
// dist/index.js, dist/inline.js (bytes inlined), dist/internal.js (the unstable subpath),
// dist/mnist.js (enkf-wasm/mnist) and dist/worker.js (the worker thread of fit({ workers })).
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
// One split build: the entries share their code through dist/chunk-*.js, so 'enkf-wasm',
// 'enkf-wasm/inline', 'enkf-wasm/internal' and 'enkf-wasm/mnist' see the same classes (instanceof holds across them)
// and the same module cache and memory accounting. Chunks sit next to the entries, so the
// import.meta.url-relative paths (../build/*.wasm, ./worker.js) still resolve.
await build({
  ...common,
  entryPoints: {
    index: 'bindings/index.ts', inline: 'bindings/inline.ts', internal: 'bindings/internal.ts', mnist: 'bindings/data/mnist.ts',
  },
  outdir: 'dist',
  splitting: true,
  chunkNames: 'chunk-[hash]',
  loader: { '.wasm': 'binary' },
});
// The worker thread of fit({ workers }): loaded next to dist/index.js and dist/inline.js.
await build({ ...common, entryPoints: ['bindings/nn/worker.ts'], outfile: 'dist/worker.js' });
console.error('built build/enkf.wasm, build/enkf-scalar.wasm, build/enkf-debug.wasm, dist/index.js, dist/inline.js, dist/internal.js, dist/mnist.js, dist/worker.js');
