// Builds, runs every uvu suite under test/ (TypeScript through tsx) and ends with one line
// "N passed, N failed" — the totals CI reads. `node scripts/test.mjs [pattern] [--no-build]`.
import { spawn, execFileSync } from 'node:child_process';

// Tests run against freshly built modules and bundles (the browser tests load dist/).
const flags = process.argv.slice(2);
if (!flags.includes('--no-build')) execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
const pattern = flags.find((f) => !f.startsWith('--')) ?? '\\.test\\.ts$';
const args = ['--import', 'tsx', 'node_modules/uvu/bin.js', 'test', pattern];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (chunk) => {
  out += chunk;
  process.stdout.write(chunk);
});
child.on('close', (code) => {
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const num = (label) => Number((plain.match(new RegExp(`${label}:\\s+(\\d+)`)) ?? [])[1] ?? NaN);
  const total = num('Total');
  const passed = num('Passed');
  const skipped = num('Skipped') || 0;
  if (!Number.isFinite(total) || !Number.isFinite(passed)) {
    console.log('\n0 passed, 1 failed');
    process.exit(code || 1);
  }
  // uvu's Total counts the tests that ran; skipped ones are reported apart
  const failed = total - passed;
  console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed > 0 ? 1 : code ?? 0);
});
