// Summaries of a load run per traffic class: completed, shed by reason, TTFT and end-to-end percentiles, tokens.
import { Summary } from '../core/index.js';
import { type RequestRecord } from './load-generator.js';

export interface ClassSummary {
  readonly name: string;
  readonly sent: number;
  readonly completed: number;
  readonly shed: Readonly<Record<string, number>>;
  readonly withRetryAfter: number;
  readonly ttftP50Ms: number;
  readonly ttftP99Ms: number;
  readonly e2eP50Ms: number;
  readonly e2eP99Ms: number;
  readonly outputTokens: number;
  readonly promptTokens: number;
  /** Completed requests per second over the run. */
  readonly throughput: number;
}

export function summarize(records: readonly RequestRecord[], durationMs: number): ClassSummary[] {
  const byClass = new Map<string, RequestRecord[]>();
  for (const r of records) {
    const list = byClass.get(r.className) ?? [];
    list.push(r);
    byClass.set(r.className, list);
  }
  return [...byClass.entries()].map(([name, list]) => {
    const ttft = new Summary();
    const e2e = new Summary();
    const shed: Record<string, number> = {};
    let completed = 0;
    let outputTokens = 0;
    let promptTokens = 0;
    let withRetryAfter = 0;
    for (const r of list) {
      if (r.status >= 200 && r.status < 300) {
        completed++;
        if (r.ttftMs !== undefined) ttft.add(r.ttftMs);
        e2e.add(r.e2eMs);
        outputTokens += r.outputTokens;
        promptTokens += r.promptTokens;
      } else {
        const reason = r.dropReason ?? `http-${r.status}`;
        shed[reason] = (shed[reason] ?? 0) + 1;
        if (r.retryAfter !== undefined) withRetryAfter++;
      }
    }
    return {
      name,
      sent: list.length,
      completed,
      shed,
      withRetryAfter,
      ttftP50Ms: ttft.percentile(50),
      ttftP99Ms: ttft.percentile(99),
      e2eP50Ms: e2e.percentile(50),
      e2eP99Ms: e2e.percentile(99),
      outputTokens,
      promptTokens,
      throughput: completed / (durationMs / 1_000),
    };
  });
}

const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : '-');

export function renderTable(rows: readonly ClassSummary[]): string {
  const header = '| class | sent | completed | req/s | TTFT p50 ms | TTFT p99 ms | e2e p50 ms | e2e p99 ms | output tokens | shed (reason: n) |';
  const line = '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|';
  const body = rows.map((r) => {
    const shed = Object.entries(r.shed).map(([k, v]) => `${k}: ${v}`).join(', ') || '-';
    return `| ${r.name} | ${r.sent} | ${r.completed} | ${r.throughput.toFixed(1)} | ${fmt(r.ttftP50Ms)} | ${fmt(r.ttftP99Ms)} | ${fmt(r.e2eP50Ms)} | ${fmt(r.e2eP99Ms)} | ${r.outputTokens} | ${shed} |`;
  });
  return [header, line, ...body].join('\n');
}
