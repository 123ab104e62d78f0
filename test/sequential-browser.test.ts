// A sequential() model trained in Debian's Chromium (playwright-core) on the built package gives the
// bits of the same run in Node, with workers: 0 and 1 (Web Workers building their evaluator from the
// model's architecture), for Gaussian and rank-r members.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser/chromium.js';
import { serve } from './browser/serve.js';
import * as enkf from '../bindings/internal.js';

// The run, as source text so that Node and the page execute the same code: LCG images (integer
// arithmetic only, the same values in every engine), a small CNN with quantized and hardTanh layers.
const RUN = `async (lib, workers, nlb) => {
  let state = 4242;
  const uniform = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const rows = 64;
  const data = Float32Array.from({ length: rows * 36 }, uniform);
  const labels = Int32Array.from({ length: rows }, (_, r) => (data[r * 36 + 7] + data[r * 36 + 28] > 1 ? 1 : 0));
  const model = lib.sequential([
    lib.conv2d({ filters: 3, kernelSize: 3, activation: 'relu' }), lib.maxPool2d(),
    lib.dense({ units: 5, activation: 'hardTanh', quantize: { levels: 3 } }), lib.dense({ units: 2 }),
  ], { inputShape: [6, 6, 1], seed: 3, module: await lib.loadModule() });
  const h = await lib.fit(model, { data, shape: [rows, 36] }, labels, { batchSize: 16, iterations: 6, seed: 2, workers, ...(nlb && { nlb }) });
  return { params: Array.from(model.params), losses: h.iterations.map((it) => it.loss) };
}`;

type Run = { params: number[]; losses: number[] };
const CASES: [number, Record<string, unknown> | undefined][] = [[0, undefined], [1, undefined], [0, { perturbation: 'gaussian', ensembleSize: 10 }], [1, { perturbation: 'gaussian', ensembleSize: 10 }]];

let browser: Browser;
let page: Page;
let origin: string;
let close: () => void;

test.before(async () => {
  const s = await serve();
  origin = s.origin;
  close = () => s.server.close();
  browser = await launchChromium();
  page = await browser.newPage();
  // tsx names functions written inside page.evaluate through a helper the page lacks
  await page.addInitScript('globalThis.__name ??= (f) => f;');
  await page.goto(`${origin}/test/browser/blank.html`);
});

test.after(async () => {
  await browser?.close();
  close?.();
});

test('sequential fit in Chromium (workers 0 and 1, rank-1 and Gaussian members) gives the bits of Node', async () => {
  const run = (0, eval)(RUN) as (lib: unknown, workers: number, nlb?: Record<string, unknown>) => Promise<Run>;
  const inPage = await page.evaluate(async ({ pkg, src, cases }) => {
    const lib = await import(pkg);
    const f = (0, eval)(src);
    const out = [];
    for (const [w, nlb] of cases) out.push(await f(lib, w, nlb));
    return out;
  }, { pkg: `${origin}/dist/internal.js`, src: RUN, cases: CASES }) as Run[];
  for (let i = 0; i < CASES.length; i++) {
    const [workers, nlb] = CASES[i];
    const node = await run(enkf, workers, nlb);
    const what = `workers ${workers}, ${nlb ? 'gaussian' : 'rank-1'}`;
    assert.ok(node.losses.length === 6 && node.losses.every(Number.isFinite), what);
    assert.equal(inPage[i].losses, node.losses, `${what}: losses`);
    assert.equal(inPage[i].params, node.params, `${what}: θ`);
  }
  // the runs differ between the two member families (the comparison above is not vacuous)
  assert.not.equal(inPage[0].params, inPage[2].params);
});

test.run();
