// The module's ABI as shipped in include/enkf.h: the committed header is what
// scripts/gen-header.mjs renders from the built modules, its signatures agree with wabt's
// wasm-objdump and its names with WebAssembly.Module.exports, and selfCheck() passes in both builds
// with generator bits that equal the plain-TS definition.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { renderFromBuild } from '../scripts/gen-header.mjs';
import { randnRef } from './oracles.js';

const rootUrl = new URL('../', import.meta.url);
const root = fileURLToPath(rootUrl);
const header = readFileSync(new URL('include/enkf.h', rootUrl), 'utf8');
const BUILDS = ['enkf.wasm', 'enkf-scalar.wasm'];
const bytes = (file: string) => readFileSync(new URL(`build/${file}`, rootUrl));

/** ENKF_EXPORTS' rows: [name, "(params) -> result"], in header order. */
const table = [...header.matchAll(/^ {2}X\((\w+), "([^"]*)"\)/gm)].map((m) => [m[1], m[2]]);

test('include/enkf.h is what scripts/gen-header.mjs renders from build/*.wasm', () => {
  assert.ok(header === renderFromBuild(rootUrl),
    'include/enkf.h is stale: the module\'s exports changed. Run `node scripts/build.mjs && node scripts/gen-header.mjs` and commit it');
});

test('the header lists exactly the function exports of both builds, in order, and the memory', () => {
  for (const file of BUILDS) {
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(bytes(file)));
    assert.equal(table.map(([name]) => name), exports.filter((e) => e.kind === 'function').map((e) => e.name), file);
    assert.equal(exports.filter((e) => e.kind !== 'function'), [{ name: 'memory', kind: 'memory' }], `${file}: one export besides functions`);
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes(file)));
    assert.equal(imports, [{ module: 'env', name: 'abort', kind: 'function' }], `${file}: the one import`);
  }
  for (const [name, sig] of table) {
    const params = sig.slice(1, sig.indexOf(')')).split(', ').filter(Boolean);
    const typedef = header.match(new RegExp(`^typedef (\\w+) enkf_${name}_fn\\(([^)]*)\\);$`, 'm'));
    assert.ok(typedef, `a typedef for ${name}`);
    const cParams = typedef![2] === 'void' ? [] : typedef![2].split(', ').map((p) => p.split(' ')[0]);
    const C: Record<string, string> = { i32: 'int32_t', f32: 'float', f64: 'double' };
    assert.equal(cParams, params.map((t) => C[t]), `${name}: C parameter types`);
    const result = sig.split(' -> ')[1];
    assert.is(typedef![1], result === 'nil' ? 'void' : C[result], `${name}: C result type`);
  }
});

test('every signature in the header equals wasm-objdump\'s reading of both builds', () => {
  for (const file of BUILDS) {
    const r = spawnSync('wasm-objdump', ['-x', `build/${file}`], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      assert.unreachable('wasm-objdump is not installed: install Debian\'s wabt (apt-get install wabt; .ci/run does)');
    }
    assert.is(r.status, 0, r.stderr);
    // " - type[3] (i32) -> i32", " - func[10] sig=1 <alloc>", " - func[10] <alloc> -> \"alloc\""
    const types = new Map([...r.stdout.matchAll(/^ - type\[(\d+)\] (\(.*\) -> .*)$/gm)].map((m) => [m[1], m[2]]));
    const sigOf = new Map([...r.stdout.matchAll(/^ - func\[(\d+)\] sig=(\d+)/gm)].map((m) => [m[1], types.get(m[2])]));
    const exported = [...r.stdout.matchAll(/^ - func\[(\d+)\] <[^>]*> -> "(\w+)"$/gm)].map((m) => [m[2], sigOf.get(m[1])]);
    assert.equal(table, exported, file);
  }
});

test('selfCheck() returns 0 in both builds, and its pinned generator bits are the definition\'s', async () => {
  for (const file of BUILDS) {
    const { instance } = await WebAssembly.instantiate(bytes(file), { env: { abort: () => { throw new Error('abort'); } } });
    assert.is((instance.exports.selfCheck as () => number)(), 0, file);
  }
  const source = readFileSync(new URL('assembly/selfcheck.ts', rootUrl), 'utf8');
  const seed = Number(source.match(/RNG_SEED: u32 = (\d+);/)![1]);
  const pinned = [...source.matchAll(/RNG_BITS\d: u64 = 0x([0-9A-F]{16});/g)].map((m) => m[1].toLowerCase());
  const want = Array.from(new BigUint64Array(randnRef(4, seed, 0, 0, 0).buffer), (b) => b.toString(16).padStart(16, '0'));
  assert.equal(pinned, want);
});

test.run();
