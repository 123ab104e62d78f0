// The browser demo: trains a small MLP on three spirals with fit() and draws the decision regions
// and the loss as it goes. Serve the package root and open examples/browser/index.html.
import { loadModule, mlp, fit } from '../../dist/index.js';

const CLASSES = 3;
const POINTS = 900;
// One strong colour per class: the points use it as it is, the regions a lighter tint of it.
const COLORS = [[214, 48, 39], [33, 102, 172], [26, 152, 80]];
/** Share of the class colour in a region's tint (the rest is white): strong enough to tell the classes apart, light enough for the points. */
const REGION_TINT = 0.62;
const $ = (id) => document.getElementById(id);

// Three interleaved spirals with a little noise; a tiny LCG keeps the page deterministic.
function spirals(count, seed) {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const x = new Float32Array(count * 2);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % CLASSES;
    const r = rand();
    const angle = r * 3.2 + (2 * Math.PI * c) / CLASSES + (rand() - 0.5) * 0.35;
    x[2 * i] = r * Math.cos(angle);
    x[2 * i + 1] = r * Math.sin(angle);
    labels[i] = c;
  }
  return { x, labels };
}

function drawRegions(model, data) {
  const canvas = $('regions');
  const ctx = canvas.getContext('2d');
  const G = 75;
  const grid = new Float32Array(G * G * 2);
  for (let i = 0; i < G; i++) for (let j = 0; j < G; j++) {
    grid[2 * (i * G + j)] = (j + 0.5) / G * 2 - 1;
    grid[2 * (i * G + j) + 1] = 1 - (i + 0.5) / G * 2;
  }
  const p = model.predict({ data: grid, shape: [G * G, 2] });
  const img = ctx.createImageData(G, G);
  for (let q = 0; q < G * G; q++) {
    for (let ch = 0; ch < 3; ch++) {
      let v = 0;
      for (let c = 0; c < CLASSES; c++) v += p[q * CLASSES + c] * COLORS[c][ch];
      img.data[4 * q + ch] = 255 - REGION_TINT * (255 - v);
    }
    img.data[4 * q + 3] = 255;
  }
  const off = new OffscreenCanvas(G, G);
  off.getContext('2d').putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
  // Points in the full class colour with a dark outline, so they stand out on any region.
  ctx.lineWidth = 1;
  ctx.strokeStyle = 'rgba(20, 20, 20, 0.85)';
  for (let i = 0; i < data.labels.length; i++) {
    const [r, g, b] = COLORS[data.labels[i]];
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.beginPath();
    ctx.arc((data.x[2 * i] + 1) / 2 * canvas.width, (1 - data.x[2 * i + 1]) / 2 * canvas.height, 2.6, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }
}

function drawLoss(losses) {
  const canvas = $('loss');
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (losses.length < 2) return;
  const max = Math.max(...losses), min = Math.min(...losses, 0);
  ctx.strokeStyle = '#345';
  ctx.beginPath();
  losses.forEach((l, i) => {
    const px = 30 + (i / (losses.length - 1)) * (canvas.width - 40);
    const py = 10 + (1 - (l - min) / (max - min || 1)) * (canvas.height - 40);
    i ? ctx.lineTo(px, py) : ctx.moveTo(px, py);
  });
  ctx.stroke();
  ctx.fillStyle = '#333';
  ctx.fillText(`loss ${losses.at(-1).toFixed(3)} (iteration ${losses.length})`, 34, canvas.height - 10);
}

const module = await loadModule();
const data = spirals(POINTS, 7);
let controller;

async function train() {
  controller = new AbortController();
  $('start').disabled = true;
  $('stop').disabled = false;
  const model = mlp([2, 32, 32, CLASSES], { activation: 'tanh', seed: 1, module });
  const losses = [];
  const started = performance.now();
  const history = await fit(model, { data: data.x, shape: [POINTS, 2] }, data.labels, {
    optimizer: $('optimizer').value,
    batchSize: 300,
    iterations: 600,
    signal: controller.signal,
    yieldEvery: 16,
    callbacks: {
      onIterationEnd(log) {
        losses.push(log.loss);
        if (log.iteration % 25 === 0) {
          drawRegions(model, data);
          drawLoss(losses);
          $('status').textContent = `iteration ${log.iteration}  loss ${log.loss.toFixed(4)}  forward passes ${log.forwardPasses}`;
        }
      },
    },
  });
  const { accuracy, loss } = model.evaluate({ data: data.x, shape: [POINTS, 2] }, data.labels);
  drawRegions(model, data);
  drawLoss(losses);
  const seconds = (performance.now() - started) / 1000;
  $('status').textContent = `${history.stopReason}: ${history.iteration} iterations, ${history.forwardPasses} forward passes, ` +
    `${seconds.toFixed(1)} s\ntraining accuracy ${(accuracy * 100).toFixed(1)} %, loss ${loss.toFixed(4)} (SIMD: ${module.simd})`;
  document.body.dataset.accuracy = String(accuracy);
  document.body.dataset.done = 'true';
  $('start').disabled = false;
  $('stop').disabled = true;
}

$('start').onclick = () => train();
$('stop').onclick = () => controller?.abort();
$('status').textContent = `ready (SIMD: ${module.simd})`;
if (new URLSearchParams(location.search).has('autostart')) train();
