// lowerThreadPriority's and lowerBackgroundThreads' fallbacks: they report, never throw, where they cannot or need
// not act. Their effect on real threads (Linux) is pinned by the scrape-worker and background-threads integration
// tests.
import { describe, expect, it } from 'vitest';
import { lowerBackgroundThreads, lowerThreadPriority } from '../../../src/datalayer/index.js';

describe('lowerThreadPriority', () => {
  it('leaves the priority alone off Linux, where setpriority on a thread id would renice the whole process', () => {
    expect(lowerThreadPriority(10, 'darwin')).toEqual({ applied: false, reason: 'per-thread priority is not supported on darwin' });
    expect(lowerThreadPriority(10, 'win32').applied).toBe(false);
  });

  it('does nothing for an increment of 0', () => {
    expect(lowerThreadPriority(0, 'linux')).toEqual({ applied: false, reason: 'no increment asked for' });
  });
});

describe('lowerBackgroundThreads', () => {
  it('leaves every thread alone off Linux and for an increment of 0', () => {
    expect(lowerBackgroundThreads(10, 'darwin')).toEqual({ applied: false, reason: 'per-thread priority is not supported on darwin' });
    expect(lowerBackgroundThreads(0, 'linux')).toEqual({ applied: false, reason: 'no increment asked for' });
  });
});
