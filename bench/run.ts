// `npm run bench`: every suite, one after another in its own process (so one suite's JIT state and
// heap do not colour the next); each writes its JSON under bench/results/.
// Usage: npm run bench [-- [--smoke] suite ...]   (suites: gemm iteration scaling lowrank rank defaults mnist backprop workers conv cnn)
// --smoke: each suite's tiny configuration, seconds each, results in a temporary directory (bench/lib/smoke.ts).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ALL = ['gemm', 'iteration', 'scaling', 'lowrank', 'rank', 'defaults', 'mnist', 'backprop', 'workers', 'conv', 'cnn'];
const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = asked.filter((s) => !ALL.includes(s));
if (unknown.length) {
  console.error(`Unknown bench suite(s): ${unknown.join(', ')}. Expected some of: ${ALL.join(', ')}.`);
  process.exit(2);
}
let failed = 0;
for (const suite of asked.length ? asked : ALL) {
  const file = fileURLToPath(new URL(`./${suite}.ts`, import.meta.url));
  console.log(`\n=== bench/${suite}.ts`);
  const env = process.argv.includes('--smoke') ? { ...process.env, BENCH_SMOKE: '1' } : process.env;
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit', env });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
