// lowerThreadPriority's fallbacks: it reports, never throws, where it cannot or need not act. Its effect on a
// real thread (Linux) is pinned by the scrape-worker integration test, on the worker thread it is meant for.
import { describe, expect, it } from 'vitest';
import { lowerThreadPriority } from '../../../src/datalayer/index.js';

describe('lowerThreadPriority', () => {
  it('leaves the priority alone off Linux, where setpriority on a thread id would renice the whole process', () => {
    expect(lowerThreadPriority(10, 'darwin')).toEqual({ applied: false, reason: 'per-thread priority is not supported on darwin' });
    expect(lowerThreadPriority(10, 'win32').applied).toBe(false);
  });

  it('does nothing for an increment of 0', () => {
    expect(lowerThreadPriority(0, 'linux')).toEqual({ applied: false, reason: 'no increment asked for' });
  });
});
