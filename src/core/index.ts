// Public surface of src/core: the vocabulary every subsystem shares.
export { type Clock, type TimerHandle, SystemClock, systemClock } from './clock.js';
export { ManualClock } from './manual-clock.js';
export { type Random, SeededRandom, mathRandom, randomInt } from './random.js';
export { type Logger, noopLogger } from './logger.js';
export { FairwayError, InvalidArgumentError, ConfigError, ClosedError, describe } from './errors.js';
export { requireFiniteNonNegative, requirePositive, requireIntegerInRange, requireNonEmptyString } from './validate.js';
export { Registry } from './registry.js';
export { percentile, Summary } from './stats.js';
export { IndexedHeap, type HeapSlot } from './ds/indexed-heap.js';
export { IntrusiveList, type ListLink, newLink } from './ds/intrusive-list.js';
export { isConnectError, isUnreachableError } from './net-errors.js';
export { ObserverFaults, type ObserverMethods, OBSERVER_FAULT_LOG_INTERVAL_MS, fanOutObservers } from './observer-fan-out.js';
