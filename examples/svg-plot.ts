// A minimal SVG line chart (log-scale y) for the examples: no dependencies, one function.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Series {
  label: string;
  /** Points (x, y); y ≤ 0 or non-finite points are skipped on the log axis. */
  points: [number, number][];
  color: string;
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

// "Nice" linear ticks: about `count` round numbers covering [lo, hi].
function linearTicks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) ticks.push(t);
  return ticks;
}

/** Renders the series as an SVG document (x linear, y log10). */
export function lineChartSvg(series: Series[], o: ChartOptions): string {
  const W = o.width ?? 760;
  const H = o.height ?? 440;
  const left = 78;
  const right = 190;
  const top = 40;
  const bottom = 52;
  const pts = series.flatMap((s) => s.points.filter(([, y]) => y > 0 && Number.isFinite(y)));
  const xMax = Math.max(1, ...pts.map(([x]) => x));
  const yLo = Math.floor(Math.log10(Math.min(...pts.map(([, y]) => y))));
  const yHi = Math.ceil(Math.log10(Math.max(...pts.map(([, y]) => y))));
  const span = Math.max(1, yHi - yLo);
  const X = (x: number) => left + (x / xMax) * (W - left - right);
  const Y = (y: number) => top + (1 - (Math.log10(y) - yLo) / span) * (H - top - bottom);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2 - right / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  const decadeStep = Math.max(1, Math.ceil(span / 10));
  for (let d = yLo; d <= yHi; d += decadeStep) {
    const y = Y(10 ** d);
    out.push(`<line x1="${left}" x2="${W - right}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">1e${d}</text>`);
  }
  for (const t of linearTicks(0, xMax, 8)) {
    const x = X(t);
    out.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${H - bottom}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x}" y="${H - bottom + 16}" text-anchor="middle">${t}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${W - left - right}" height="${H - top - bottom}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${(left + W - right) / 2}" y="${H - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${(top + H - bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  series.forEach((s, i) => {
    const d = s.points.filter(([, y]) => y > 0 && Number.isFinite(y)).map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ');
    if (d) {
      out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${d}"/>`);
    }
    const ly = top + 10 + i * 20;
    out.push(`<line x1="${W - right + 12}" x2="${W - right + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${W - right + 46}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Writes the chart to `path` (creating its directory). */
export function writeChart(path: string, series: Series[], o: ChartOptions): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, lineChartSvg(series, o));
}
