// The status page in a real browser (Debian's chromium, driven by playwright-core) against a running demo under
// load (`fairway demo --scenario overload`): every figure the page shows equals the same figure of /status.json
// for the snapshot the page shows (frozen with its Pause button, fetched back by its sequence number), the figures
// move while traffic flows, nothing is loaded from outside Fairway, and a screenshot goes to docs/ for the README.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StatusSnapshot } from '../../src/status/index.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = path.join(ROOT, 'docs/status-page.png');

/** What the page shows, read from the DOM as text. */
interface PageReading {
  readonly seq: string;
  readonly version: string;
  readonly cards: Record<string, string>;
  readonly bands: Record<string, Record<string, string>>;
  readonly endpoints: Record<string, Record<string, string>>;
  readonly served: Record<string, Record<string, string>>;
  readonly queued: Record<string, Record<string, string>>;
  readonly shed: Record<string, string>;
  readonly evicted: Record<string, string>;
  readonly config: string;
}

/** The little of the DOM the reading below uses (this file is compiled for Node, without the DOM's types). */
interface DomElement {
  readonly textContent: string | null;
  readonly dataset: Record<string, string | undefined>;
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): Iterable<DomElement>;
}
interface DomDocument {
  readonly body: DomElement;
  getElementById(id: string): DomElement | null;
  querySelectorAll(selector: string): Iterable<DomElement>;
}

async function readPage(page: Page): Promise<PageReading> {
  // Runs in the page.
  return page.evaluate(() => {
    const document = (globalThis as unknown as { document: DomDocument }).document;
    const text = (id: string): string => document.getElementById(id)?.textContent ?? '';
    const rows = (id: string): Record<string, Record<string, string>> => {
      const out: Record<string, Record<string, string>> = {};
      for (const tr of document.querySelectorAll(`#${id} tbody tr[data-key]`)) {
        const key = tr.dataset['key'] ?? '';
        const cells: Record<string, string> = {};
        for (const td of tr.querySelectorAll('td[data-col]')) cells[td.dataset['col'] ?? ''] = td.textContent ?? '';
        const badge = tr.querySelector('.badge');
        if (badge !== null) cells['badge'] = badge.textContent ?? '';
        out[key] = cells;
      }
      return out;
    };
    const counts = (id: string): Record<string, string> => Object.fromEntries(Object.entries(rows(id)).map(([k, v]) => [k, v['count'] ?? '']));
    const cards = Object.fromEntries(
      ['sat-value', 'sat-stale', 'total-queued', 'total-inflight', 'total-flows', 'total-dispatched', 'total-routed', 'total-shed', 'jain', 'active-tenants'].map((id) => [id, text(id)]),
    );
    return {
      seq: text('seq'),
      version: text('version'),
      cards,
      bands: rows('bands'),
      endpoints: rows('endpoints'),
      served: rows('served'),
      queued: rows('queued'),
      shed: counts('shed'),
      evicted: counts('evicted'),
      config: text('config'),
    };
  });
}

/** A number as the page writes it: thousands separators, a unit or a percent sign. */
function num(s: string | undefined): number {
  if (s === undefined) return Number.NaN;
  const t = s.replace(/,/g, '').trim();
  if (t.endsWith('%')) return Number(t.slice(0, -1)) / 100;
  if (t.endsWith(' ms')) return Number(t.slice(0, -3));
  if (t.endsWith(' s')) return Number(t.slice(0, -2)) * 1000;
  if (t.endsWith(' min')) return Number(t.slice(0, -4)) * 60_000;
  return Number(t);
}

/** `shown` is `value` as the page rounds it: within half of the last shown digit. */
function expectShown(shown: string | undefined, value: number, what: string): void {
  const t = (shown ?? '').replace(/,/g, '').replace(/[%a-z ]/g, '');
  const decimals = t.includes('.') ? t.length - t.indexOf('.') - 1 : 0;
  const scale = (shown ?? '').includes('%') ? 100 : (shown ?? '').endsWith(' s') ? 1 / 1000 : (shown ?? '').endsWith(' min') ? 1 / 60_000 : 1;
  const tolerance = 0.5 * 10 ** -decimals / scale + 1e-9;
  const got = num(shown);
  expect(Math.abs(got - value), `${what}: page shows "${shown}", /status.json has ${value}`).toBeLessThanOrEqual(tolerance);
}

