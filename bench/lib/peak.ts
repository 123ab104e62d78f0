// The practical SIMD peak of this machine, shared by the GEMM and rank-r suites: bench/peak.ts
// (12 independent f32x4 mul+add chains) compiled with asc into a temporary directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** Iterations of one timed peak call and the f32 operations it performs (12 chains × 2 × 4 lanes). */
export const PEAK_ITERS = 200_000;
export const PEAK_FLOPS = PEAK_ITERS * 12 * 8;

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : 0.5 * (s[s.length / 2 - 1] + s[s.length / 2]);
}

/** The peak loop as a function peak(iters, m, c). */
export function compilePeak(): (iters: number, m: number, c: number) => number {
  const dir = mkdtempSync(join(os.tmpdir(), 'enkf-peak-'));
  try {
    const out = join(dir, 'peak.wasm');
    execFileSync(process.execPath, [join(root, 'node_modules/assemblyscript/bin/asc.js'), join(root, 'bench/peak.ts'),
      '--outFile', out, '-O3', '--enable', 'simd', '--runtime', 'stub'],
    // cwd outside the project: asc would otherwise add the project's asconfig.json entries.
    { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(out)), {
      env: { abort: () => { throw new Error('peak.wasm aborted'); } },
    });
    return instance.exports.peak as (iters: number, m: number, c: number) => number;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
