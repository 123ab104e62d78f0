// Build: AssemblyScript → build/*.wasm (SIMD release, scalar fallback, debug), type
// declarations → dist/*.d.ts, esbuild bundles → dist/index.js, dist/inline.js (bytes inlined) and
// dist/worker.js (the worker thread of fit({ workers })).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const run = (bin, args) => execFileSync(process.execPath, [bin, ...args], { stdio: 'inherit' });
const asc = 'node_modules/assemblyscript/bin/asc.js';
const tsc = 'node_modules/typescript/bin/tsc';

mkdirSync('build', { recursive: true });
for (const target of ['release', 'scalar', 'debug']) run(asc, ['assembly/index.ts', '--target', target]);
run(tsc, ['-p', 'tsconfig.json']);

const common = {
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  mainFields: ['module', 'main'],
  external: ['node:*'],
  sourcemap: true,
  logLevel: 'warning',
};
await build({ ...common, entryPoints: ['bindings/index.ts'], outfile: 'dist/index.js' });
await build({ ...common, entryPoints: ['bindings/inline.ts'], outfile: 'dist/inline.js', loader: { '.wasm': 'binary' } });
// The worker thread of fit({ workers }): loaded next to dist/index.js and dist/inline.js.
await build({ ...common, entryPoints: ['bindings/nn/worker.ts'], outfile: 'dist/worker.js' });
console.log('built build/enkf.wasm, build/enkf-scalar.wasm, build/enkf-debug.wasm, dist/index.js, dist/inline.js, dist/worker.js');
