// The MNIST page: starts and stops training in mnist-worker.js, plots its loss and test accuracy,
// and uses the weights it sends to label a grid of test digits and to guess the digit drawn in the
// box. Predictions run here on the main thread (one small forward pass each); training never does.
// Query parameters: iterations, k (ensemble size), batch, evalEvery, seed, autostart.
import { loadModule, mlp } from '../../dist/index.js';

const $ = (id) => document.getElementById(id);
const SIDE = 28;
const FEATURES = SIDE * SIDE;

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

// ---- the plot ----

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
  drawPlot();
}

/** 12345 → "12,345" (without Intl, whose first use costs a long task). */
const thousands = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

function drawPlot() {
  const canvas = $('plot');
  const dpr = window.devicePixelRatio || 1;
  const W = 560, H = 280;
  if (canvas.width !== W * dpr) {
    canvas.width = W * dpr;
    canvas.height = H * dpr;
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, W, H);
  const left = 46, right = W - 46, top = 14, bottom = H - 34;
  const total = state.settings?.iterations ?? 1;
  const losses = state.losses;
  const maxLoss = Math.max(2.5, ...losses.filter(Number.isFinite).slice(0, 20));
  const x = (it) => left + (it / total) * (right - left);
  const yLoss = (l) => bottom - (Math.min(l, maxLoss) / maxLoss) * (bottom - top);
  const yAcc = (a) => bottom - a * (bottom - top);
  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  // Grid and axes: accuracy ticks every 20 %, iteration ticks at fifths of the run.
  for (let i = 0; i <= 5; i++) {
    const a = i / 5;
    ctx.strokeStyle = '#eceff1';
    ctx.beginPath();
    ctx.moveTo(left, yAcc(a));
    ctx.lineTo(right, yAcc(a));
    ctx.stroke();
    ctx.fillStyle = '#c0650f';
    ctx.textAlign = 'left';
    ctx.fillText(`${Math.round(a * 100)} %`, right + 5, yAcc(a) + 4);
    ctx.fillStyle = '#2f6db5';
    ctx.textAlign = 'right';
    ctx.fillText((a * maxLoss).toFixed(1), left - 5, yAcc(a) + 4);
    ctx.fillStyle = '#555';
    ctx.textAlign = 'center';
    ctx.fillText(String(Math.round(i * total / 5)), x(i * total / 5), bottom + 15);
  }
  ctx.fillText('iteration', (left + right) / 2, H - 4);
  ctx.strokeStyle = '#90a4ae';
  ctx.strokeRect(left, top, right - left, bottom - top);
  // Batch loss: raw in pale blue, its moving average in blue.
  if (losses.length > 1) {
    ctx.strokeStyle = '#b9cfe8';
    ctx.beginPath();
    losses.forEach((l, i) => (i ? ctx.lineTo(x(i + 1), yLoss(l)) : ctx.moveTo(x(i + 1), yLoss(l))));
    ctx.stroke();
    ctx.strokeStyle = '#2f6db5';
    ctx.lineWidth = 2;
    ctx.beginPath();
    let smooth = losses[0];
    losses.forEach((l, i) => {
      smooth = 0.9 * smooth + 0.1 * l;
      i ? ctx.lineTo(x(i + 1), yLoss(smooth)) : ctx.moveTo(x(i + 1), yLoss(smooth));
    });
    ctx.stroke();
  }
  // Test accuracy: a line with a dot per evaluation, the latest value written next to it.
  if (state.accuracy.length) {
    ctx.strokeStyle = '#e07a1f';
    ctx.fillStyle = '#e07a1f';
    ctx.lineWidth = 2;
    ctx.beginPath();
    state.accuracy.forEach(([it, a], i) => (i ? ctx.lineTo(x(it), yAcc(a)) : ctx.moveTo(x(it), yAcc(a))));
    ctx.stroke();
    for (const [it, a] of state.accuracy) {
      ctx.beginPath();
      ctx.arc(x(it), yAcc(a), 3, 0, 2 * Math.PI);
      ctx.fill();
    }
    const [it, a] = state.accuracy.at(-1);
    ctx.textAlign = it > total * 0.85 ? 'right' : 'left';
    ctx.font = 'bold 13px system-ui, sans-serif';
    ctx.fillText(`${(a * 100).toFixed(1)} %`, x(it) + (it > total * 0.85 ? -6 : 6), yAcc(a) + 16);
  }
}

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

/** Area-averaging weights that map `n` source pixels starting at `from` onto `size` target pixels
 *  of `scale` target pixels per source pixel: for each target pixel, its [source index, overlap] pairs. */
function areaWeights(from, n, scale, size) {
  const out = [];
  for (let t = 0; t < size; t++) {
    const lo = from + t / scale, hi = from + (t + 1) / scale;
    const pairs = [];
    for (let s = Math.floor(lo); s < Math.min(Math.ceil(hi), from + n); s++) {
      const w = Math.min(hi, s + 1) - Math.max(lo, s);
      if (w > 0) pairs.push([s, w]);
    }
    out.push(pairs);
  }
  return out;
}

/**
 * The drawing as MNIST prepares its digits: the ink's bounding box scaled (keeping its aspect ratio)
 * into a 20×20 box by area averaging, then placed in the 28×28 field with its centre of mass at the
 * centre; values in [0, 1] like the training inputs (the mnist package's pixel/255). Null without ink.
 */
function toMnistInput() {
  const { width: W, height: H } = pad;
  const rgba = padCtx.getImageData(0, 0, W, H).data;
  const ink = new Float32Array(W * H);
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const v = rgba[4 * (y * W + x)] / 255;
    ink[y * W + x] = v;
    if (v > 0.05) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  if (x1 < 0) return null;
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  const scale = 20 / Math.max(w, h);
  const tw = Math.max(1, Math.round(w * scale)), th = Math.max(1, Math.round(h * scale));
  const wx = areaWeights(x0, w, scale, tw), wy = areaWeights(y0, h, scale, th);
  const small = new Float32Array(tw * th);
  let mass = 0, mx = 0, my = 0;
  for (let ty = 0; ty < th; ty++) for (let tx = 0; tx < tw; tx++) {
    let sum = 0, area = 0;
    for (const [sy, a] of wy[ty]) for (const [sx, b] of wx[tx]) {
      sum += a * b * ink[sy * W + sx];
      area += a * b;
    }
    const v = area > 0 ? Math.min(1, sum / area) : 0;
    small[ty * tw + tx] = v;
    mass += v;
    mx += v * (tx + 0.5);
    my += v * (ty + 0.5);
  }
  const input = new Float32Array(FEATURES);
  if (mass === 0) return null;
  const ox = Math.round(SIDE / 2 - mx / mass), oy = Math.round(SIDE / 2 - my / mass);
  for (let ty = 0; ty < th; ty++) for (let tx = 0; tx < tw; tx++) {
    const X = tx + ox, Y = ty + oy;
    if (X >= 0 && X < SIDE && Y >= 0 && Y < SIDE) input[Y * SIDE + X] = small[ty * tw + tx];
  }
  return input;
}

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
  const input = toMnistInput();
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
