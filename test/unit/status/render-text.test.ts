import { describe, expect, it } from 'vitest';
import { statusJsonUrl } from '../../../src/cli/top-command.js';
import { validateConfig } from '../../../src/config/index.js';
import { COUNTER, CounterHistory, buildStatusSnapshot, renderStatusText, summarizeConfig } from '../../../src/status/index.js';

const snapshot = buildStatusSnapshot({
  seq: 42,
  now: 10_000,
  wallNow: Date.UTC(2026, 0, 2, 3, 4, 5),
  startedAt: 0,
  version: '1.2.3',
  config: summarizeConfig(validateConfig({}), { detectorSettings: {}, schedulerProfile: undefined, tenantNames: 'plain' }),
  flow: {
    queuedRequests: 1_234,
    queuedBytes: 2_048,
    inflight: 32,
    liveFlows: 7,
    bands: [
      { priority: 10, name: 'interactive', queuedRequests: 0, queuedBytes: 0, flows: 0, ceiling: 1, oldestEnqueuedAt: undefined },
      { priority: -1, name: 'batch', queuedRequests: 1_234, queuedBytes: 2_048, flows: 7, ceiling: 0.8, oldestEnqueuedAt: 7_500 },
    ],
  },
  topQueued: [
    { fairnessId: 'batch-jobs', priority: -1, queuedRequests: 1_200, inflight: 20, weight: 1 },
    { fairnessId: 'other', priority: -1, queuedRequests: 34, inflight: 2, weight: 1 },
  ],
  queuedFor: (id) => (id === 'batch-jobs' ? 1_200 : 0),
  saturation: { value: 0.93, staleEndpoints: 1, endpoints: new Map([['10.0.0.1:8000', 0.9]]) },
  endpoints: [
    { id: '10.0.0.1:8000', metrics: { kvCacheUsage: 0.55, waitingQueue: 3, runningRequests: 30 }, scrapedAt: 9_960, stale: false },
    { id: '10.0.0.2:8000', metrics: undefined, scrapedAt: undefined, stale: true },
  ],
  inflightOf: () => 16,
  counters: new Map([[COUNTER.dispatched, 500], [`${COUNTER.shedPrefix}ttl`, 289], [`${COUNTER.evictedPrefix}in-flight:preempted`, 4]]),
  history: new CounterHistory(10),
  tenants: {
    active: 3,
    jainIndex: 0.61,
    top: [
      { id: 'batch-jobs', weight: 1, rate: 1_499.4, share: 0.913, fairShare: 0.5 },
      { id: 'tenant-a', weight: 1, rate: 143, share: 0.087, fairShare: 0.5 },
    ],
    activeWindowSeconds: 60,
    decaySeconds: 30,
  },
  tenantName: (id) => id,
  maxEndpoints: 10,
  rateWindowSeconds: 5,
  outcomeWindowSeconds: 60,
});

describe('renderStatusText', () => {
  it('shows the header figures, every band with its gate, tenants, reasons and endpoints as aligned text', () => {
    const text = renderStatusText(snapshot, { width: 200 });
    expect(text).toContain('Fairway 1.2.3 · up 0m 10s · snapshot 42 · 03:04:05 UTC');
    expect(text).toContain('saturation 0.93 (hybrid, 1 stale) · queued 1,234 (2.0 KiB) · in flight 32 · flows 7');
    expect(text).toContain('Jain 0.610 over 3 active tenants');
    const lines = text.split('\n');
    const batch = lines.find((l) => l.startsWith('batch '));
    expect(batch?.split(/\s{2,}/)).toEqual(['batch', '-1', '1,234', '2.5 s', '0.0', '0.80', 'held: ceiling']);
    expect(lines.find((l) => l.startsWith('interactive'))?.trimEnd().endsWith('open')).toBe(true);
    expect(lines.find((l) => l.startsWith('batch-jobs '))?.split(/\s{2,}/)).toEqual(['batch-jobs', '1', '1,499', '91.3%', '50.0%', '+41.3%', '1,200']);
    expect(text).toContain('SHED (last 60 s): ttl 289');
    expect(text).toContain('EVICTED (last 60 s): in-flight:preempted 4');
    expect(lines.find((l) => l.startsWith('10.0.0.1:8000'))?.split(/\s{2,}/)).toEqual(['10.0.0.1:8000', '55.0%', '3', '30', '16', '0.90', '40 ms', 'fresh']);
    expect(lines.find((l) => l.startsWith('10.0.0.2:8000'))?.split(/\s{2,}/)).toEqual(['10.0.0.2:8000', '-', '-', '-', '16', '1.00', 'never', 'STALE']);
    // Columns line up: the header's columns end where the rows' do.
    const header = lines.find((l) => l.startsWith('BAND'));
    expect(header?.indexOf('QUEUED')).toBeGreaterThan(0);
    expect(text.includes('\u001b')).toBe(false);
  });

  it('fits the width and the height: long lines are cut, tenant and endpoint rows give way with a count of the rest', () => {
    const narrow = renderStatusText(snapshot, { width: 50 });
    expect(narrow.split('\n').every((l) => l.length <= 50)).toBe(true);
    expect(narrow).toContain('…');
    const full = renderStatusText(snapshot, { width: 200 }).split('\n').length;
    const short = renderStatusText(snapshot, { width: 200, height: 20 });
    expect(short.split('\n').length).toBeLessThanOrEqual(21);
    expect(short.split('\n').length).toBeLessThan(full);
    expect(short).toMatch(/\.\.\. \d+ more (tenants|endpoints)/);
    // Given the room, nothing is left out.
    expect(renderStatusText(snapshot, { width: 200, height: 100 })).not.toContain('more');
  });
});

describe('statusJsonUrl', () => {
  it('takes the admin base URL, /status or /status.json, with or without a scheme', () => {
    expect(statusJsonUrl('http://127.0.0.1:9090')).toBe('http://127.0.0.1:9090/status.json');
    expect(statusJsonUrl('http://127.0.0.1:9090/')).toBe('http://127.0.0.1:9090/status.json');
    expect(statusJsonUrl('http://h:9090/status')).toBe('http://h:9090/status.json');
    expect(statusJsonUrl('http://h:9090/status.json?seq=3')).toBe('http://h:9090/status.json');
    expect(statusJsonUrl('127.0.0.1:9090')).toBe('http://127.0.0.1:9090/status.json');
    expect(statusJsonUrl('https://gw.example/admin/')).toBe('https://gw.example/admin/status.json');
  });
});
