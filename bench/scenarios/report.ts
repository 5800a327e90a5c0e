// Markdown rendering of scenario reports: one table of per-class figures per scenario, then its targets.
import { type ScenarioReport, type SystemReport } from './scenario.js';

export function renderScenario(r: ScenarioReport): string {
  const lines: string[] = [];
  lines.push(`### ${r.title} (\`${r.name}\`)`, '', `${r.description}. ${r.requests} requests, ${r.spec.pods} pods, seed ${r.spec.seed}.`, '');
  lines.push('| system | class | sent | completed | shed (status reason: n) | client timeouts | TTFT p50 ms | TTFT p99 ms | p99 wait gateway / engine ms | e2e p50 ms | e2e p99 ms | served tokens | pool req/s | pool tokens/s |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const rows = (name: string, s: SystemReport): void => {
    for (const c of s.classes) {
      const shed = Object.entries(c.shed).map(([k, v]) => `${k}: ${v}`).join(', ') || '-';
      lines.push(
        `| ${name} | ${c.cls} | ${c.sent} | ${c.completed} | ${shed} | ${c.timeouts} | ${n(c.ttftP50Ms)} | ${n(c.ttftP99Ms)} | ${n(c.gatewayWaitP99Ms)} / ${n(c.engineQueueP99Ms)} | ${n(c.e2eP50Ms)} | ${n(c.e2eP99Ms)} | ${c.servedTokens} | ${s.pool.completedPerSec} | ${s.pool.servedTokensPerSec} |`,
      );
    }
  };
  for (const [name, s] of Object.entries(r.systems)) rows(name, s);
  for (const [name, s] of Object.entries(r.references)) rows(`*${name}*`, s);
  lines.push('');
  const names = Object.keys(r.systems);
  const extraKeys = [...new Set(r.targets.flatMap((t) => Object.keys(t.values)).filter((k) => !names.includes(k)))];
  lines.push(`| target | goal | ${[...names, ...extraKeys].join(' | ')} | fairway |`);
  lines.push(`|---|---|${[...names, ...extraKeys].map(() => '---').join('|')}|---|`);
  for (const t of r.targets) {
    lines.push(`| ${t.name} | ${t.goal} | ${[...names, ...extraKeys].map((k) => t.values[k] ?? '-').join(' | ')} | **${t.pass === undefined ? 'N/A' : t.pass ? 'PASS' : 'MISS'}** |`);
  }
  lines.push('');
  for (const note of r.notes) lines.push(`- ${note}`);
  if (r.notes.length > 0) lines.push('');
  return lines.join('\n');
}

function n(x: number): string {
  return Number.isFinite(x) ? String(x) : '-';
}
