// Output progress of a streamed response, for the in-flight eviction victim rule: OpenAI-compatible servers send
// one SSE event per token (or per few tokens), so the count of `data:` events is a cheap, good-enough measure.

const DATA = Buffer.from('data:');

/** Counts SSE `data:` events across chunks (an event split between two chunks is counted once). O(chunk). */
export class StreamProgress {
  private events = 0;
  /** Bytes of the previous chunk's tail that may begin a `data:` split across chunks. */
  private carry: Buffer = Buffer.alloc(0);

  /** Events seen so far, minus the role and `[DONE]` events that carry no token: an estimate of output tokens. */
  get outputTokens(): number {
    return Math.max(0, this.events - 1);
  }

  onChunk(chunk: Buffer): void {
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    let from = 0;
    for (;;) {
      const at = buf.indexOf(DATA, from);
      if (at < 0) break;
      this.events++;
      from = at + DATA.length;
    }
    // Keep what could be the start of a `data:` cut by the chunk boundary, but never a full match again.
    const keep = Math.min(DATA.length - 1, buf.length - from);
    this.carry = keep > 0 ? Buffer.from(buf.subarray(buf.length - keep)) : Buffer.alloc(0);
  }
}
