// The status page's script (runs in the browser): loads /status.json, then follows /status/events (Server-Sent
// Events, ~4 per second) and renders every table, card and chart of page-html.ts. Tenant names come from clients,
// so every value is written as text, never as HTML. "Pause" freezes the view on one snapshot (its number shows).
/// <reference types="uplot" />
import type { HistoryStatus, StatusSnapshot } from '../snapshot.js';

const nf = new Intl.NumberFormat('en-US');
const fmtInt = (x: number): string => nf.format(Math.round(x));
const fmtRate = (x: number): string => (x >= 100 ? fmtInt(x) : x.toFixed(1));
const fmtPct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const fmtFixed = (x: number, d: number): string => x.toFixed(d);
function fmtMs(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}
function fmtBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 ** 2) return `${(b / 1024).toFixed(1)} KiB`;
  if (b < 1024 ** 3) return `${(b / 1024 ** 2).toFixed(1)} MiB`;
  return `${(b / 1024 ** 3).toFixed(2)} GiB`;
}
function fmtUptime(s: number): string {
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}
const limit = (x: number | null, f: (n: number) => string): string => (x === null ? 'unlimited' : f(x));

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`status page: no element #${id}`);
  return el as T;
}
function setText(id: string, text: string): void {
  byId(id).textContent = text;
}
function setAll(cls: string, text: string): void {
  for (const el of document.querySelectorAll(`.${cls}`)) el.textContent = text;
}

type Cell = string | Node | { text: string; cls?: string; col?: string };

function td(cell: Cell): HTMLTableCellElement {
  const el = document.createElement('td');
  if (typeof cell === 'string') el.textContent = cell;
  else if (cell instanceof Node) el.append(cell);
  else {
    el.textContent = cell.text;
    if (cell.cls !== undefined) el.className = cell.cls;
    if (cell.col !== undefined) el.dataset['col'] = cell.col;
  }
  return el;
}

/** Replaces the rows of table `id`; `rows` pairs each row's cells with its data attributes. */
function fillTable(id: string, rows: { key: string; cells: Cell[] }[], columns: number, empty: string): void {
  const body = byId<HTMLTableElement>(id).tBodies[0];
  if (body === undefined) return;
  const out: HTMLTableRowElement[] = rows.map((r) => {
    const tr = document.createElement('tr');
    tr.dataset['key'] = r.key;
    tr.append(...r.cells.map(td));
    return tr;
  });
  if (out.length === 0) {
    const tr = document.createElement('tr');
    const cell = td({ text: empty, cls: 'empty' });
    cell.colSpan = columns;
    tr.append(cell);
    out.push(tr);
  }
  body.replaceChildren(...out);
}

function badge(text: string, cls: string): HTMLElement {
  const b = document.createElement('span');
  b.className = `badge ${cls}`;
  b.textContent = text;
  return b;
}

function bar(fraction: number, marker?: number): HTMLElement {
  const outer = document.createElement('div');
  outer.className = 'bar';
  const fill = document.createElement('span');
  fill.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
  outer.append(fill);
  if (marker !== undefined) {
    const m = document.createElement('i');
    m.style.left = `${Math.max(0, Math.min(1, marker)) * 100}%`;
    outer.append(m);
  }
  return outer;
}

function renderCards(s: StatusSnapshot): void {
  setText('version', s.version);
  setText('uptime', fmtUptime(s.uptimeSeconds));
  setText('seq', String(s.seq));
  setText('clock', new Date(s.wallTimeMs).toLocaleTimeString());
  setText('sat-value', fmtFixed(s.saturation.value, 2));
  setText('sat-detector', s.saturation.detector);
  setText('sat-stale', String(s.saturation.staleEndpoints));
  setText('total-queued', fmtInt(s.totals.queuedRequests));
  setText('total-queued-bytes', fmtBytes(s.totals.queuedBytes));
  setText('total-inflight', fmtInt(s.totals.inflight));
  setText('total-flows', fmtInt(s.totals.liveFlows));
  setText('total-dispatched', fmtRate(s.totals.dispatchedPerSecond));
  setText('total-routed', fmtRate(s.totals.routedPerSecond));
  setText('total-shed', fmtRate(s.totals.shedPerSecond));
  setText('jain', fmtFixed(s.tenants.jainIndex, 3));
  setText('active-tenants', fmtInt(s.tenants.active));
  setAll('rate-window', String(s.totals.rateWindowSeconds));
  setAll('outcome-window', String(s.outcomes.windowSeconds));
  setAll('decay', String(s.tenants.decaySeconds));
}