function compare(page: PageReading, s: StatusSnapshot): number {
  let checked = 0;
  const check = (shown: string | undefined, value: number, what: string): void => {
    expectShown(shown, value, what);
    checked++;
  };
  expect(page.seq).toBe(String(s.seq));
  expect(page.version).toBe(s.version);
  check(page.cards['sat-value'], s.saturation.value, 'saturation');
  check(page.cards['sat-stale'], s.saturation.staleEndpoints, 'stale endpoints');
  check(page.cards['total-queued'], s.totals.queuedRequests, 'queued');
  check(page.cards['total-inflight'], s.totals.inflight, 'in flight');
  check(page.cards['total-flows'], s.totals.liveFlows, 'live flows');
  check(page.cards['total-dispatched'], s.totals.dispatchedPerSecond, 'dispatched/s');
  check(page.cards['total-routed'], s.totals.routedPerSecond, 'routed/s');
  check(page.cards['total-shed'], s.totals.shedPerSecond, 'shed/s');
  check(page.cards['jain'], s.tenants.jainIndex, 'Jain index');
  check(page.cards['active-tenants'], s.tenants.active, 'active tenants');
  expect(Object.keys(page.bands).sort()).toEqual(s.bands.map((b) => String(b.priority)).sort());
  for (const b of s.bands) {
    const row = page.bands[String(b.priority)];
    check(row?.['queued'], b.queuedRequests, `band ${b.name} queued`);
    check(row?.['flows'], b.flows, `band ${b.name} flows`);
    check(row?.['dispatched'], b.dispatchedPerSecond, `band ${b.name} dispatched/s`);
    check(row?.['ceiling'], b.ceiling, `band ${b.name} ceiling`);
    if (b.queuedRequests > 0) check(row?.['oldest'], b.oldestWaitMs, `band ${b.name} oldest wait`);
    expect(row?.['badge']).toBe({ open: 'open', ceiling: 'held: ceiling', 'higher-band': 'held: higher band' }[b.gate]);
  }
  expect(Object.keys(page.endpoints).sort()).toEqual(s.endpoints.list.map((e) => e.id).sort());
  for (const e of s.endpoints.list) {
    const row = page.endpoints[e.id];
    if (e.kvCacheUsage !== null) check(row?.['kv'], e.kvCacheUsage, `${e.id} KV`);
    if (e.waiting !== null) check(row?.['waiting'], e.waiting, `${e.id} waiting`);
    if (e.running !== null) check(row?.['running'], e.running, `${e.id} running`);
    check(row?.['inflight'], e.inflight, `${e.id} in flight`);
    check(row?.['saturation'], e.saturation, `${e.id} saturation`);
  }
  expect(Object.keys(page.served).sort()).toEqual(s.tenants.byServed.map((t) => t.id).sort());
  for (const t of s.tenants.byServed) {
    const row = page.served[t.id];
    check(row?.['tokens'], t.tokensPerSecond, `${t.id} tokens/s`);
    check(row?.['share'], t.share, `${t.id} share`);
    check(row?.['fair'], t.fairShare, `${t.id} fair share`);
    check(row?.['distance'], t.distance, `${t.id} distance`);
    check(row?.['queued'], t.queuedRequests, `${t.id} queued`);
  }
  for (const t of s.tenants.byQueued) check(page.queued[`${t.id}|${t.priority}`]?.['queued'], t.queuedRequests, `${t.id} queue`);
  expect(Object.keys(page.shed).sort()).toEqual(Object.keys(s.outcomes.shed).sort());
  for (const [reason, n] of Object.entries(s.outcomes.shed)) check(page.shed[reason], n, `shed ${reason}`);
  expect(Object.keys(page.evicted).sort()).toEqual(Object.keys(s.outcomes.evicted).sort());
  for (const [reason, n] of Object.entries(s.outcomes.evicted)) check(page.evicted[reason], n, `evicted ${reason}`);
  expect(page.config).toContain(s.config.detector);
  return checked;
}

