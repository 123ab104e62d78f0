// The training plot of the MNIST page: batch cross-entropy (left axis, raw and smoothed) and test
// accuracy (right axis) against the iteration, on a canvas.

/** Draws the batch losses (one per iteration) and the test accuracies ([iteration, accuracy] pairs)
 *  of a run of `iterations` iterations on `canvas`, 560 × 280 CSS pixels. */
export function drawPlot(canvas, { iterations, losses, accuracy }) {
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
  const total = iterations || 1;
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
  if (accuracy.length) {
    ctx.strokeStyle = '#e07a1f';
    ctx.fillStyle = '#e07a1f';
    ctx.lineWidth = 2;
    ctx.beginPath();
    accuracy.forEach(([it, a], i) => (i ? ctx.lineTo(x(it), yAcc(a)) : ctx.moveTo(x(it), yAcc(a))));
    ctx.stroke();
    for (const [it, a] of accuracy) {
      ctx.beginPath();
      ctx.arc(x(it), yAcc(a), 3, 0, 2 * Math.PI);
      ctx.fill();
    }
    const [it, a] = accuracy.at(-1);
    ctx.textAlign = it > total * 0.85 ? 'right' : 'left';
    ctx.font = 'bold 13px system-ui, sans-serif';
    ctx.fillText(`${(a * 100).toFixed(1)} %`, x(it) + (it > total * 0.85 ? -6 : 6), yAcc(a) + 16);
  }
}
