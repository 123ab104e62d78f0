// A Node application bundled for deployment (esbuild --platform=node) with enkf-wasm/inline and
// fit({ workers }): the bundle is copied alone into an empty directory (no node_modules, no dist/,
// no build/) and run; the worker starts from the inlined worker source and the run equals the
// workers: 0 bits of the library run from source.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import * as enkf from '../bindings/internal.js';
// @ts-ignore: a plain ES module shared with the bundled app
import { fitWith } from './browser/fit-workers.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));

test('an esbuild --platform=node bundle of enkf-wasm/inline runs fit with workers 1 and 2 from an empty directory', async () => {
  assert.ok(existsSync(join(ROOT, 'dist/inline.js')), 'dist/ is built (npm test builds first)');
  const tmp = mkdtempSync(join(tmpdir(), 'enkf-node-bundle-'));
  try {
    const out = join(tmp, 'deploy');
    writeFileSync(join(tmp, 'app.mjs'), `
import * as enkf from 'enkf-wasm/inline';
import { fitWith } from ${JSON.stringify(join(ROOT, 'test/browser/fit-workers.js'))};
const runs = {};
for (const w of [1, 2]) runs[w] = await fitWith(enkf, w);
console.log(JSON.stringify(runs));
`);
    await build({
      entryPoints: [join(tmp, 'app.mjs')], bundle: true, platform: 'node', format: 'esm', outfile: join(out, 'app.mjs'),
      alias: { 'enkf-wasm/inline': join(ROOT, 'dist/inline.js') }, logLevel: 'error',
    });
    assert.equal(readdirSync(out), ['app.mjs'], 'the deployment is one file');
    const { stdout } = await run(process.execPath, ['app.mjs'], { cwd: out });
    const runs = JSON.parse(stdout.trim().split('\n').pop()!);
    const reference = await fitWith(enkf, 0);
    for (const w of ['1', '2']) {
      assert.equal(runs[w].params, reference.params, `workers ${w}: θ`);
      assert.equal(runs[w].losses, reference.losses, `workers ${w}: losses`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
