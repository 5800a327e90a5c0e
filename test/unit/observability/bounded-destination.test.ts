// The log destination for a stream that may stop draining: records pass through while the stream's buffer is under
// the bound, are dropped and counted above it, and a single note with the count precedes the first record written
// once the stream takes writes again.
import { describe, expect, it } from 'vitest';
import { boundedDestination, createPinoLogger } from '../../../src/observability/index.js';

/** A stream whose buffer nobody drains until the test says so. */
class StalledStream {
  readonly chunks: string[] = [];
  writableLength = 0;
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    this.writableLength += chunk.length;
    return true;
  }
  drain(): void {
    this.writableLength = 0;
  }
}

describe('boundedDestination', () => {
  it('passes records through while the buffer is under the bound', () => {
    const stream = new StalledStream();
    const dest = boundedDestination(stream, { maxBufferedBytes: 100 });
    dest.write('a\n');
    dest.write('b\n');
    expect(stream.chunks).toEqual(['a\n', 'b\n']);
    expect(dest.droppedRecords).toBe(0);
  });

  it('keeps the stream buffer bounded: records over the bound are dropped and counted, not queued', () => {
    const stream = new StalledStream();
    const dest = boundedDestination(stream, { maxBufferedBytes: 100 });
    const record = `${'x'.repeat(29)}\n`; // 30 bytes
    for (let i = 0; i < 1_000; i++) dest.write(record);
    // Four fit under 100 bytes (the fourth starts at 90); the rest are dropped.
    expect(stream.chunks).toHaveLength(4);
    expect(stream.writableLength).toBeLessThan(100 + record.length);
    expect(dest.droppedRecords).toBe(996);
  });

  it('logs how many records were dropped, once, when the stream takes writes again', () => {
    const stream = new StalledStream();
    const dest = boundedDestination(stream, { maxBufferedBytes: 200, now: () => 1_234 });
    dest.write(`${'x'.repeat(199)}\n`);
    dest.write('lost 1\n');
    dest.write('lost 2\n');
    stream.drain();
    dest.write('next\n');
    dest.write('after\n');
    expect(stream.chunks.slice(1)).toEqual([expect.stringMatching(/\n$/), 'next\n', 'after\n']);
    const note = JSON.parse(stream.chunks[1]!) as Record<string, unknown>;
    expect(note).toMatchObject({ level: 40, time: 1_234, droppedRecords: 2 });
    expect(dest.droppedRecords).toBe(0);
  });

  it('serves as a pino destination: whole records, in order', () => {
    const stream = new StalledStream();
    const logger = createPinoLogger({ level: 'info', destination: boundedDestination(stream, { maxBufferedBytes: 1_000 }) });
    logger.info({ n: 1 }, 'first');
    logger.info({ n: 2 }, 'second');
    expect(stream.chunks.map((c) => (JSON.parse(c) as { msg: string }).msg)).toEqual(['first', 'second']);
  });
});
