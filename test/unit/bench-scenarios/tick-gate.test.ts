import { describe, expect, it } from 'vitest';
import { TickGate } from '../../../bench/scenarios/tick-gate.js';
import { ManualClock } from '../../../src/core/index.js';
import { type SaturationSource } from '../../../src/flowcontrol/index.js';

function source(value: number): SaturationSource & { set(v: number): void; fire(): void } {
  let v = value;
  const listeners = new Set<() => void>();
  return {
    saturation: () => v,
    onChange: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    set: (x) => {
      v = x;
    },
    fire: () => listeners.forEach((l) => l()),
  };
}

describe('TickGate (one dispatch per 1 ms tick)', () => {
  it('passes the inner figure while a token is available, reports saturated once it is spent', () => {
    const clock = new ManualClock(0);
    const gate = new TickGate(source(0.3), clock);
    expect(gate.saturation()).toBe(0.3);
    gate.consume();
    expect(gate.saturation()).toBe(1);
    gate.close();
  });

  it('refills on the fixed 1 ms grid and signals the change', () => {
    const clock = new ManualClock(0.4);
    const gate = new TickGate(source(0.2), clock);
    let changes = 0;
    gate.onChange(() => changes++);
    gate.consume();
    clock.advanceTo(0.99);
    expect(gate.saturation()).toBe(1);
    clock.advanceTo(1);
    expect(gate.saturation()).toBe(0.2);
    expect(changes).toBe(1);
    expect(gate.dispatches).toBe(1);
    gate.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('never reports less than the inner saturation, and forwards inner changes', () => {
    const clock = new ManualClock(0);
    const inner = source(2.5);
    const gate = new TickGate(inner, clock);
    let changes = 0;
    gate.onChange(() => changes++);
    expect(gate.saturation()).toBe(2.5);
    gate.consume();
    expect(gate.saturation()).toBe(2.5);
    inner.fire();
    expect(changes).toBe(1);
    gate.close();
  });

  it('admits at most one dispatch per tick under a controller-like loop', () => {
    const clock = new ManualClock(0);
    const gate = new TickGate(source(0), clock);
    let dispatched = 0;
    for (let t = 0; t < 10; t += 0.25) {
      clock.advanceTo(t);
      while (gate.saturation() < 1) {
        gate.consume();
        dispatched++;
      }
    }
    expect(dispatched).toBe(10);
    gate.close();
  });
});
