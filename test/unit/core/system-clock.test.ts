import { describe, expect, it } from 'vitest';
import { MAX_TIMER_DELAY_MS, SystemClock } from '../../../src/core/clock.js';

describe('SystemClock', () => {
  it('caps delays Node cannot honour instead of letting them fire after 1 ms', async () => {
    const clock = new SystemClock();
    let fired = 0;
    const handle = clock.setTimeout(() => fired++, MAX_TIMER_DELAY_MS * 2);
    await new Promise<void>((resolve) => setTimeout(resolve, 30));
    clock.clearTimeout(handle);
    expect(fired).toBe(0);
  });

  it('defers a call past pending I/O, once', async () => {
    const clock = new SystemClock();
    const order: string[] = [];
    clock.defer(() => order.push('deferred'));
    order.push('sync');
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(order).toEqual(['sync', 'deferred']);
  });
});
