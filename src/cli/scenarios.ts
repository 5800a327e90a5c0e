// Named demo scenarios: short multi-tenant overloads of the simulated pool (sized for its `ci` profile).
import { type TrafficClass } from '../loadgen/index.js';

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly durationMs: number;
  readonly classes: readonly TrafficClass[];
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'overload',
    description: 'steady interactive traffic plus a batch burst at about 3x the pool capacity',
    durationMs: 20_000,
    classes: [
      { name: 'interactive', tenant: 'tenant-a', objective: 'interactive', ratePerSecond: 4, promptTokens: 256, maxTokens: 32 },
      { name: 'batch', tenant: 'batch-jobs', objective: 'batch', ratePerSecond: 60, promptTokens: 512, maxTokens: 128, startMs: 3_000, stopMs: 15_000 },
    ],
  },
  {
    name: 'noisy-tenant',
    description: 'tenant A sends ten times the rate of tenant B with long prompts, equal weights',
    durationMs: 20_000,
    classes: [
      { name: 'tenant-a (noisy)', tenant: 'tenant-a', objective: 'standard', ratePerSecond: 40, promptTokens: 1_024, maxTokens: 128 },
      { name: 'tenant-b', tenant: 'tenant-b', objective: 'standard', ratePerSecond: 4, promptTokens: 256, maxTokens: 64 },
    ],
  },
  {
    name: 'weighted',
    description: 'two backlogged tenants with weights 3:1',
    durationMs: 20_000,
    classes: [
      { name: 'gold (w=3)', tenant: 'gold', objective: 'standard', ratePerSecond: 40, promptTokens: 512, maxTokens: 64 },
      { name: 'bronze (w=1)', tenant: 'bronze', objective: 'standard', ratePerSecond: 40, promptTokens: 512, maxTokens: 64 },
    ],
  },
];

export function scenarioNamed(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
