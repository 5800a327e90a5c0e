// HTTP load for the proxy half of the long-context benchmark: closed and open loops of POSTs through undici.
// Latency = request start -> whole response read (the upstream answers at once, so this is the proxy's time).
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { type LoadResult, closedLoop, openLoop } from './load-client.js';

export class HttpLoad {
  private readonly agent = new Agent({ keepAliveTimeout: 60_000, connections: 64 });

  /** `requestId`: send `x-request-id` as Envoy would (see LoadClientOptions.requestId). */
  constructor(
    private readonly url: string,
    private readonly requestId = true,
  ) {}

  close(): Promise<void> {
    return this.agent.close();
  }

  async exchange(body: Buffer): Promise<number> {
    const t0 = performance.now();
    const res = await request(this.url, {
      method: 'POST',
      body,
      headers: this.requestId ? { 'content-type': 'application/json', 'x-request-id': randomUUID() } : { 'content-type': 'application/json' },
      dispatcher: this.agent,
    });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    return performance.now() - t0;
  }

  closedLoop(next: () => Buffer, concurrency: number, durationMs: number): Promise<LoadResult> {
    return closedLoop((b) => this.exchange(b), next, concurrency, durationMs);
  }

  openLoop(next: () => Buffer, ratePerSec: number, durationMs: number): Promise<LoadResult> {
    return openLoop((b) => this.exchange(b), next, ratePerSec, durationMs);
  }
}
