// Traffic classes of a load scenario: who sends, how much it matters, how fast, and how big.
import { type Random } from '../core/index.js';

export interface TrafficClass {
  /** Row label in reports. */
  readonly name: string;
  /** Sent as `x-gateway-inference-fairness-id`. */
  readonly tenant: string;
  /** Sent as `x-gateway-inference-objective`; undefined sends none. */
  readonly objective?: string;
  /** Mean arrivals per second (Poisson). */
  readonly ratePerSecond: number;
  readonly promptTokens: number;
  readonly maxTokens: number;
  /** Start and stop of this class, ms from the start of the run. @default whole run */
  readonly startMs?: number;
  readonly stopMs?: number;
  /** Characters shared by every prompt of this class (a system prompt), for prefix-cache affinity. @default 0 */
  readonly sharedPrefixChars?: number;
}

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'fox', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];

/** A prompt of about `tokens` tokens (4 characters each), starting with the class's shared prefix. */
export function makePrompt(random: Random, tokens: number, sharedPrefix: string): string {
  const target = Math.max(1, tokens * 4);
  const parts: string[] = [sharedPrefix];
  let length = sharedPrefix.length;
  while (length < target) {
    const w = WORDS[Math.floor(random.next() * WORDS.length)] ?? 'x';
    parts.push(w);
    length += w.length + 1;
  }
  return parts.join(' ').slice(0, target);
}

/** Exponential inter-arrival gap for a Poisson process of `rate` per second, in ms. */
export function nextGapMs(random: Random, ratePerSecond: number): number {
  return (-Math.log(1 - random.next()) / ratePerSecond) * 1_000;
}
