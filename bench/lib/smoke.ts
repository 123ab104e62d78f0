// Smoke mode (BENCH_SMOKE=1 or --smoke): every suite runs a tiny configuration in seconds, so a
// suite that no longer runs fails `npm test` (test/bench-smoke.test.ts). Smoke results are not
// measurements: they go to BENCH_OUT (or a fresh temporary directory), never to bench/results/.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SMOKE = process.env.BENCH_SMOKE === '1' || process.argv.includes('--smoke');

/** Where suite `name` writes its JSON: bench/results/<name>.json, or the smoke directory. */
export function resultPath(name: string): string {
  if (!SMOKE) return fileURLToPath(new URL(`../results/${name}.json`, import.meta.url));
  const dir = process.env.BENCH_OUT || mkdtempSync(join(os.tmpdir(), 'enkf-bench-smoke-'));
  return join(dir, `${name}.json`);
}

/** Writes suite `name`'s result (pretty JSON) and returns the path written. */
export function writeResult(name: string, data: unknown): string {
  const path = resultPath(name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  return path;
}
