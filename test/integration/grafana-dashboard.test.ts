// deploy/grafana's dashboard against a live Fairway: every metric a panel (or a template variable) queries is one
// that a running server really exports on /metrics (read from its registry output, not from a hand-kept list),
// every label a query groups by is one those metrics carry, and the JSON is a dashboard Grafana can import.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceHarness, completionBody, startService, waitForIdle, waitForScrape } from '../support/service-harness.js';

const FILE = path.resolve(import.meta.dirname, '../../deploy/grafana/fairway-dashboard.json');

interface Target {
  readonly expr?: string;
  readonly refId?: string;
}
interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos: { h: number; w: number; x: number; y: number };
  readonly targets?: readonly Target[];
  readonly datasource?: { type: string; uid: string };
}
interface Dashboard {
  readonly title: string;
  readonly uid: string;
  readonly schemaVersion: number;
  readonly panels: readonly Panel[];
  readonly templating: { list: readonly { name: string; type: string; query?: unknown; definition?: string }[] };
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** Metric names a PromQL expression selects: identifiers that are not functions, keywords, labels or durations. */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // string literals
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery selectors
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  const names = new Set<string>();
  // Not preceded by a digit: `5m` in `offset 5m` is a duration, `1e3` a number.
  for (const m of stripped.matchAll(/(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const word = m[0];
    const after = stripped.slice((m.index ?? 0) + word.length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}

/** Labels an expression groups by (`by (...)`); `le` belongs to every histogram bucket. */
function groupingLabels(expr: string): string[] {
  return [...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) => (m[1] ?? '').split(',').map((l) => l.trim()).filter((l) => l !== '' && l !== 'le'));
}

/** The queries of a panel or a template variable. */
function queriesOf(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of d.panels) for (const t of p.targets ?? []) if (t.expr !== undefined) out.push({ where: `panel "${p.title}" ${t.refId ?? ''}`, expr: t.expr });
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'object' && v.query !== null ? (v.query as { query?: string }).query : typeof v.query === 'string' ? v.query : undefined;
    const text = q ?? v.definition ?? '';
    // label_values(metric, label): the metric is the first argument.
    const lv = /label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)/.exec(text);
    out.push({ where: `variable ${v.name}`, expr: lv?.[1] ?? text });
  }
  return out;
}

describe('metricNamesIn', () => {
  it('finds metric names and skips functions, keywords, labels, durations and strings', () => {
    expect(
      metricNamesIn('histogram_quantile(0.99, sum by (le, priority) (rate(a_seconds_bucket{instance=~"$instance", x="b_c"}[$__rate_interval])))'),
    ).toEqual(['a_seconds_bucket']);
    expect(metricNamesIn('topk(10, sum by (fairness_id) (rate(x_total[5m]))) / on(job) group_left y and z offset 5m').sort()).toEqual(['x_total', 'y', 'z']);
    expect(metricNamesIn('max(m:recorded) > bool 0.5 * 1e3')).toEqual(['m:recorded']);
  });
});

describe('Grafana dashboard (deploy/grafana)', () => {
  const dashboard = JSON.parse(readFileSync(FILE, 'utf8')) as Dashboard;
  let h: ServiceHarness;
  /** Metric family -> the sample names it exports (histograms: _bucket, _sum, _count). */
  const exported = new Set<string>();
  /** Sample name -> labels seen on its samples. */
  const labelsSeen = new Map<string, Set<string>>();
  const dispatcher = new Agent({ connections: 4 });

  beforeAll(async () => {
    h = await startService({ replicas: 1, proxy: true, config: { objectives: { interactive: 10 }, flowControl: { bands: [{ priority: 10, name: 'interactive' }] } } });
    await waitForScrape(h.server, h.ids, () => true);
    // Some traffic, so that labelled families have samples whose labels can be checked.
    const post = (body: string, headers: Record<string, string> = {}) =>
      request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, dispatcher }).then((r) => r.body.text());
    await post(completionBody(), { 'x-gateway-inference-fairness-id': 'tenant-a', 'x-gateway-inference-objective': 'interactive' });
    await post('{not json');
    await waitForIdle(h.server);
    const text = await (await request(`http://127.0.0.1:${h.ports.metrics}/metrics`, { dispatcher })).body.text();
    for (const line of text.split('\n')) {
      const type = /^# TYPE (\S+) (\S+)/.exec(line);
      if (type !== null) {
        const [, name = '', kind] = type;
        exported.add(name);
        if (kind === 'histogram' || kind === 'summary') for (const s of ['_bucket', '_sum', '_count']) exported.add(`${name}${s}`);
        continue;
      }
      const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}/.exec(line);
      if (sample !== null) {
        const set = labelsSeen.get(sample[1] ?? '') ?? new Set<string>();
        for (const m of (sample[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="/g)) set.add(m[1] ?? '');
        labelsSeen.set(sample[1] ?? '', set);
      }
    }
  });
  afterAll(async () => {
    await dispatcher.close();
    await h?.close();
  });

  it('queries only metrics a running Fairway exports', () => {
    expect(exported.size).toBeGreaterThan(20);
    const queries = queriesOf(dashboard);
    expect(queries.length).toBeGreaterThan(20);
    const unknown = queries.flatMap(({ where, expr }) => metricNamesIn(expr).filter((n) => !exported.has(n)).map((n) => `${where}: ${n}`));
    expect(unknown).toEqual([]);
  });

  it('groups only by labels the queried metrics carry (checked on every metric the traffic gave samples)', () => {
    let checked = 0;
    const wrong: string[] = [];
    for (const { where, expr } of queriesOf(dashboard)) {
      const seen = metricNamesIn(expr).map((n) => labelsSeen.get(n)).filter((s): s is Set<string> => s !== undefined);
      if (seen.length === 0) continue;
      for (const label of groupingLabels(expr)) {
        checked++;
        if (!seen.some((s) => s.has(label))) wrong.push(`${where}: by ${label}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });

  it('uses both the Go EPP names and Fairway its own', () => {
    const names = new Set(queriesOf(dashboard).flatMap(({ expr }) => metricNamesIn(expr)));
    expect([...names].filter((n) => n.startsWith('inference_extension_') || n.startsWith('inference_objective_') || n.startsWith('inference_pool_')).length).toBeGreaterThan(8);
    expect([...names].filter((n) => n.startsWith('fairway_')).length).toBeGreaterThan(8);
  });

  it('is an importable dashboard: unique panel ids, a Prometheus datasource variable, panels on the 24-column grid without overlap', () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')?.type).toBe('datasource');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const g = p.gridPos;
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
      if (p.type !== 'row') {
        expect(p.datasource?.uid, p.title).toBe('${datasource}');
        expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
      }
    }
  });
});
