// Benchmarks can't rot: every suite in bench/ runs in its smoke configuration (bench/lib/smoke.ts)
// as its own process, must exit 0 and must write JSON with the suite's top-level keys.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('..', import.meta.url));
// Far above a smoke run's few seconds; only a hung suite reaches it.
const TIMEOUT_MS = 120_000;

const SUITES: Record<string, string[]> = {
  // gemm also compiles bench/peak.ts (the SIMD peak loop) with asc.
  gemm: ['shapes', 'mlpForward', 'rounds', 'smoke'],
  iteration: ['environment', 'mnist', 'perturbations', 'linear', 'smoke'],
  scaling: ['environment', 'settings', 'results', 'linearity', 'smoke'],
  lowrank: ['results', 'peakGflops', 'sparseFirstLayerCrossover', 'smoke'],
  rank: ['settings', 'results', 'ratios', 'smoke'],
  defaults: ['defaults', 'results', 'eki', 'smoke'],
  mnist: ['settings', 'results', 'smoke'],
  backprop: ['settings', 'accuracy', 'memory', 'smoke'],
  workers: ['environment', 'results', 'smoke'],
  conv: ['settings', 'results', 'smoke'],
  cnn: ['settings', 'tfjs', 'ours', 'smoke'],
};

function run(suite: string, out: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', `${suite}.ts`)], {
      cwd: root, env: { ...process.env, BENCH_SMOKE: '1', BENCH_OUT: out }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** bench/results/ as name → contents: a smoke run must leave the recorded measurements alone. */
async function recorded(): Promise<Map<string, string>> {
  const dir = join(root, 'bench/results');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  return new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n), 'utf8')] as [string, string])));
}
let before: Map<string, string>;
test.before(async () => {
  before = await recorded();
});

test('bench/run.ts lists exactly the suites smoke-tested here', async () => {
  const text = await readFile(join(root, 'bench/run.ts'), 'utf8');
  const listed = JSON.parse((text.match(/const ALL = (\[[^\]]*\])/)?.[1] ?? '[]').replace(/'/g, '"'));
  assert.equal([...listed].sort(), Object.keys(SUITES).sort());
});

for (const [suite, keys] of Object.entries(SUITES)) {
  test(`bench/${suite}.ts runs in smoke mode and writes its JSON to the smoke directory`, async () => {
    const out = await mkdtemp(join(tmpdir(), `enkf-bench-${suite}-`));
    try {
      const { code, output } = await run(suite, out);
      assert.is(code, 0, `bench/${suite}.ts exited with ${code}:\n${output.slice(-2000)}`);
      assert.equal(await readdir(out), [`${suite}.json`]);
      const json = JSON.parse(await readFile(join(out, `${suite}.json`), 'utf8'));
      for (const key of keys) assert.ok(key in json, `${suite}.json has no "${key}"`);
      assert.is(json.smoke, true);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
}

test('smoke runs left bench/results/ unchanged', async () => {
  assert.equal(await recorded(), before);
});

test.run();
