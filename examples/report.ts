// A self-contained HTML report of a training run: inline SVG line charts (loss and accuracy against
// iterations and against forward passes, drawn by svg-plot.ts), the settings, and a grid of test
// digits with their predictions rendered as data-URL BMP images (no canvas, no external files).
import { esc } from './svg-plot.js';

/** An 8-bit grayscale BMP (white background, dark ink) of a side × side image with values in [0, 1]. */
export function grayscaleBmp(pixels: ArrayLike<number>, side: number): Uint8Array {
  const rowBytes = (side + 3) & ~3;
  const palette = 256 * 4;
  const offset = 14 + 40 + palette;
  const size = offset + rowBytes * side;
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b[0] = 0x42; b[1] = 0x4d; // "BM"
  dv.setUint32(2, size, true);
  dv.setUint32(10, offset, true);
  dv.setUint32(14, 40, true); // BITMAPINFOHEADER
  dv.setInt32(18, side, true);
  dv.setInt32(22, side, true); // positive height: rows stored bottom-up
  dv.setUint16(26, 1, true);
  dv.setUint16(28, 8, true);
  dv.setUint32(46, 256, true);
  for (let i = 0; i < 256; i++) {
    b[54 + 4 * i] = b[55 + 4 * i] = b[56 + 4 * i] = 255 - i;
  }
  for (let r = 0; r < side; r++) {
    const dst = offset + (side - 1 - r) * rowBytes;
    for (let c = 0; c < side; c++) b[dst + c] = Math.round(255 * Math.min(1, Math.max(0, pixels[r * side + c])));
  }
  return b;
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export interface DigitCell {
  pixels: ArrayLike<number>;
  label: number;
  predicted: number;
  confidence: number;
}

/** A grid of digits captioned "predicted (confidence)", wrong predictions marked in red. */
export function digitGrid(cells: DigitCell[], side = 28): string {
  const items = cells.map((c) => {
    const ok = c.label === c.predicted;
    const src = `data:image/bmp;base64,${base64(grayscaleBmp(c.pixels, side))}`;
    const title = `label ${c.label}, predicted ${c.predicted} (${(100 * c.confidence).toFixed(1)} %)`;
    return `<figure class="${ok ? 'ok' : 'bad'}" title="${esc(title)}"><img src="${src}" width="56" height="56" alt="${esc(title)}"><figcaption>${c.predicted}${ok ? '' : ` ≠ ${c.label}`}</figcaption></figure>`;
  });
  return `<div class="digits">${items.join('')}</div>`;
}

export interface ReportInput {
  title: string;
  settings: Record<string, string | number | boolean>;
  results: Record<string, string | number>;
  charts: string[];
  digits: string;
}

/** The whole report page. */
export function reportHtml(r: ReportInput): string {
  const rows = (o: Record<string, unknown>) =>
    Object.entries(o).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse}th,td{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}th{font-weight:500;color:#555}
.tables{display:flex;gap:40px;flex-wrap:wrap}.charts{display:flex;flex-wrap:wrap;gap:12px}
.digits{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0;text-align:center;border:2px solid #cde5cd;border-radius:4px;padding:2px}
figure.bad{border-color:#e33}figure img{image-rendering:pixelated;display:block}figcaption{font-size:12px}figure.bad figcaption{color:#c00;font-weight:600}
</style></head><body>
<h1>${esc(r.title)}</h1>
<div class="tables"><div><h2>Settings</h2><table>${rows(r.settings)}</table></div>
<div><h2>Results</h2><table>${rows(r.results)}</table></div></div>
<h2>Training curves</h2><div class="charts">${r.charts.join('')}</div>
<h2>Test digits and predictions</h2><p>Caption: the predicted digit; wrong predictions are framed in red and show the true label after ≠. Hover for the confidence.</p>${r.digits}
</body></html>
`;
}
