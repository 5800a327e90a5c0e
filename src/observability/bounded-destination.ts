// A log destination over a stream that may stop draining: a stdio pipe nobody reads. pino's own file-descriptor
// destination (sonic-boom) queues without bound behind a write that never returns and, at exit, flushes
// synchronously into the full pipe, so the process never ends. Here writes go to the stream (Node's stdio pipes
// are non-blocking sockets), what waits in its buffer stays under a bound, records beyond it are dropped and
// counted, and the count is logged as soon as the stream takes writes again. Waiting for the buffer to empty at
// exit is the composition root's job, with a deadline.

/** What waits unwritten in the stream before records are dropped (about 20,000 lines). */
export const DEFAULT_MAX_BUFFERED_LOG_BYTES = 4 * 1024 * 1024;

/** The part of a Writable (process.stderr) used here. */
export interface DrainingStream {
  write(chunk: string): unknown;
  readonly writableLength: number;
}

export interface BoundedDestination {
  write(chunk: string): void;
  /** Records dropped since the last note about them reached the stream. */
  readonly droppedRecords: number;
}

export interface BoundedDestinationOptions {
  /** @default DEFAULT_MAX_BUFFERED_LOG_BYTES */
  readonly maxBufferedBytes?: number;
  /** Epoch milliseconds for the drop note's `time` (as pino writes it). @default Date.now */
  readonly now?: () => number;
}

export function boundedDestination(stream: DrainingStream, options: BoundedDestinationOptions = {}): BoundedDestination {
  const max = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_LOG_BYTES;
  const now = options.now ?? Date.now;
  let dropped = 0;
  return {
    get droppedRecords() {
      return dropped;
    },
    write(chunk: string): void {
      if (stream.writableLength >= max) {
        dropped += 1;
        return;
      }
      if (dropped > 0) {
        // A pino-shaped warn record, so log pipelines parse it like the others.
        stream.write(`${JSON.stringify({ level: 40, time: now(), droppedRecords: dropped, msg: 'log records dropped: the log stream was not being read' })}\n`);
        dropped = 0;
      }
      stream.write(chunk);
    },
  };
}
