// `fairway top`'s rendering of a status snapshot as plain text: header lines, then tables of bands, top tenants,
// shed and evicted reasons, and endpoints. Pure: the same snapshot always gives the same text, fitted to the
// given width, and to the given height by showing fewer tenant and endpoint rows.
import { type StatusSnapshot } from './snapshot.js';

export interface TextRenderOptions {
  /** Columns available; lines are cut to fit. @default 120 */
  readonly width?: number;
  /** Lines available; tenant and endpoint tables shrink to fit. @default unlimited */
  readonly height?: number;
}

type Align = 'l' | 'r';

const nf = new Intl.NumberFormat('en-US');
const int = (x: number): string => nf.format(Math.round(x));
const rate = (x: number): string => (x >= 100 ? int(x) : x.toFixed(1));
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
function ms(x: number): string {
  if (x < 1_000) return `${Math.round(x)} ms`;
  if (x < 60_000) return `${(x / 1_000).toFixed(1)} s`;
  return `${(x / 60_000).toFixed(1)} min`;
}
function bytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 ** 2) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 1024 ** 3) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${(b / 1024 ** 3).toFixed(2)} GiB`;
}
function uptime(s: number): string {
  const h = Math.floor(s / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  return h > 0 ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}

/** Columns padded to their widest cell; the first column left-aligned unless told otherwise. */
function table(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (align[i] === 'l' ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

function reasons(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([k, n]) => `${k} ${int(n)}`).join(', ');
}

const GATE = { open: 'open', ceiling: 'held: ceiling', 'higher-band': 'held: higher band' } as const;

export function renderStatusText(s: StatusSnapshot, options: TextRenderOptions = {}): string {
  const width = Math.max(40, options.width ?? 120);
  const t = s.totals;
  const head = [
    `Fairway ${s.version} · up ${uptime(s.uptimeSeconds)} · snapshot ${s.seq} · ${new Date(s.wallTimeMs).toISOString().slice(11, 19)} UTC`,
    `saturation ${s.saturation.value.toFixed(2)} (${s.saturation.detector}, ${s.saturation.staleEndpoints} stale) · queued ${int(t.queuedRequests)} (${bytes(t.queuedBytes)}) · in flight ${int(t.inflight)} · flows ${int(t.liveFlows)}`,
    `dispatched ${rate(t.dispatchedPerSecond)}/s · routed ${rate(t.routedPerSecond)}/s · shed ${rate(t.shedPerSecond)}/s (last ${t.rateWindowSeconds} s) · Jain ${s.tenants.jainIndex.toFixed(3)} over ${int(s.tenants.active)} active tenants`,
    '',
  ];
  const bands = table(
    ['BAND', 'PRIORITY', 'QUEUED', 'OLDEST', 'DISPATCHED/S', 'CEILING', 'GATE'],
    s.bands.map((b) => [b.name, String(b.priority), int(b.queuedRequests), b.queuedRequests > 0 ? ms(b.oldestWaitMs) : '-', rate(b.dispatchedPerSecond), b.passThrough === true ? 'pass-through' : b.ceiling.toFixed(2), GATE[b.gate]]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  const outcomes = [
    '',
    `SHED (last ${s.outcomes.windowSeconds} s): ${reasons(s.outcomes.shed)}`,
    `EVICTED (last ${s.outcomes.windowSeconds} s): ${reasons(s.outcomes.evicted)}`,
  ];
  // What is left of the height goes to tenants and endpoints, in turn, a row at a time. Fixed: the header, bands,
  // outcomes, and a blank line and a column header before each of the three other tables.
  const fixed = head.length + bands.length + outcomes.length + 3 * 2;
  const served = s.tenants.byServed;
  const queued = s.tenants.byQueued;
  const endpoints = s.endpoints.list;
  let budget = options.height === undefined ? Number.POSITIVE_INFINITY : options.height - fixed;
  // When not every row fits, three lines go to the "... N more" notes.
  if (budget < served.length + queued.length + endpoints.length) budget = Math.max(0, budget - 3);
  let nServed = 0;
  let nQueued = 0;
  let nEndpoints = 0;
  while (budget > 0 && (nServed < served.length || nQueued < queued.length || nEndpoints < endpoints.length)) {
    if (nEndpoints < endpoints.length && budget-- > 0) nEndpoints++;
    if (nServed < served.length && budget-- > 0) nServed++;
    if (nQueued < queued.length && budget-- > 0) nQueued++;
  }
  const servedTable = table(
    ['TENANT (BY SERVICE)', 'WEIGHT', 'TOKENS/S', 'SHARE', 'FAIR SHARE', 'DISTANCE', 'QUEUED'],
    served.slice(0, nServed).map((x) => [x.id, String(x.weight), rate(x.tokensPerSecond), pct(x.share), pct(x.fairShare), `${x.distance > 0 ? '+' : ''}${pct(x.distance)}`, int(x.queuedRequests)]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
  const queuedTable = table(
    ['TENANT (BY QUEUE)', 'PRIORITY', 'QUEUED', 'IN FLIGHT', 'WEIGHT'],
    queued.slice(0, nQueued).map((x) => [x.id, String(x.priority), int(x.queuedRequests), int(x.inflight), String(x.weight)]),
    ['l', 'r', 'r', 'r', 'r'],
  );
  const endpointTable = table(
    ['ENDPOINT', 'KV CACHE', 'WAITING', 'RUNNING', 'IN FLIGHT', 'SATURATION', 'SCRAPE AGE', 'METRICS'],
    endpoints.slice(0, nEndpoints).map((e) => [
      e.id,
      e.kvCacheUsage === null ? '-' : pct(e.kvCacheUsage),
      e.waiting === null ? '-' : int(e.waiting),
      e.running === null ? '-' : int(e.running),
      int(e.inflight),
      e.saturation.toFixed(2),
      e.scrapeAgeMs === null ? 'never' : ms(e.scrapeAgeMs),
      e.stale ? 'STALE' : 'fresh',
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  const more = (shown: number, total: number, what: string): string[] => (shown < total ? [`  ... ${total - shown} more ${what}`] : []);
  const lines = [
    ...head,
    ...bands,
    '',
    ...servedTable,
    ...more(nServed, served.length, 'tenants'),
    '',
    ...queuedTable,
    ...more(nQueued, queued.length, 'tenants'),
    ...outcomes,
    '',
    ...endpointTable,
    ...more(nEndpoints, s.endpoints.total, 'endpoints'),
  ];
  return `${lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l)).join('\n')}\n`;
}
