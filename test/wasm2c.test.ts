// The .wasm outside JavaScript: the module translated to C by wasm2c and compiled with the system C
// compiler, driven by test/c/harness.c (its own env.abort), and the SIMD module in wabt's
// interpreter. Outputs are compared bit for bit with the same calls made through Node.
// Needs Debian's wabt and gcc (.ci/run installs wabt); a missing tool fails the suite with a hint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from './oracles.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUNTIME_DIRS = ['/usr/share/wabt/wasm2c', '/usr/src/wasm2c'];
const work = mkdtempSync(join(tmpdir(), 'enkf-wasm2c-'));

/** Runs a tool; a missing one fails with what to install. */
function tool(cmd: string, args: string[], opts: { cwd?: string } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? work, maxBuffer: 64 << 20 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    assert.unreachable(`${cmd} is not installed: the C-host tests need Debian's wabt (wasm2c, spectest-interp) and gcc ` +
      `(apt-get install wabt gcc; .ci/run installs them)`);
  }
  return r;
}

function timed<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const out = fn();
  return [out, (performance.now() - t0) / 1000];
}

// ---------------------------------------------------------------------------------------------
// The same calls through Node: a bare instance with an env.abort that reads the message.

interface Abort { message: string; file: string; line: number; column: number }

async function nodeInstance(file: string) {
  let last: Abort | undefined;
  const memory = () => x.memory as WebAssembly.Memory;
  const str = (ptr: number): string => {
    if (ptr === 0) return '';
    const bytes = new DataView(memory().buffer).getUint32(ptr - 4, true);
    return Buffer.from(memory().buffer, ptr, bytes).toString('utf16le');
  };
  const { instance } = await WebAssembly.instantiate(readFileSync(join(root, 'build', file)), {
    env: {
      abort(msg: number, f: number, line: number, column: number) {
        last = { message: str(msg), file: str(f), line, column };
        throw new Error('abort');
      },
    },
  });
  const x = instance.exports as Record<string, any>;
  const bits = (ptr: number, n: number) =>
    Array.from(new BigUint64Array(memory().buffer, ptr, n), (b) => b.toString(16).padStart(16, '0'));
  return {
    x,
    memory,
    randn(n: number, seed: number, draw: number, member: number, offset: number): string[] {
      const out = x.alloc(8 * n);
      x.randn(n, seed, draw, member, offset, out);
      const b = bits(out, n);
      x.free(out);
      return b;
    },
    solve(n: number, nrhs: number, A: Float64Array, B: Float64Array): { status: number; bits: string[] } {
      const a = x.alloc(8 * n * n), l = x.alloc(8 * n * n), b = x.alloc(8 * n * nrhs);
      new Float64Array(memory().buffer, a, n * n).set(A);
      new Float64Array(memory().buffer, b, n * nrhs).set(B);
      const status = x.cholesky(n, 0, a, l);
      if (status === 0) x.cholSolve(n, nrhs, l, b);
      const out = { status, bits: bits(b, n * nrhs) };
      x.free(b), x.free(l), x.free(a);
      return out;
    },
    /** The abort a call raises (undefined when it returns). */
    abortOf(call: () => unknown): Abort | undefined {
      last = undefined;
      try {
        call();
      } catch {
        return last;
      }
      return undefined;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Inputs: one seeded SPD system with a known solution.

const N = 5, NRHS = 2;
const rand = mulberry32(20261127);
const M = Float64Array.from({ length: N * N }, () => rand() * 2 - 1);
// A = MᵀM + I (SPD); X known; B = A·X in f64.
const A = new Float64Array(N * N);
for (let i = 0; i < N; i++) {
  for (let j = 0; j < N; j++) {
    let s = i === j ? 1 : 0;
    for (let p = 0; p < N; p++) s += M[p * N + i] * M[p * N + j];
    A[i * N + j] = s;
  }
}
const X = Float64Array.from({ length: N * NRHS }, () => Math.round((rand() * 2 - 1) * 1000) / 100);
const B = new Float64Array(N * NRHS);
for (let i = 0; i < N; i++) {
  for (let c = 0; c < NRHS; c++) {
    let s = 0;
    for (let p = 0; p < N; p++) s += A[i * N + p] * X[p * NRHS + c];
    B[i * NRHS + c] = s;
  }
}
const RANDN = [9, 2024, 3, 7, 11] as const; // n, seed, draw, member, offset

const fromBits = (h: string) => new Float64Array(new BigUint64Array([BigInt(`0x${h}`)]).buffer)[0];

/** wasm2c + gcc for one module: the path of the harness binary, and the seconds each step took. */
function buildHarness(file: string, dir: string): { exe: string; translate: number; compile: number } {
  const [w2c, translate] = timed(() => tool('wasm2c', [join(root, 'build', file), '-n', 'enkf', '-o', join(dir, 'module.c')]));
  assert.is(w2c.status, 0, `wasm2c ${file} failed (status ${w2c.status}, signal ${w2c.signal}): ${w2c.stderr}`);
  const header = readFileSync(join(dir, 'module.h'), 'utf8');
  assert.ok(header.includes('Z_enkfZ_selfCheck'), 'test/c/harness.c speaks wasm2c 1.0.32\'s names (Z_enkfZ_<export>); ' +
    'this wasm2c emitted others: update the harness for its API');
  const runtime = RUNTIME_DIRS.find((d) => existsSync(join(d, 'wasm-rt-impl.c')));
  assert.ok(runtime, `wasm2c's runtime sources (wasm-rt-impl.c) are missing from ${RUNTIME_DIRS.join(' and ')}: install wabt`);
  const inc = ['-I', dir, '-I', runtime!, '-I', join(root, 'include')];
  const [compiled, compile] = timed(() => {
    // The harness with every warning as an error; the generated code and runtime at -O1, warnings off.
    const h = tool('gcc', ['-c', '-O1', '-Wall', '-Wextra', '-Werror', ...inc, join(root, 'test/c/harness.c'), '-o', join(dir, 'harness.o')]);
    if (h.status !== 0) return h;
    return tool('gcc', ['-O1', '-w', ...inc, join(dir, 'harness.o'), join(dir, 'module.c'), join(runtime!, 'wasm-rt-impl.c'),
      '-lm', '-o', join(dir, 'harness')]);
  });
  assert.is(compiled.status, 0, `gcc failed: ${compiled.stderr}`);
  return { exe: join(dir, 'harness'), translate, compile };
}

/** Whether this wasm2c translates v128 code: 1.0.32 (Debian bookworm) aborts on the first SIMD
 *  instruction; later wabt releases translate SIMD through the simde headers. */
function wasm2cTranslatesSimd(): boolean {
  const r = tool('wasm2c', [join(root, 'build/enkf.wasm'), '-o', join(work, 'probe.c')]);
  return r.status === 0;
}

const wasm2cVersion = (): number[] => tool('wasm2c', ['--version']).stdout.trim().split('.').map(Number);

/** Runs the C checks on one build. */
async function runInC(file: string, simd: number): Promise<void> {
  const dir = mkdtempSync(join(work, 'c-'));
  const { exe, translate, compile } = buildHarness(file, dir);
  const version = tool('wasm2c', ['--version']).stdout.trim();
  console.log(`  wasm2c ${version}: translate ${file} ${translate.toFixed(2)} s, gcc -O1 ${compile.toFixed(2)} s`);
  const args = ['selfcheck', 'simd', 'randn', ...RANDN.map(String), 'solve', String(N), String(NRHS),
    ...Array.from(A, String), ...Array.from(B, String), 'cholesky0', 'selfcheck', 'randnoob', 'selfcheck'];
  const out = tool(exe, args);
  assert.is(out.status, 0, `the harness exited with ${out.status} (signal ${out.signal}): ${out.stderr}`);
  const lines = out.stdout.trimEnd().split('\n');
  assert.is(lines.length, 8, out.stdout);

  const js = await nodeInstance(file);
  assert.is(lines[0], 'selfCheck ok 0');
  assert.is(lines[1], `simdEnabled ${simd}`);
  // randn: the same bits as Node's run of this module and of the other build.
  const want = js.randn(...RANDN);
  assert.equal(lines[2].split(' ').slice(1), want, 'randn bits equal Node\'s');
  const other = await nodeInstance(simd ? 'enkf-scalar.wasm' : 'enkf.wasm');
  assert.equal(want, other.randn(...RANDN), 'both builds draw the same bits');
  // Cholesky solve: the known solution to ~1e-13, and Node's bits exactly.
  const [, status, ...solBits] = lines[3].split(' ');
  assert.is(status, '0', 'cholesky status');
  const sol = solBits.map(fromBits);
  for (let i = 0; i < X.length; i++) {
    assert.ok(Math.abs(sol[i] - X[i]) <= 1e-12 * (1 + Math.abs(X[i])), `x[${i}] = ${sol[i]}, want ${X[i]}`);
  }
  assert.equal({ status: 0, bits: solBits }, js.solve(N, NRHS, A, B), 'the solution has Node\'s bits');
  // Bad arguments: env.abort got the message Node's abort reads, the call ended, the instance lives on.
  const cholAbort = js.abortOf(() => js.x.cholesky(0, 0, 0, 0))!;
  assert.match(cholAbort.message, /^cholesky: n must be ≥ 1; got 0$/);
  assert.is(lines[4], `abort ${cholAbort.message} @ ${cholAbort.file}:${cholAbort.line}:${cholAbort.column}`);
  assert.is(lines[5], 'selfCheck ok 0', 'the instance works after an abort');
  const size = js.memory().buffer.byteLength;
  const oob = js.abortOf(() => js.x.randn(4, 1, 1, 1, 0, size - 16))!;
  assert.match(oob.message, new RegExp(`^randn: out must lie inside memory; got pointer ${size - 16} \\+ extent 32 bytes > memory size ${size} bytes$`));
  assert.is(lines[6], `abort ${oob.message} @ ${oob.file}:${oob.line}:${oob.column}`);
  assert.is(lines[7], 'selfCheck ok 0');
}

test('enkf-scalar.wasm in C (wasm2c + gcc): selfCheck, randn bits, a Cholesky solve, aborts through env.abort', () =>
  runInC('enkf-scalar.wasm', 0));

// The SIMD build in C where wasm2c can translate it; Debian bookworm's wasm2c (1.0.32) cannot, and
// then the test pins that fact (a newer wasm2c turns this into the full run) and the SIMD module
// runs in wabt's interpreter below instead. (A newer wasm2c also emits other names: see the harness.)
test('enkf.wasm (SIMD) in C when wasm2c translates SIMD; else wasm2c is older than 1.0.33', async () => {
  if (wasm2cTranslatesSimd()) return runInC('enkf.wasm', 1);
  const [major, minor, patch] = wasm2cVersion();
  assert.ok(major === 1 && minor === 0 && patch < 33, `wasm2c ${wasm2cVersion().join('.')} failed to translate the SIMD module`);
  console.log(`  wasm2c ${wasm2cVersion().join('.')} cannot translate SIMD: enkf.wasm runs in wabt's interpreter instead`);
});

// wabt's interpreter runs the SIMD module (and the scalar one): a spec-test script that links an
// env.abort which traps, checks selfCheck and simdEnabled, and an abort that ends the call.
for (const [file, simd] of [['enkf.wasm', 1], ['enkf-scalar.wasm', 0]] as const) {
  test(`${file} in wabt's interpreter (spectest-interp): selfCheck = 0, an abort traps, the instance lives on`, () => {
    const dir = mkdtempSync(join(work, 'interp-'));
    writeFileSync(join(dir, 'env.wat'), '(module (func (export "abort") (param i32 i32 i32 i32) unreachable))\n');
    const wat = tool('wat2wasm', ['env.wat', '-o', 'env.wasm'], { cwd: dir });
    assert.is(wat.status, 0, wat.stderr);
    copyFileSync(join(root, 'build', file), join(dir, 'enkf.wasm'));
    const invoke = (field: string, args: { type: string; value: string }[] = []) => ({ type: 'invoke', field, args });
    const i32 = (v: number) => ({ type: 'i32', value: String(v) });
    const commands = [
      { type: 'module', line: 1, filename: 'env.wasm' },
      { type: 'register', line: 2, as: 'env' },
      { type: 'module', line: 3, filename: 'enkf.wasm' },
      { type: 'assert_return', line: 4, action: invoke('selfCheck'), expected: [i32(0)] },
      { type: 'assert_return', line: 5, action: invoke('simdEnabled'), expected: [i32(simd)] },
      { type: 'assert_trap', line: 6, action: invoke('cholesky', [i32(0), { type: 'f64', value: '0' }, i32(0), i32(0)]),
        text: 'unreachable', expected: [] },
      { type: 'assert_return', line: 7, action: invoke('selfCheck'), expected: [i32(0)] },
    ];
    writeFileSync(join(dir, 'script.json'), JSON.stringify({ source_filename: 'enkf.wast', commands }));
    const r = tool('spectest-interp', ['script.json'], { cwd: dir });
    assert.is(r.status, 0, `spectest-interp: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^6\/6 tests passed\.$/m, r.stdout);
  });
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test.run();
