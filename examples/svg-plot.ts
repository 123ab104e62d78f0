// The SVG line chart of the examples (no dependencies): linear or log10 y, several series with a
// legend, as an element for an HTML page (lineChart) or as a standalone .svg file (writeChart).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Series {
  label: string;
  color: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Draw the line dashed (e.g. a baseline method). */
  dashed?: boolean;
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

export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

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

/** Ticks for a log axis over [10^lo, 10^hi] (lo, hi are log10 values): 1, 2, 5 × 10^p over up
 *  to two decades, powers of ten over up to six, and every ⌈span/6⌉-th power beyond. */
export function logTicks(lo: number, hi: number): number[] {
  const span = hi - lo;
  const mantissas = span <= 2 ? [1, 2, 5] : [1];
  const step = span <= 6 ? 1 : Math.ceil(span / 6);
  const out: number[] = [];
  for (let p = Math.floor(lo); p <= Math.ceil(hi); p += step) {
    for (const m of mantissas) {
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

/** An SVG line chart of one or more series (non-finite points, and y ≤ 0 on a log axis, are skipped). */
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
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}" font-family="sans-serif">`);
  parts.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
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
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<polyline clip-path="url(#c${hashStr(o.title)})" fill="none" stroke="${s.color}" stroke-width="1.6"${dash} points="${pts.join(' ')}"/>`);
    const ly = o.legend === 'bottom' ? m.t + ph - 14 - (series.length - 1 - k) * 15 : m.t + 14 + k * 15;
    const lx = m.l + pw - 30 - legendWidth;
    parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
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

/** Writes the chart as a standalone SVG file at `path` (creating its directory). */
export function writeChart(path: string, series: Series[], o: ChartOptions): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, lineChart(series, o) + '\n');
}
