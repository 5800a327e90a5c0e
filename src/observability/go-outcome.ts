// Maps a flow-control outcome to the Go reference's `outcome` label values, so queries such as
// `outcome=~"Rejected.*"` written against the Go EPP keep working.
import { type OutcomeEvent } from '../flowcontrol/index.js';

export type GoQueueOutcome =
  | 'Dispatched'
  | 'RejectedCapacity'
  | 'RejectedOther'
  | 'EvictedTTL'
  | 'EvictedContextCancelled'
  | 'EvictedOther';

export function goQueueOutcome(event: Pick<OutcomeEvent, 'kind' | 'reason'>): GoQueueOutcome {
  switch (event.kind) {
    case 'dispatched':
      return 'Dispatched';
    case 'rejected':
      // A per-flow limit is a capacity limit too (Go has one capacity outcome for global and per-band limits).
      return event.reason === 'capacity' || event.reason === 'flow-limit' ? 'RejectedCapacity' : 'RejectedOther';
    case 'evicted':
      if (event.reason === 'ttl') return 'EvictedTTL';
      if (event.reason === 'cancelled') return 'EvictedContextCancelled';
      // Displacement by a higher priority and shutdown have no Go counterpart; the shed counter keeps the detail.
      return 'EvictedOther';
  }
}
