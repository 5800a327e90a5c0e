// Indexed heap of flows using the slot each Flow reserves for its band's fairness heap.
import { IndexedHeap } from '../../../core/index.js';
import { type Flow } from '../../flow.js';

const FAIR_HEAP_SLOT = {
  get: (f: Flow): number => f.fairHeapIndex,
  set: (f: Flow, i: number): void => {
    f.fairHeapIndex = i;
  },
};

/** Complexity: O(log flows) per change. */
export function newFlowHeap(less: (a: Flow, b: Flow) => boolean): IndexedHeap<Flow> {
  return new IndexedHeap<Flow>(less, FAIR_HEAP_SLOT);
}
