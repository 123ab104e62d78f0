// The `npm start` CLI (examples/mnist.ts) as a user meets it: destinations are checked before any
// training, a result that cannot be written is rescued to the temporary directory, and every
// failure is one line on stderr with a non-zero exit code. Tiny runs (k = 4, batch 64, 2
// iterations) keep each spawn near a second.
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mlp } from '../bindings/nn/mlp.js';
import { loadModel, saveModel } from '../bindings/nn/serialize.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const TINY = ['--model', 'mlp', '--iterations', '2', '--k', '4', '--batch', '64', '--workers', '0', '--eval-every', '1'];

interface Run { code: number | null; stdout: string; stderr: string }

/** Runs the CLI; `onStdout` sees stdout as it grows (to act in the middle of training). */
function cli(args: string[], onStdout?: (text: string) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples/mnist.ts'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
      onStdout?.(stdout);
    });
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A failure: the exit code, exactly one line on stderr matching `pattern`, no stack trace, no training. */
function oneLineFailure(r: Run, code: number, pattern: RegExp, trained = false): void {
  assert.is(r.code, code, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.trim().split('\n');
  assert.is(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.not.match(r.stderr, /^\s+at /m);
  if (!trained) assert.not.match(r.stdout, /Training \[/, 'failed before training');
}

let dir = '';
let good = '';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'enkf-cli-'));
  good = join(dir, 'good.enkf');
});

test.after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a tiny run trains, saves and resumes; the saved file holds the training state', async () => {
  const out = join(dir, 'report-dir', 'nested');
  const first = await cli([...TINY, '--out', out, '--save', join(dir, 'report-dir', 'nested', 'm.enkf')]);
  assert.is(first.code, 0, first.stderr);
  assert.is(first.stderr, '');
  assert.match(await readFile(join(out, 'report.html'), 'utf8'), /<svg/);
  await writeFile(good, await readFile(join(out, 'm.enkf')));
  assert.is(((await loadModel(good)).trainingState as { iteration: number }).iteration, 2);
  const resumed = await cli([...TINY, '--iterations', '3', '--out', out, '--resume', good, '--save', good]);
  assert.is(resumed.code, 0, resumed.stderr);
  assert.is(((await loadModel(good)).trainingState as { iteration: number }).iteration, 3);
  oneLineFailure(await cli([...TINY, '--out', out, '--resume', good, '--hidden', '32']), 2, /^--resume: .* holds the network MLP 784-64-10 tanh, but the options give MLP 784-32-10 tanh\. Pass the same --model/);
});

test('--model cnn (the default) trains the CNN, saves and resumes; flags of the other model are refused', async () => {
  const out = join(dir, 'cnn');
  const cnn = TINY.filter((a, i) => a !== '--model' && TINY[i - 1] !== '--model');
  const first = await cli([...cnn, '--exact-last-layer', '2', '--out', out, '--save', join(out, 'c.enkf')]);
  assert.is(first.code, 0, first.stderr);
  assert.match(first.stdout, /Training CNN conv 5×5×8 relu, max-pool 2×2, conv 5×5×16 relu, max-pool 2×2, flatten, dense 10 \(5,994 parameters\)/);
  assert.match(await readFile(join(out, 'report.html'), 'utf8'), /CNN conv 5×5×8 relu/);
  const saved = await loadModel(join(out, 'c.enkf'));
  assert.ok('architecture' in saved, 'a sequential model was saved');
  const resumed = await cli([...cnn, '--exact-last-layer', '2', '--iterations', '3', '--out', out, '--resume', join(out, 'c.enkf')]);
  assert.is(resumed.code, 0, resumed.stderr);
  oneLineFailure(await cli([...cnn, '--out', out, '--resume', join(out, 'c.enkf'), '--filters', '4,8']), 2,
    /^--resume: .* holds the network CNN conv 5×5×8 relu.*but the options give CNN conv 5×5×4 relu/);
  oneLineFailure(await cli([...cnn, '--out', out, '--hidden', '32']), 2, /^--hidden sets up --model mlp; this run trains --model cnn\./);
  oneLineFailure(await cli([...TINY, '--out', out, '--filters', '4,8']), 2, /^--filters sets up --model cnn; this run trains --model mlp\./);
});