function renderBands(s: StatusSnapshot): void {
  const gateText = { open: 'open', ceiling: 'held: ceiling', 'higher-band': 'held: higher band' } as const;
  fillTable(
    'bands',
    s.bands.map((b) => ({
      key: String(b.priority),
      cells: [
        b.name,
        String(b.priority),
        { text: fmtInt(b.queuedRequests), col: 'queued' },
        fmtBytes(b.queuedBytes),
        { text: fmtInt(b.flows), col: 'flows' },
        { text: b.queuedRequests > 0 ? fmtMs(b.oldestWaitMs) : '-', col: 'oldest' },
        { text: fmtRate(b.dispatchedPerSecond), col: 'dispatched' },
        { text: b.passThrough === true ? 'pass-through' : fmtFixed(b.ceiling, 2), col: 'ceiling' },
        badge(gateText[b.gate], b.gate),
      ],
    })),
    9,
    'no bands yet',
  );
}

function renderTenants(s: StatusSnapshot): void {
  fillTable(
    'served',
    s.tenants.byServed.map((t) => ({
      key: t.id,
      cells: [
        { text: t.id, cls: 'name' },
        String(t.weight),
        { text: fmtRate(t.tokensPerSecond), col: 'tokens' },
        { text: fmtPct(t.share), col: 'share' },
        { text: fmtPct(t.fairShare), col: 'fair' },
        bar(t.share, t.fairShare),
        { text: `${t.distance > 0 ? '+' : ''}${fmtPct(t.distance)}`, cls: t.distance > 0.005 ? 'pos' : t.distance < -0.005 ? 'neg' : '', col: 'distance' },
        { text: fmtInt(t.queuedRequests), col: 'queued' },
      ],
    })),
    8,
    'nothing served in the window',
  );
  fillTable(
    'queued',
    s.tenants.byQueued.map((t) => ({
      key: `${t.id}|${t.priority}`,
      cells: [{ text: t.id, cls: 'name' }, String(t.priority), { text: fmtInt(t.queuedRequests), col: 'queued' }, fmtInt(t.inflight), String(t.weight)],
    })),
    5,
    'nothing queued',
  );
}

function renderOutcomes(s: StatusSnapshot): void {
  const rows = (counts: Readonly<Record<string, number>>) =>
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .map(([reason, n]) => ({ key: reason, cells: [reason, { text: fmtInt(n), col: 'count' }] }));
  fillTable('shed', rows(s.outcomes.shed), 2, 'none');
  fillTable('evicted', rows(s.outcomes.evicted), 2, 'none');
}

function renderEndpoints(s: StatusSnapshot): void {
  const e = s.endpoints;
  setText('endpoints-count', e.total > e.list.length ? `${e.list.length} of ${e.total} shown` : `${e.total}`);
  fillTable(
    'endpoints',
    e.list.map((p) => ({
      key: p.id,
      cells: [
        { text: p.id, cls: 'name' },
        { text: p.kvCacheUsage === null ? '-' : fmtPct(p.kvCacheUsage), col: 'kv' },
        bar(p.kvCacheUsage ?? 0),
        { text: p.waiting === null ? '-' : fmtInt(p.waiting), col: 'waiting' },
        { text: p.running === null ? '-' : fmtInt(p.running), col: 'running' },
        { text: fmtInt(p.inflight), col: 'inflight' },
        { text: fmtFixed(p.saturation, 2), col: 'saturation' },
        { text: p.scrapeAgeMs === null ? 'never' : fmtMs(p.scrapeAgeMs), col: 'age' },
        badge(p.stale ? 'stale' : 'fresh', p.stale ? 'stale' : 'fresh'),
      ],
    })),
    9,
    'no endpoints',
  );
}

function renderConfig(s: StatusSnapshot): void {
  const c = s.config;
  const params = (p: Readonly<Record<string, number | string>>): string =>
    Object.entries(p)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  const entries: [string, string][] = [
    ['saturation detector', `${c.detector}  ${params(c.detectorSettings)}`],
    ['scraping', `every ${c.scrapeIntervalMs} ms, stale after ${c.stalenessMs} ms`],
    ['band arbitration', `${c.arbitration.name}  ${params(c.arbitration.params)}`],
    ['usage limit', `${c.usageLimit.name}  ${params(c.usageLimit.params)}`],
    ['queue limits', `${limit(c.maxQueuedRequests, fmtInt)} requests, ${limit(c.maxQueuedBytes, fmtBytes)}, ${fmtInt(c.maxFlows)} flows`],
    ['default TTL', fmtMs(c.defaultTtlMs)],
    ['objectives', Object.entries(c.objectives).map(([k, v]) => `${k}=${v}`).join(' ') || 'none (priority 0)'],
    ['tenants configured', `${c.tenantsConfigured}, names ${c.tenantNames}`],
    ['trust', c.trustMode],
    ['scheduler profile', c.schedulerProfile],
  ];
  const dl = byId('config');
  dl.replaceChildren(
    ...entries.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      return [dt, dd];
    }),
  );
  const t = c.bandTemplate;
  const row = (name: string, priority: string, b: typeof t): { key: string; cells: Cell[] } => ({
    key: priority,
    cells: [
      name,
      priority,
      b.fairness,
      b.ordering,
      limit(b.maxRequests, fmtInt),
      limit(b.maxBytes, fmtBytes),
      b.ttlMs === null ? 'default' : fmtMs(b.ttlMs),
      b.ceiling === null ? 'policy' : String(b.ceiling),
      b.overflow,
    ],
  });
  fillTable('config-bands', [...c.bands.map((b) => row(b.name, String(b.priority), b)), row('(any other)', 'template', t)], 9, '');
}

