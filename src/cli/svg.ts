// A minimal SVG line plot (no dependency): several named series over a shared x axis, with
// axes, ticks, a legend and an optional vertical marker. Used for loss curves and forecasts.

export interface PlotSeries {
  name: string;
  /** x values; default 0..n-1. */
  x?: number[];
  y: number[];
  color?: string;
  dashed?: boolean;
}

export interface PlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** Draw a dashed vertical line at this x (e.g. where the forecast starts). */
  markerX?: number;
  /** Logarithmic y axis (loss curves). */
  logY?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** "Nice" tick values covering [lo, hi] (1, 2, 5 × 10^k steps). */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  // The 1/2/5 step whose tick count comes closest to the one asked for.
  const step = [1, 2, 5, 10]
    .map((m) => m * mag)
    .reduce((best, s) => (Math.abs((hi - lo) / s - count) < Math.abs((hi - lo) / best - count) ? s : best));
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

const fmt = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(+v.toPrecision(4)));

export function linePlot(series: PlotSeries[], o: PlotOptions = {}): string {
  const W = o.width ?? 720;
  const H = o.height ?? 400;
  const m = { left: 70, right: 20, top: o.title ? 36 : 16, bottom: 50 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const ty = (v: number) => (o.logY ? Math.log10(Math.max(v, 1e-12)) : v);
  const pts = series.map((s) => s.y.map((y, i) => [s.x ? s.x[i] : i, ty(y)] as const).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const all = pts.flat();
  let x0 = Math.min(...all.map((p) => p[0]));
  let x1 = Math.max(...all.map((p) => p[0]));
  let y0 = Math.min(...all.map((p) => p[1]));
  let y1 = Math.max(...all.map((p) => p[1]));
  if (!all.length) [x0, x1, y0, y1] = [0, 1, 0, 1];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 1, y1 + 1];
  // Headroom above the data for the legend box, so that it does not cover the curves' peaks.
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad + (y1 - y0) * 0.06 * series.length;
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (o.title) parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  // Grid and ticks.
  // Log axes: ticks at powers of ten over wide ranges; over less than ~1.5 decades, nice values.
  let yt: number[];
  if (!o.logY) yt = niceTicks(y0, y1);
  else if (y1 - y0 >= 1.5) yt = niceTicks(Math.floor(y0), Math.ceil(y1), 5).filter((v) => Number.isInteger(v) && v >= y0 && v <= y1);
  else yt = niceTicks(10 ** y0, 10 ** y1, 6).filter((v) => v > 0).map((v) => Math.log10(v));
  for (const v of yt) {
    const y = sy(v).toFixed(1);
    parts.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${esc(fmt(o.logY ? +(10 ** v).toPrecision(6) : v))}</text>`);
  }
  for (const v of niceTicks(x0, x1, 8)) {
    const x = sx(v).toFixed(1);
    parts.push(`<line x1="${x}" y1="${m.top + ph}" x2="${x}" y2="${m.top + ph + 4}" stroke="#333"/>`);
    parts.push(`<text x="${x}" y="${m.top + ph + 18}" text-anchor="middle">${esc(fmt(v))}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  if (o.xLabel) parts.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  if (o.yLabel) parts.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  if (o.markerX !== undefined && Number.isFinite(o.markerX)) {
    const x = sx(o.markerX).toFixed(1);
    parts.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#888" stroke-dasharray="4 4"/>`);
  }
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const d = pts[k].map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="6 3"' : ''}><title>${esc(s.name)}</title></path>`);
  });
  // Legend in the top-right corner on a white box, so that it never hides a curve's label.
  const textW = Math.max(...series.map((s) => s.name.length)) * 6.8;
  const boxW = 44 + textW;
  const lx = m.left + pw - boxW - 8;
  parts.push(`<rect x="${lx}" y="${m.top + 6}" width="${boxW}" height="${series.length * 16 + 8}" fill="white" fill-opacity="0.85" stroke="#ccc"/>`);
  series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const ly = m.top + 18 + k * 16;
    parts.push(`<line x1="${lx + 8}" y1="${ly}" x2="${lx + 32}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 3"' : ''}/>`);
    parts.push(`<text x="${lx + 38}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