test('bad --save and --out destinations fail in one line before training', async () => {
  oneLineFailure(await cli([...TINY, '--out', join(dir, 'o'), '--save', join(dir, 'no-such-dir', 'm.enkf')]), 2,
    /^--save .*no-such-dir.*does not exist\. Choose a writable directory\.$/);
  const file = join(dir, 'a-file');
  await writeFile(file, 'x');
  oneLineFailure(await cli([...TINY, '--out', file]), 2, /^--out .*a-file: cannot write there: a file is in the way/);
  oneLineFailure(await cli([...TINY, '--out', join(file, 'sub')]), 2, /^--out .*a-file\/sub: cannot write there/);
  oneLineFailure(await cli([...TINY, '--out', join(dir, 'o'), '--save', dir]), 2, /^--save .*: that is a directory; give a file path such as .*model\.enkf\.$/);
});

test('a save that fails after training is rescued to the temporary directory and reported', async () => {
  const saveDir = join(dir, 'vanishing');
  await mkdir(saveDir);
  let removed = false;
  // The directory passes the check, then disappears during training (a full disk, an unmounted drive…).
  const r = await cli([...TINY, '--iterations', '40', '--out', join(dir, 'o'), '--save', join(saveDir, 'm.enkf')], (text) => {
    if (!removed && /iteration 1\/40/.test(text)) {
      removed = true;
      void rm(saveDir, { recursive: true, force: true });
    }
  });
  assert.ok(removed, 'training reached iteration 1');
  oneLineFailure(r, 1, /^--save: Cannot save the model to .*vanishing\/m\.enkf: the directory .* does not exist.* Saved to (.+) instead\.$/, true);
  const rescue = r.stderr.match(/Saved to (.+) instead\./)![1];
  try {
    const model = await loadModel(rescue);
    assert.is((model.trainingState as { iteration: number }).iteration, 40);
    assert.match(r.stdout, /Report: /, 'the report is still written');
  } finally {
    await rm(rescue, { force: true });
  }
});

test('--resume with a missing, garbage, truncated, corrupted or state-less file: one line, exit 2', async () => {
  const stateless = join(dir, 'stateless.enkf');
  await saveModel(mlp([784, 64, 10], { seed: 1 }), stateless);
  const bytes = await readFile(stateless);
  const cases: [string, Uint8Array | undefined, RegExp][] = [
    ['missing.enkf', undefined, /^--resume: Cannot load the model from .*missing\.enkf: there is no such file/],
    ['garbage.enkf', Uint8Array.from({ length: 500 }, (_, i) => (i * 7919) & 0xff), /^--resume: Not an enkf-wasm model/],
    ['truncated.enkf', bytes.subarray(0, bytes.length >> 1), /^--resume: The model file is truncated/],
    ['corrupted.enkf', Uint8Array.from(bytes, (b, i) => (i === bytes.length >> 1 ? b ^ 4 : b)), /^--resume: The model file is corrupted: its CRC-32 checksum/],
  ];
  for (const [name, content, pattern] of cases) {
    if (content) await writeFile(join(dir, name), content);
    oneLineFailure(await cli([...TINY, '--out', join(dir, 'o'), '--resume', join(dir, name)]), 2, pattern);
  }
  oneLineFailure(await cli([...TINY, '--out', join(dir, 'o'), '--resume', stateless]), 2, /^--resume: .*stateless\.enkf holds a model without a training state from fit\(\)/);
});

test('absurd --hidden sizes and bad flags: one line, non-zero exit', async () => {
  oneLineFailure(await cli([...TINY, '--out', join(dir, 'o'), '--hidden', '2000000']), 2, /^--hidden 2000000: .*parameters; this job trains at most 16,777,216.*Use smaller hidden layers\.$/);
  oneLineFailure(await cli([...TINY, '--out', join(dir, 'o'), '--hidden', '64,1048577']), 2, /^--hidden 64,1048577: .*Use smaller hidden layers\.$/);
  oneLineFailure(await cli(['--k', 'x']), 1, /^error: option '--k <members>' argument 'x' is invalid\. --k must be a positive integer; got "x"\. See npm start -- --help\.$/);
  oneLineFailure(await cli(['--optimizer', 'adam']), 1, /^error: option '--optimizer <name>' argument 'adam' is invalid\..*See npm start -- --help\.$/);
  oneLineFailure(await cli(['--average', '1.5']), 2, /^--average must be in \[0, 1\); got 1\.5\.$/);
});

test.run();
