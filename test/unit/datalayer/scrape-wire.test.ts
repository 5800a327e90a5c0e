// The worker thread's outcome batches carry a failure as its reason's index: every reason must come back as
// itself (the dispatch thread derives whether the endpoint was reachable from it).
import { describe, expect, it } from 'vitest';
import { SCRAPE_FAILURE_REASONS, isUnreachableReason } from '../../../src/datalayer/index.js';
import { type ScrapeOutcome } from '../../../src/datalayer/metrics-scraper.js';
import { OutcomeBatchReader, OutcomeBatchWriter } from '../../../src/datalayer/scrape-wire.js';

describe('scrape outcome wire format', () => {
  it('round-trips every failure reason', () => {
    const writer = new OutcomeBatchWriter(1_000);
    SCRAPE_FAILURE_REASONS.forEach((reason, slot) => {
      writer.add(slot, { ok: false, reason, detail: `d-${reason}`, startedAt: 1, finishedAt: 2 });
    });
    const { nums, extras } = writer.take();
    const read: [number, ScrapeOutcome][] = [];
    new OutcomeBatchReader().read(nums, extras, -1_000, (slot, outcome) => read.push([slot, outcome]));
    expect(read).toEqual(
      SCRAPE_FAILURE_REASONS.map((reason, slot) => [
        slot,
        { ok: false, reason, detail: `d-${reason}`, startedAt: 1, finishedAt: 2 },
      ]),
    );
  });

  it("counts a connect timeout as unreachable and a slow page on an accepted connection ('slow') as not", () => {
    expect(isUnreachableReason('timeout')).toBe(true);
    expect(isUnreachableReason('connect')).toBe(true);
    expect(isUnreachableReason('reset')).toBe(true);
    expect(isUnreachableReason('slow')).toBe(false);
  });
});
