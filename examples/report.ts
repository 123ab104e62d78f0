// A self-contained HTML report of a training run: inline SVG line charts (loss and accuracy against
// iterations and against forward passes), the settings, and a grid of test digits with their
// predictions rendered as data-URL BMP images (no canvas, no external files).

export interface Series {
  label: string;
  color: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Plot y on a log scale (all values must be positive). */
  logY?: boolean;
  /** Fixed y range (before the log, if any). */
  yRange?: [number, number];
  /** Legend corner (default 'top'): put it where the curves are not, e.g. 'bottom' for rising ones. */
  legend?: 'top' | 'bottom';
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** 1, 2 or 5 × 10^p tick positions covering [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Ticks 1, 2, 5 × 10^p inside [10^lo, 10^hi] for a log axis (lo, hi are log10 values). */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let p = Math.floor(lo); p <= Math.ceil(hi); p++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** p;
      if (Math.log10(v) >= lo - 1e-9 && Math.log10(v) <= hi + 1e-9) out.push(Number(v.toPrecision(6)));
    }
  }
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

/** An SVG line chart of one or more series. */
export function lineChart(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 460;
  const H = o.height ?? 280;
  const m = { l: 58, r: 14, t: 28, b: 44 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const ty = (v: number) => (o.logY ? Math.log10(v) : v);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s.x.length; i++) {
      const yv = s.y[i];
      if (!Number.isFinite(yv) || (o.logY && yv <= 0)) continue;
      x0 = Math.min(x0, s.x[i]); x1 = Math.max(x1, s.x[i]);
      y0 = Math.min(y0, ty(yv)); y1 = Math.max(y1, ty(yv));
    }
  }
  if (o.yRange) [y0, y1] = o.yRange.map(ty) as [number, number];
  if (!Number.isFinite(x0)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const sx = (v: number) => m.l + ((v - x0) / (x1 - x0)) * pw;
  const sy = (v: number) => m.t + ph - ((ty(v) - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">`);
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="600">${esc(o.title)}</text>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="#fff" stroke="#999"/>`);
  for (const v of niceTicks(x0, x1)) {
    const x = sx(v).toFixed(1);
    parts.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${m.t + ph}" stroke="#eee"/>`);
    parts.push(`<text x="${x}" y="${m.t + ph + 15}" text-anchor="middle" font-size="11">${fmt(v)}</text>`);
  }
  const yTicks = o.logY ? logTicks(y0, y1) : niceTicks(y0, y1);
  for (const v of yTicks) {
    const y = sy(v).toFixed(1);
    parts.push(`<line x1="${m.l}" y1="${y}" x2="${m.l + pw}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11">${fmt(v)}</text>`);
  }
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle" font-size="12">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(o.yLabel)}</text>`);
  parts.push(`<clipPath id="c${hashStr(o.title)}"><rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}"/></clipPath>`);
  // About 6 px per character of the 11 px legend font.
  const legendWidth = 6 * Math.max(0, ...series.map((s) => s.label.length));
  series.forEach((s, k) => {
    const pts: string[] = [];
    for (let i = 0; i < s.x.length; i++) {
      const yv = s.y[i];
      if (!Number.isFinite(yv) || (o.logY && yv <= 0)) continue;
      pts.push(`${sx(s.x[i]).toFixed(1)},${sy(yv).toFixed(1)}`);
    }
    parts.push(`<polyline clip-path="url(#c${hashStr(o.title)})" fill="none" stroke="${s.color}" stroke-width="1.6" points="${pts.join(' ')}"/>`);
    const ly = o.legend === 'bottom' ? m.t + ph - 14 - (series.length - 1 - k) * 15 : m.t + 14 + k * 15;
    const lx = m.l + pw - 30 - legendWidth;
    parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`);
    parts.push(`<text x="${lx + 24}" y="${ly}" dominant-baseline="middle" font-size="11">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function hashStr(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36);
}

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
