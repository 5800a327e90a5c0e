// The dispatch thread's side of the worker's outcome batches: good outcomes come back with their figures, and an
// endpoint whose figures did not move keeps its metrics object (nothing allocated for it).
import { describe, expect, it } from 'vitest';
import { type EndpointMetrics } from '../../../src/datalayer/index.js';
import { type ScrapeOutcome } from '../../../src/datalayer/metrics-scraper.js';
import { OutcomeBatchReader, OutcomeBatchWriter } from '../../../src/datalayer/scrape-wire.js';

function metrics(waiting: number, kv: number, extra: Partial<EndpointMetrics> = {}): EndpointMetrics {
  return { waitingQueue: waiting, runningRequests: 3, kvCacheUsage: kv, loraRunning: [], loraWaiting: [], maxLora: 0, ...extra };
}

/** Writes the outcomes as the worker does and reads them back as the dispatch thread does. */
function roundTrip(writer: OutcomeBatchWriter, reader: OutcomeBatchReader, outcomes: [number, ScrapeOutcome][]): [number, ScrapeOutcome][] {
  for (const [slot, outcome] of outcomes) writer.add(slot, outcome);
  const { nums, extras } = writer.take();
  const read: [number, ScrapeOutcome][] = [];
  reader.read(nums, extras, 0, (slot, outcome) => read.push([slot, outcome]));
  return read;
}

function metricsOf(outcome: ScrapeOutcome | undefined): EndpointMetrics | undefined {
  return outcome?.ok === true ? outcome.metrics : undefined;
}

describe('OutcomeBatchReader', () => {
  it('reads good outcomes back with their figures, cache geometry and LoRA lists', () => {
    const writer = new OutcomeBatchWriter(0);
    const reader = new OutcomeBatchReader();
    const a = metrics(2, 0.5, { kvBlockSize: 16, kvNumBlocks: 1000 });
    const b = metrics(0, 0.1, { loraRunning: ['x'], loraWaiting: ['y', 'z'], maxLora: 4 });
    const read = roundTrip(writer, reader, [
      [1, { ok: true, metrics: a, startedAt: 5, finishedAt: 7 }],
      [2, { ok: true, metrics: b, startedAt: 6, finishedAt: 8 }],
    ]);
    expect(read).toEqual([
      [1, { ok: true, metrics: a, startedAt: 5, finishedAt: 7 }],
      [2, { ok: true, metrics: b, startedAt: 6, finishedAt: 8 }],
    ]);
    expect(Object.isFrozen(metricsOf(read[0]?.[1]))).toBe(true);
  });

  it('keeps the metrics object of a slot whose figures are unchanged, and makes a new one when any moved', () => {
    const writer = new OutcomeBatchWriter(0);
    const reader = new OutcomeBatchReader();
    const good = (m: EndpointMetrics, at: number): ScrapeOutcome => ({ ok: true, metrics: m, startedAt: at, finishedAt: at + 1 });
    const geometry = { kvBlockSize: 16, kvNumBlocks: 1000 };
    const first = metricsOf(roundTrip(writer, reader, [[1, good(metrics(2, 0.5, geometry), 0)]])[0]?.[1]);
    const same = metricsOf(roundTrip(writer, reader, [[1, good(metrics(2, 0.5, geometry), 10)]])[0]?.[1]);
    expect(same).toBe(first);
    const changes: EndpointMetrics[] = [
      metrics(3, 0.5, geometry),
      metrics(2, 0.6, geometry),
      metrics(2, 0.5, { ...geometry, runningRequests: 4 }),
      metrics(2, 0.5),
      metrics(2, 0.5, { kvBlockSize: 32, kvNumBlocks: 1000 }),
      metrics(2, 0.5, { ...geometry, loraRunning: ['x'] }),
      metrics(2, 0.5, { ...geometry, maxLora: 2 }),
    ];
    let previous = first;
    for (const [k, m] of changes.entries()) {
      const next = metricsOf(roundTrip(writer, reader, [[1, good(m, 20 + k)]])[0]?.[1]);
      expect(next).not.toBe(previous);
      expect(next).toEqual(m);
      previous = next;
    }
    // Another slot never shares it, and a forgotten slot starts afresh.
    const other = metricsOf(roundTrip(writer, reader, [[2, good(m2(previous), 40)]])[0]?.[1]);
    expect(other).not.toBe(previous);
    reader.forget(1);
    writer.forget(1);
    const again = metricsOf(roundTrip(writer, reader, [[1, good(m2(previous), 50)]])[0]?.[1]);
    expect(again).not.toBe(previous);
    expect(again).toEqual(previous);
  });

  it('gives each outcome its slot\'s tag (the runner binds endpoint ids), undefined for a slot not bound, forgotten or cleared', () => {
    const writer = new OutcomeBatchWriter(0);
    const reader = new OutcomeBatchReader<string>();
    reader.bind(1, 'a');
    reader.bind(2, 'b');
    const tags = (): (string | undefined)[] => {
      writer.add(1, { ok: true, metrics: metrics(1, 0.1), startedAt: 0, finishedAt: 1 });
      writer.add(2, { ok: false, reason: 'connect', detail: 'refused', startedAt: 0, finishedAt: 1 });
      writer.add(3, { ok: true, metrics: metrics(1, 0.1), startedAt: 0, finishedAt: 1 });
      const { nums, extras } = writer.take();
      const out: (string | undefined)[] = [];
      reader.read(nums, extras, 0, (_slot, _outcome, tag) => out.push(tag));
      return out;
    };
    expect(tags()).toEqual(['a', 'b', undefined]);
    expect(reader.tagOf(2)).toBe('b');
    reader.forget(2);
    expect(tags()).toEqual(['a', undefined, undefined]);
    expect(reader.tagOf(2)).toBeUndefined();
    reader.clear();
    expect(reader.tagOf(1)).toBeUndefined();
    expect(tags()).toEqual([undefined, undefined, undefined]);
  });
});

/** A plain copy of a read metrics object, for writing it again. */
function m2(m: EndpointMetrics | undefined): EndpointMetrics {
  if (m === undefined) throw new Error('no metrics');
  return { ...m, loraRunning: [...m.loraRunning], loraWaiting: [...m.loraWaiting] };
}
