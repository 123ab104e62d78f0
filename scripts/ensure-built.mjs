// Builds once when the outputs `npm start` and `npm run bench` need are missing (a fresh clone:
// `npm install` does not build, the package builds on `npm pack` / `npm test`).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const needed = ['build/enkf.wasm', 'build/enkf-scalar.wasm', 'dist/index.js'];
if (needed.some((f) => !existsSync(f))) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
