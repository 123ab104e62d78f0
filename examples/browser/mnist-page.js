// The MNIST page: starts and stops training in mnist-worker.js, plots its loss and test accuracy,
// and uses the weights it sends to label a grid of test digits and to guess the digit drawn in the
// box. Predictions run here on the main thread (one small forward pass each); training never does.
// Query parameters: iterations, k (ensemble size), batch, evalEvery, seed, autostart.
import { loadModule, mlp } from '../../dist/index.js';
import { drawPlot } from './mnist-plot.js';
import { toMnistInput, SIDE, FEATURES } from './mnist-draw.js';

const $ = (id) => document.getElementById(id);

/** The run's settings from the query string, checked (a typo is an error on the page, not a default). */
function settings() {
  const query = new URLSearchParams(location.search);
  const defaults = { iterations: 1000, k: 16, batch: 256, evalEvery: 50, seed: 1 };
  const out = {};
  for (const [name, fallback] of Object.entries(defaults)) {
    const raw = query.get(name);
    const v = raw === null ? fallback : Number(raw);
    const min = name === 'seed' ? 0 : 1;
    if (!Number.isInteger(v) || v < min) throw new Error(`?${name}= must be an integer ≥ ${min}; got "${raw}".`);
    out[name] = v;
  }
  return { ...out, autostart: query.has('autostart') };
}

const state = {
  settings: undefined,
  /** Batch loss per iteration and [iteration, accuracy] per test evaluation of the current run. */
  losses: [],
  accuracy: [],
  iteration: 0,
  /** Training runs started since the page loaded. */
  runs: 0,
  paramsIteration: -1,
  grid: undefined,
  model: undefined,
  lastInput: undefined,
  lastProbabilities: undefined,
};
// For the browser test and the curious: the page's model, its last drawn input and guess.
window.mnistDemo = state;

function setState(name, text, isError = false) {
  document.body.dataset.state = name;
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
  $('start').disabled = !['ready', 'stopped', 'done'].includes(name);
  $('stop').disabled = name !== 'training';
}

// ---- progress and the plot ----

// Worker messages only record; the DOM and the plot change at most ten times a second, in a frame.
const RENDER_MS = 100;
let renderDirty = false;
let lastRender = 0;
function scheduleRender() {
  if (renderDirty) return;
  renderDirty = true;
  setTimeout(() => requestAnimationFrame(() => {
    renderDirty = false;
    lastRender = performance.now();
    render();
  }), Math.max(0, lastRender + RENDER_MS - performance.now()));
}

function render() {
  const { iterations } = state.settings;
  $('progress').value = state.iteration / iterations;
  $('progress-text').textContent = `${state.iteration} / ${iterations}`;
  if (document.body.dataset.state === 'training' && state.last) {
    const { loss, elapsedMs, forwardPasses } = state.last;
    const acc = state.accuracy.length ? `, test accuracy ${(state.accuracy.at(-1)[1] * 100).toFixed(1)} %` : '';
    $('status').textContent = `training: iteration ${state.iteration}, batch loss ${loss.toFixed(3)}${acc}, ` +
      `${(elapsedMs / 1000).toFixed(1)} s, ${thousands(forwardPasses)} forward passes`;
  }
  drawPlot($('plot'), { iterations, losses: state.losses, accuracy: state.accuracy });
}

/** 12345 → "12,345" (without Intl, whose first use costs a long task). */
const thousands = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

// ---- the grid of test digits ----

function buildGrid({ pixels, images, labels }) {
  const grid = $('grid');
  grid.textContent = '';
  state.grid = { pixels, images, labels, cells: [] };
  for (let i = 0; i < labels.length; i++) {
    const cell = document.createElement('figure');
    cell.className = 'cell';
    cell.dataset.label = String(labels[i]);
    const canvas = document.createElement('canvas');
    canvas.width = SIDE;
    canvas.height = SIDE;
    const img = new ImageData(SIDE, SIDE);
    for (let p = 0; p < FEATURES; p++) {
      const v = 255 - pixels[i * FEATURES + p];
      img.data.set([v, v, v, 255], 4 * p);
    }
    canvas.getContext('2d').putImageData(img, 0, 0);
    const caption = document.createElement('figcaption');
    caption.textContent = '·';
    cell.append(canvas, caption);
    grid.append(cell);
    state.grid.cells.push(cell);
  }
}