describe('status page in Chromium against the demo under load', () => {
  let demo: ChildProcess;
  let base = '';
  let browser: Browser;
  let page: Page;
  const requested: string[] = [];
  const errors: string[] = [];

  const json = async (query = ''): Promise<StatusSnapshot> => {
    const res = await fetch(`${base}/status.json${query}`);
    expect(res.status, `GET /status.json${query}`).toBe(200);
    return (await res.json()) as StatusSnapshot;
  };

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run test:browser builds first`);
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    demo = spawn(
      process.execPath,
      [CLI, 'demo', '--scenario', 'overload', '--duration-scale', '2.5', '--metrics-port', '0', '--proxy-port', '0', '--grpc-port', '0', '--health-port', '0'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    demo.stdout?.setEncoding('utf8');
    base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the demo printed no status page URL:\n${out}`)), 60_000);
      demo.stdout?.on('data', (d: string) => {
        out += d;
        const m = /status page\s+(http:\/\/127\.0\.0\.1:\d+)\/status/.exec(out);
        if (m?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      demo.on('exit', (code) => reject(new Error(`the demo exited (${code}):\n${out}`)));
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('request', (r) => requested.push(r.url()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (demo !== undefined && demo.exitCode === null) {
      const exited = new Promise((r) => demo.on('exit', r));
      demo.kill('SIGTERM');
      await exited;
    }
  });

  it('shows the same figures as /status.json for the snapshot on screen, and they move under load', async () => {
    // Wait for the batch burst of the scenario: work queued, something shed.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = await json();
      if (s.totals.queuedRequests > 0 && Object.keys(s.outcomes.shed).length > 0 && s.tenants.byServed.length >= 2) break;
      if (Date.now() > deadline) throw new Error(`no load after 60 s: ${JSON.stringify(s.totals)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await page.goto(`${base}/status`);
    await page.waitForFunction(() => {
      const document = (globalThis as unknown as { document: DomDocument }).document;
      return document.body.dataset['seq'] !== undefined && document.getElementById('conn')?.textContent === 'live';
    });
    // Let a few live updates land (the charts fill in), take the README's picture, then freeze the view and fetch
    // exactly that snapshot back.
    await page.waitForTimeout(1_500);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.click('#pause');
    const first = await readPage(page);
    const snapshot = await json(`?seq=${first.seq}`);
    const checked = compare(first, snapshot);
    expect(checked).toBeGreaterThan(30);
    expect(first.bands['-1']?.['queued']).not.toBe('0');

    // Paused means paused: updates keep arriving but the view holds still.
    await page.waitForTimeout(1_000);
    expect((await readPage(page)).seq).toBe(first.seq);

    // Resume; a couple of seconds later the page shows a newer snapshot, equal to its JSON again, and different.
    await page.click('#pause');
    await page.waitForTimeout(2_500);
    await page.click('#pause');
    const second = await readPage(page);
    expect(Number(second.seq)).toBeGreaterThan(Number(first.seq) + 4);
    compare(second, await json(`?seq=${second.seq}`));
    const moving = [
      JSON.stringify(first.cards) !== JSON.stringify(second.cards),
      JSON.stringify(first.served) !== JSON.stringify(second.served),
      JSON.stringify(first.endpoints) !== JSON.stringify(second.endpoints),
    ];
    expect(moving.filter(Boolean).length).toBeGreaterThanOrEqual(2);

    // Everything the page loaded came from Fairway itself, and it ran without errors.
    expect(requested.length).toBeGreaterThanOrEqual(4);
    expect(requested.filter((u) => !u.startsWith(`${base}/`))).toEqual([]);
    expect(errors).toEqual([]);
  });
});
