// Injected failures for resilience tests: a seeded fraction of inference requests fails in a chosen way.
import { type Random, InvalidArgumentError, requireFiniteNonNegative } from '../core/index.js';

/** `500`: vLLM's internal-error body; `hang`: never answer; `reset`: destroy the connection. */
export type FailureKind = '500' | 'hang' | 'reset';

export const FAILURE_KINDS: readonly FailureKind[] = ['500', 'hang', 'reset'];

export function isFailureKind(value: string): value is FailureKind {
  return (FAILURE_KINDS as readonly string[]).includes(value);
}

export class FailureInjector {
  private readonly rate: number;

  constructor(
    rate: number,
    readonly kind: FailureKind,
    private readonly random: Random,
  ) {
    this.rate = requireFiniteNonNegative('failureRate', rate);
    if (rate > 1) throw new InvalidArgumentError('failureRate', rate, 'a number in [0, 1]');
    if (!isFailureKind(kind)) throw new InvalidArgumentError('failureKind', kind, `one of ${FAILURE_KINDS.join(', ')}`);
  }

  /** The failure for the next request, if it is to fail. Draws from the random source only when armed. */
  next(): FailureKind | undefined {
    if (this.rate === 0) return undefined;
    return this.random.next() < this.rate ? this.kind : undefined;
  }
}
