// Flows of one band bucketed by queue length, so the longest flow is found in O(1) when the band overflows.
// Every enqueue and dequeue moves one flow to the neighbouring bucket (lengths change by one), so upkeep is O(1).
import { IntrusiveList } from '../core/index.js';
import { type Flow } from './flow.js';

export class FlowLengths {
  private readonly buckets = new Map<number, IntrusiveList<Flow>>();
  private max = 0;

  /** Call after `flow`'s queue grew by one. */
  grew(flow: Flow): void {
    const length = flow.queue.size;
    this.bucket(length - 1)?.remove(flow);
    this.bucketFor(length).push(flow);
    if (length > this.max) this.max = length;
  }

  /** Call after `flow`'s queue shrank by one. */
  shrank(flow: Flow): void {
    const length = flow.queue.size;
    this.bucket(length + 1)?.remove(flow);
    if (length > 0) this.bucketFor(length).push(flow);
    while (this.max > 0 && (this.bucket(this.max)?.size ?? 0) === 0) this.max--;
  }

  /** A flow with the longest queue (the one that reached that length first), or undefined when all are empty. */
  longest(): Flow | undefined {
    return this.bucket(this.max)?.head;
  }

  private bucket(length: number): IntrusiveList<Flow> | undefined {
    return this.buckets.get(length);
  }

  private bucketFor(length: number): IntrusiveList<Flow> {
    let list = this.buckets.get(length);
    if (list === undefined) {
      list = new IntrusiveList<Flow>((f) => f.lengthLink);
      this.buckets.set(length, list);
    }
    return list;
  }
}
