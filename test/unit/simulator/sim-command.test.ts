// `fairway sim` option parsing: bad values are refused with a message naming the flag.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerSimCommand } from '../../../src/cli/sim-command.js';

function parse(args: string[]): string {
  const program = new Command('fairway').exitOverride();
  let errors = '';
  program.configureOutput({ writeErr: (s) => (errors += s), writeOut: () => {} });
  const sim = registerSimCommand(program);
  sim.exitOverride();
  sim.configureOutput({ writeErr: (s) => (errors += s), writeOut: () => {} });
  // Every case fails during option parsing, before the action (which would start servers) runs.
  expect(() => program.parse(['node', 'fairway', 'sim', ...args])).toThrow();
  return errors;
}

describe('fairway sim options', () => {
  it('refuses bad values, naming the flag', () => {
    expect(parse(['--port', '1', '--profile', 'a100'])).toMatch(/--profile/);
    expect(parse(['--port', '70000'])).toMatch(/--port/);
    expect(parse(['--port', '1', '--time-scale', '0'])).toMatch(/--time-scale/);
    expect(parse(['--port', '1', '--failure-rate', '1.5'])).toMatch(/--failure-rate/);
    expect(parse(['--port', '1', '--failure-kind', 'boom'])).toMatch(/--failure-kind/);
    expect(parse(['--port', '1', '--speed-factors', '1,-1'])).toMatch(/--speed-factors/);
    expect(parse(['--port', '1', '--fake-metrics', '{"kvUsage":3}'])).toMatch(/fakeMetrics.kvUsage/);
    expect(parse(['--port', '1', '--fake-metrics', 'nope'])).toMatch(/--fake-metrics/);
    expect(parse([])).toMatch(/--port/);
  });
});
