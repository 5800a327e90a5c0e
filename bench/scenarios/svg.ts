// A small hand-written SVG line-chart writer (no dependency): one or more panels side by side sharing axes,
// linear or log-10 x axis, tick labels, axis titles and a legend. Used for served-token series and TTFT CDFs.

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  /** Draw as a step function (CDFs). @default false */
  readonly step?: boolean;
}

export interface Panel {
  readonly title: string;
  readonly series: readonly Series[];
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly panels: readonly Panel[];
  /** Log-10 x axis (values <= 0 are dropped). @default false */
  readonly xLog?: boolean;
  /** Fixed y range; otherwise [0, max of the data]. */
  readonly yMax?: number;
  readonly panelWidth?: number;
  readonly panelHeight?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const MARGIN = { left: 72, right: 16, top: 56, bottom: 84 };
const GAP = 36;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `count` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

export function renderChart(o: ChartOptions): string {
  const pw = o.panelWidth ?? 360;
  const ph = o.panelHeight ?? 260;
  const n = Math.max(1, o.panels.length);
  const width = MARGIN.left + n * pw + (n - 1) * GAP + MARGIN.right;
  const height = MARGIN.top + ph + MARGIN.bottom;
  const tx = (x: number): number => (o.xLog === true ? Math.log10(x) : x);
  const all = o.panels.flatMap((p) => p.series.flatMap((s) => s.points)).filter(([x]) => o.xLog !== true || x > 0);
  let xMin = Math.min(...all.map(([x]) => tx(x)));
  let xMax = Math.max(...all.map(([x]) => tx(x)));
  if (!Number.isFinite(xMin)) [xMin, xMax] = [0, 1];
  if (o.xLog === true) [xMin, xMax] = [Math.floor(xMin), Math.ceil(xMax)];
  if (xMax <= xMin) xMax = xMin + 1;
  const yMax = o.yMax ?? Math.max(1e-9, ...all.map(([, y]) => y)) * 1.05;
  const names = [...new Set(o.panels.flatMap((p) => p.series.map((s) => s.name)))];
  const color = (name: string): string => PALETTE[names.indexOf(name) % PALETTE.length] ?? '#000';

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>`);
  const xTicks = o.xLog === true ? range(xMin, xMax) : niceTicks(xMin, xMax);
  const yTicks = niceTicks(0, yMax);
  o.panels.forEach((panel, i) => {
    const left = MARGIN.left + i * (pw + GAP);
    const top = MARGIN.top;
    const sx = (x: number): number => left + ((tx(x) - xMin) / (xMax - xMin)) * pw;
    const sy = (y: number): number => top + ph - (Math.min(y, yMax) / yMax) * ph;
    out.push(`<text x="${left + pw / 2}" y="${top - 8}" text-anchor="middle" font-weight="bold">${escapeXml(panel.title)}</text>`);
    for (const t of yTicks) {
      const y = sy(t);
      out.push(`<line x1="${left}" y1="${f(y)}" x2="${left + pw}" y2="${f(y)}" stroke="#e5e5e5"/>`);
      if (i === 0) out.push(`<text x="${left - 6}" y="${f(y + 4)}" text-anchor="end">${formatTick(t)}</text>`);
    }
    for (const t of xTicks) {
      const x = left + ((t - xMin) / (xMax - xMin)) * pw;
      out.push(`<line x1="${f(x)}" y1="${top}" x2="${f(x)}" y2="${top + ph}" stroke="#f0f0f0"/>`);
      const label = o.xLog === true ? formatTick(10 ** t) : formatTick(t);
      out.push(`<text x="${f(x)}" y="${top + ph + 16}" text-anchor="middle">${label}</text>`);
    }
    out.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
    for (const s of panel.series) {
      const pts = s.points.filter(([x]) => o.xLog !== true || x > 0);
      if (pts.length === 0) continue;
      const d: string[] = [];
      pts.forEach(([x, y], k) => {
        if (k > 0 && s.step === true) d.push(`H${f(sx(x))}`);
        d.push(`${k === 0 ? 'M' : 'L'}${f(sx(x))},${f(sy(y))}`);
      });
      out.push(`<path d="${d.join(' ')}" fill="none" stroke="${color(s.name)}" stroke-width="1.8"/>`);
    }
  });
  const plotsWidth = n * pw + (n - 1) * GAP;
  out.push(`<text x="${MARGIN.left + plotsWidth / 2}" y="${MARGIN.top + ph + 36}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${MARGIN.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}</text>`);
  let lx = MARGIN.left;
  const ly = MARGIN.top + ph + 62;
  for (const name of names) {
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="${color(name)}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 28}" y="${ly}">${escapeXml(name)}</text>`);
    lx += 40 + name.length * 7;
  }
  out.push('</svg>');
  return out.join('\n');
}

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let v = lo; v <= hi; v++) out.push(v);
  return out;
}

function f(v: number): string {
  return v.toFixed(1);
}

/** Empirical CDF points of ascending samples: (value, fraction <= value). */
export function cdfPoints(sorted: readonly number[]): [number, number][] {
  const n = sorted.length;
  const step = Math.max(1, Math.floor(n / 400));
  const pts: [number, number][] = [];
  for (let i = 0; i < n; i += step) pts.push([sorted[i] ?? 0, (i + 1) / n]);
  if (n > 0) pts.push([sorted[n - 1] ?? 0, 1]);
  return pts;
}
