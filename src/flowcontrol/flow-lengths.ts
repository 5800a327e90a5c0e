// Flows of one band bucketed by queue length, so the longest flow is found in O(1) when the band overflows.
// Every enqueue and dequeue moves one flow to the neighbouring bucket (lengths change by one), so upkeep is O(1).
// Buckets are indexed by length in plain arrays and linked through fields of the flow, so the per-request
// upkeep allocates nothing and does no hashing.
import { type Flow } from './flow.js';

export class FlowLengths {
  /** heads[n] / tails[n]: the flows whose queue holds n items, in the order they reached n. */
  private readonly heads: (Flow | undefined)[] = [undefined];
  private readonly tails: (Flow | undefined)[] = [undefined];
  private max = 0;

  /** Call after `flow`'s queue grew by one. */
  grew(flow: Flow): void {
    const length = flow.queue.size;
    if (length > 1) this.unlink(flow, length - 1);
    if (length >= this.heads.length) {
      this.heads.push(undefined);
      this.tails.push(undefined);
    }
    this.link(flow, length);
    if (length > this.max) this.max = length;
  }

  /** Call after `flow`'s queue shrank by one. */
  shrank(flow: Flow): void {
    const length = flow.queue.size;
    this.unlink(flow, length + 1);
    if (length > 0) this.link(flow, length);
    while (this.max > 0 && this.heads[this.max] === undefined) this.max--;
  }

  /** A flow with the longest queue (the one that reached that length first), or undefined when all are empty. */
  longest(): Flow | undefined {
    return this.heads[this.max];
  }

  /**
   * Visits flows longest queue first (ties: the one that reached the length first) until `visit` returns false.
   * O(flows visited + empty lengths skipped between the longest queue and the shortest visited): for reading a
   * top-N, never on the request path.
   */
  visitLongestFirst(visit: (flow: Flow) => boolean): void {
    for (let n = this.max; n > 0; n--) {
      for (let flow = this.heads[n]; flow !== undefined; flow = flow.lengthNext) {
        if (!visit(flow)) return;
      }
    }
  }

  private link(flow: Flow, length: number): void {
    const tail = this.tails[length];
    flow.lengthPrev = tail;
    flow.lengthNext = undefined;
    if (tail === undefined) this.heads[length] = flow;
    else tail.lengthNext = flow;
    this.tails[length] = flow;
  }

  private unlink(flow: Flow, length: number): void {
    const { lengthPrev: prev, lengthNext: next } = flow;
    if (prev === undefined) this.heads[length] = next;
    else prev.lengthNext = next;
    if (next === undefined) this.tails[length] = prev;
    else next.lengthPrev = prev;
    flow.lengthPrev = undefined;
    flow.lengthNext = undefined;
  }
}
