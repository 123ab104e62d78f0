// The training thread of the MNIST page: fetches the digits, runs fit() on the 784-64-10 MLP and
// posts progress, the parameters after each test evaluation, and the end of the run. Stop comes in
// as a message and aborts fit() through its AbortSignal; fit() yields every few milliseconds, so the
// message is handled between iterations.
//
// Page → worker: { type: 'start', iterations, k, batch, evalEvery, seed } | { type: 'stop' }
// Worker → page: ready | started | progress | params | done | error (see the handlers in mnist-page.js)
import { loadModule, mlp, fit } from '../../dist/index.js';
import { decodeDigits } from './mnist-digits.js';

const DIGITS_URL = new URL('./generated/digits.bin', import.meta.url);
/** Test digits sent to the page for its grid. */
const GRID = 40;
/** Between yields of fit() to this thread's event loop (ms): how soon Stop is seen. */
const YIELD_MS = 10;

let module;
let digits;
let controller;
let running = false;

async function init() {
  const response = await fetch(DIGITS_URL);
  if (!response.ok) throw new Error(`Could not fetch ${DIGITS_URL}: HTTP ${response.status}. Start the page with npm run demo, which writes it.`);
  [digits, module] = await Promise.all([response.arrayBuffer().then((b) => decodeDigits(b, String(DIGITS_URL))), loadModule()]);
  // fit() takes { data, shape } matrices.
  for (const set of [digits.train, digits.test]) set.x = { data: set.images, shape: [set.count, digits.features] };
  const { test } = digits;
  postMessage({
    type: 'ready', simd: module.simd, side: digits.side, trainCount: digits.train.count, testCount: test.count,
    grid: { pixels: test.bytes.slice(0, GRID * digits.features), images: test.images.slice(0, GRID * digits.features), labels: test.labels.slice(0, GRID) },
  });
}

async function train({ iterations, k, batch, evalEvery, seed }) {
  controller = new AbortController();
  const model = mlp([digits.features, 64, 10], { activation: 'tanh', init: 'lecun', seed, module });
  const postParams = (iteration) => {
    const params = Float32Array.from(model.params);
    postMessage({ type: 'params', iteration, params }, [params.buffer]);
  };
  postMessage({ type: 'started', iterations });
  postParams(-1);
  const history = await fit(model, digits.train.x, digits.train.labels, {
    nlb: { ensembleSize: k }, batchSize: batch, iterations, seed, workers: 0,
    validationData: [digits.test.x, digits.test.labels], validationEvery: evalEvery,
    signal: controller.signal, yieldEvery: YIELD_MS,
    callbacks: {
      onIterationEnd(log) {
        postMessage({
          type: 'progress', iteration: log.iteration, loss: log.crossEntropy, valAccuracy: log.valAccuracy,
          valLoss: log.valLoss, forwardPasses: log.forwardPasses, elapsedMs: log.elapsedMs,
        });
        // fit() put the validated parameters into the model for this evaluation.
        if (log.valAccuracy !== undefined) postParams(log.iteration);
      },
    },
  });
  // The model holds the parameters of the last completed iteration (also after Stop).
  const final = model.evaluate(digits.test.x, digits.test.labels);
  postParams(history.iteration - 1);
  postMessage({
    type: 'done', stopReason: history.stopReason, iterations: history.iteration, forwardPasses: history.forwardPasses,
    elapsedMs: history.elapsedMs, accuracy: final.accuracy, loss: final.loss,
  });
}

const ready = init();
ready.catch((e) => postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) }));

onmessage = async ({ data }) => {
  if (data.type === 'stop') {
    controller?.abort();
    return;
  }
  if (data.type === 'start') {
    if (running) return;
    running = true;
    try {
      await ready;
      await train(data);
    } catch (e) {
      postMessage({ type: 'error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    } finally {
      running = false;
      controller = undefined;
    }
  }
};