function labelGrid() {
  if (!state.grid || !state.model) return;
  const { images, labels, cells } = state.grid;
  const predicted = state.model.predictClasses({ data: images, shape: [labels.length, FEATURES] });
  let wrong = 0;
  cells.forEach((cell, i) => {
    const ok = predicted[i] === labels[i];
    wrong += ok ? 0 : 1;
    cell.dataset.predicted = String(predicted[i]);
    cell.className = `cell ${ok ? 'right' : 'wrong'}`;
    cell.querySelector('figcaption').textContent = ok ? `${predicted[i]}` : `${predicted[i]} (is ${labels[i]})`;
    cell.title = `label ${labels[i]}, network says ${predicted[i]}`;
  });
  const when = state.paramsIteration < 0 ? 'untrained weights' : `weights after iteration ${state.paramsIteration + 1}`;
  $('grid-summary').textContent = `— ${labels.length - wrong} of ${labels.length} right, wrong ones in red (${when})`;
}

// ---- the drawing box ----

const pad = $('pad');
const padCtx = pad.getContext('2d', { willReadFrequently: true });
let drawing = false;
let hasInk = false;

function clearPad() {
  padCtx.fillStyle = '#000';
  padCtx.fillRect(0, 0, pad.width, pad.height);
  hasInk = false;
  state.lastInput = undefined;
  state.lastProbabilities = undefined;
  $('input28').getContext('2d').clearRect(0, 0, SIDE, SIDE);
  $('guess').textContent = 'draw 0–9 in the box';
  $('probs').textContent = '';
  document.body.dataset.guess = '';
}

function padPoint(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * (pad.width / r.width), (e.clientY - r.top) * (pad.height / r.height)];
}

pad.addEventListener('pointerdown', (e) => {
  drawing = true;
  pad.setPointerCapture(e.pointerId);
  const [x, y] = padPoint(e);
  padCtx.strokeStyle = '#fff';
  padCtx.fillStyle = '#fff';
  padCtx.lineWidth = 20;
  padCtx.lineCap = 'round';
  padCtx.lineJoin = 'round';
  padCtx.beginPath();
  padCtx.arc(x, y, padCtx.lineWidth / 2, 0, 2 * Math.PI);
  padCtx.fill();
  padCtx.beginPath();
  padCtx.moveTo(x, y);
  hasInk = true;
  scheduleGuess();
});
pad.addEventListener('pointermove', (e) => {
  if (!drawing) return;
  const [x, y] = padPoint(e);
  padCtx.lineTo(x, y);
  padCtx.stroke();
  padCtx.beginPath();
  padCtx.moveTo(x, y);
  scheduleGuess();
});
for (const type of ['pointerup', 'pointercancel']) pad.addEventListener(type, () => {
  drawing = false;
  scheduleGuess();
});
$('clear').onclick = clearPad;

let guessDirty = false;
function scheduleGuess() {
  if (guessDirty) return;
  guessDirty = true;
  requestAnimationFrame(() => {
    guessDirty = false;
    guess();
  });
}