/** One uPlot chart whose series set can change (a new drop reason appears): rebuilt when it does. */
class Chart {
  private plot: uPlot | undefined;
  private signature = '';

  constructor(private readonly el: HTMLElement) {
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(el);
  }

  update(labels: string[], series: number[][], times: readonly number[], scales?: Record<string, uPlot.Scale>): void {
    const data: uPlot.AlignedData = [times.map((t) => t / 1000), ...series];
    const signature = labels.join('|');
    if (this.plot === undefined || signature !== this.signature) {
      this.plot?.destroy();
      this.signature = signature;
      const palette = ['#2f6fdd', '#d64545', '#1f9d55', '#d97706', '#7c3aed', '#0891b2', '#be185d', '#4d7c0f'];
      this.plot = new uPlot(
        {
          ...this.size(),
          scales: scales ?? {},
          series: [{}, ...labels.map((label, i) => ({ label, stroke: palette[i % palette.length], width: 1.5, scale: label === 'Jain index' ? 'jain' : 'y' }))],
          axes: [{}, { scale: 'y' }, ...(labels.includes('Jain index') ? [{ scale: 'jain', side: 1, grid: { show: false } }] : [])],
          legend: { live: false },
        },
        data,
        this.el,
      );
      return;
    }
    this.plot.setData(data);
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(200, this.el.clientWidth), height: 200 };
  }
}

const charts = {
  saturation: new Chart(byId('chart-saturation')),
  dispatch: new Chart(byId('chart-dispatch')),
  shed: new Chart(byId('chart-shed')),
};

function renderCharts(h: HistoryStatus): void {
  charts.saturation.update(['saturation', 'Jain index'], [[...h.saturation], [...h.jainIndex]], h.times, { jain: { range: [0, 1] } });
  charts.dispatch.update(['dispatched/s', 'queued', 'in flight'], [[...h.dispatchedPerSecond], [...h.queuedRequests], [...h.inflight]], h.times);
  const shed = Object.entries(h.shedPerSecond).map(([k, v]) => [`shed: ${k}`, [...v]] as const);
  const evicted = Object.entries(h.evictedPerSecond).map(([k, v]) => [`evicted: ${k}`, [...v]] as const);
  const all = [...shed, ...evicted];
  charts.shed.update(
    all.length === 0 ? ['none'] : all.map(([label]) => label),
    all.length === 0 ? [h.times.map(() => 0)] : all.map(([, v]) => [...v]),
    h.times,
  );
}

function render(s: StatusSnapshot): void {
  renderCards(s);
  renderBands(s);
  renderTenants(s);
  renderOutcomes(s);
  renderEndpoints(s);
  renderConfig(s);
  renderCharts(s.history);
  document.body.dataset['seq'] = String(s.seq);
}

let paused = false;
let latest: StatusSnapshot | undefined;
const conn = byId('conn');
const pauseButton = byId<HTMLButtonElement>('pause');

function setConnection(state: 'live' | 'paused' | 'down', text: string): void {
  conn.className = state;
  conn.textContent = text;
}

function accept(s: StatusSnapshot): void {
  latest = s;
  if (!paused) render(s);
}

pauseButton.addEventListener('click', () => {
  paused = !paused;
  pauseButton.textContent = paused ? 'Resume' : 'Pause';
  setConnection(paused ? 'paused' : 'live', paused ? 'paused' : 'live');
  if (!paused && latest !== undefined) render(latest);
});

function showError(text: string): void {
  const el = byId('error');
  el.textContent = text;
  el.style.display = text === '' ? 'none' : 'block';
}

async function start(): Promise<void> {
  try {
    const res = await fetch('/status.json', { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`/status.json answered ${res.status}${res.status === 401 ? ' (open /status?token=... once)' : ''}`);
    accept((await res.json()) as StatusSnapshot);
  } catch (err) {
    showError(String(err));
  }
  const events = new EventSource('/status/events');
  events.addEventListener('snapshot', (e: MessageEvent<string>) => {
    showError('');
    if (!paused) setConnection('live', 'live');
    accept(JSON.parse(e.data) as StatusSnapshot);
  });
  events.addEventListener('error', () => setConnection('down', 'reconnecting'));
}

void start();