function guess() {
  if (!hasInk || !state.model) return;
  const { width, height } = pad;
  const rgba = padCtx.getImageData(0, 0, width, height).data;
  // White ink on black: the red channel is the ink.
  const input = toMnistInput(Float32Array.from({ length: width * height }, (_, p) => rgba[4 * p] / 255), width, height);
  if (!input) return;
  const img = new ImageData(SIDE, SIDE);
  for (let p = 0; p < FEATURES; p++) {
    const v = Math.round(input[p] * 255);
    img.data.set([v, v, v, 255], 4 * p);
  }
  $('input28').getContext('2d').putImageData(img, 0, 0);
  const probs = state.model.predict({ data: input, shape: [1, FEATURES] });
  let best = 0;
  for (let c = 1; c < 10; c++) if (probs[c] > probs[best]) best = c;
  state.lastInput = input;
  state.lastProbabilities = probs;
  const when = state.paramsIteration < 0 ? 'untrained weights' : `after iteration ${state.paramsIteration + 1}`;
  $('guess').innerHTML = `guess <b>${best}</b> <span class="legend">${(probs[best] * 100).toFixed(0)} %, ${when}</span>`;
  const rows = [];
  for (let c = 0; c < 10; c++) {
    const pct = (probs[c] * 100).toFixed(1);
    rows.push(`<span class="${c === best ? 'top' : ''}" style="display:contents"><span>${c}</span>` +
      `<span class="bar"><span style="width:${pct}%"></span></span><span>${pct}</span></span>`);
  }
  $('probs').innerHTML = rows.join('');
  document.body.dataset.guess = String(best);
}

// ---- the worker ----

function onWorkerMessage({ data: msg }) {
  switch (msg.type) {
    case 'ready':
      buildGrid(msg.grid);
      labelGrid();
      setState('ready', `ready: ${msg.trainCount} training and ${msg.testCount} test digits (SIMD: ${msg.simd}). Press Start.`);
      if (state.settings.autostart) start();
      break;
    case 'started':
      state.runs++;
      state.losses = [];
      state.accuracy = [];
      state.iteration = 0;
      state.last = undefined;
      scheduleRender();
      break;
    case 'progress':
      state.iteration = msg.iteration + 1;
      state.losses[msg.iteration] = msg.loss;
      state.last = msg;
      if (msg.valAccuracy !== undefined) {
        state.accuracy.push([msg.iteration + 1, msg.valAccuracy]);
        document.body.dataset.accuracy = String(msg.valAccuracy);
      }
      scheduleRender();
      break;
    case 'params':
      state.model.setParameters(msg.params);
      state.paramsIteration = msg.iteration;
      labelGrid();
      scheduleGuess();
      break;
    case 'done': {
      render();
      document.body.dataset.finalAccuracy = String(msg.accuracy);
      const how = msg.stopReason === 'aborted' ? 'stopped' : 'done';
      setState(how, `${how} after ${msg.iterations} iterations (${(msg.elapsedMs / 1000).toFixed(1)} s, ` +
        `${thousands(msg.forwardPasses)} forward passes): test accuracy ${(msg.accuracy * 100).toFixed(1)} %, ` +
        `test loss ${msg.loss.toFixed(3)}.`);
      break;
    }
    case 'error':
      setState('error', msg.message, true);
      break;
  }
}

function start() {
  const { iterations, k, batch, evalEvery, seed } = state.settings;
  state.iteration = 0;
  scheduleRender();
  setState('training', `training: ${iterations} iterations, ensemble of ${k}, batches of ${batch}…`);
  worker.postMessage({ type: 'start', iterations, k, batch, evalEvery, seed });
}

let worker;
$('start').onclick = start;
$('stop').onclick = () => {
  setState('stopping', 'stopping after the current iteration…');
  worker.postMessage({ type: 'stop' });
};

setState('loading', 'loading the digits and the WebAssembly module…');
clearPad();
try {
  state.settings = settings();
  $('k-text').textContent = String(state.settings.k);
  $('progress-text').textContent = `0 / ${state.settings.iterations}`;
  render();
  // The worker starts loading the digits while this thread compiles its own copy of the module.
  worker = new Worker(new URL('./mnist-worker.js', import.meta.url), { type: 'module' });
  worker.onerror = (e) => setState('error', `The training worker failed: ${e.message ?? 'see the console'}`, true);
  const modelReady = loadModule().then((module) => {
    state.model = mlp([FEATURES, 64, 10], { activation: 'tanh', init: 'lecun', seed: state.settings.seed, module });
  });
  // Messages wait for the model, in their order.
  worker.onmessage = (e) => modelReady.then(() => onWorkerMessage(e));
  await modelReady;
} catch (e) {
  setState('error', e instanceof Error ? e.message : String(e), true);
}
