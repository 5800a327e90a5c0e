// What the exchange logs about the store: a real outage is logged once when it begins (or, soon after another
// logged one, once it has lasted a second) and once when it ends; one-round blips on a busy host are not logged
// one by one but counted into the next outage's line. Driven directly, then through the exchange on a MemoryHub.
import { describe, expect, it } from 'vitest';
import { type Logger, ManualClock } from '../../../src/core/index.js';
import { type ChannelWrites, type ExchangeChannel, MemoryHub, OutageLog, SharedStateExchange } from '../../../src/sharedstate/index.js';
import { flushMicrotasks } from '../../support/flush.js';

interface Line {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: Record<string, unknown>;
  readonly msg: string | undefined;
}

function recordingLogger(lines: Line[]): Logger {
  const at =
    (level: Line['level']) =>
    (obj: object, msg?: string): void =>
      void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

const levels = (lines: readonly Line[]): string[] => lines.filter((l) => l.level !== 'debug').map((l) => l.level);

describe('OutageLog', () => {
  it('logs the first outage at once and its end; blips within a minute of it are counted, not logged', () => {
    const lines: Line[] = [];
    const log = new OutageLog({ logger: recordingLogger(lines), origin: 'r0' });
    log.up(0, 1);
    log.down(1_000, 'no answer within 20 ms');
    log.up(1_020, 1);
    expect(levels(lines)).toEqual(['info', 'warn', 'info']);
    // Five one-round blips over the next 30 s: nothing above debug.
    for (let i = 0; i < 5; i++) {
      log.down(5_000 + i * 5_000, 'no answer within 20 ms');
      log.stillDown(5_010 + i * 5_000);
      log.up(5_020 + i * 5_000, 1);
    }
    expect(levels(lines)).toEqual(['info', 'warn', 'info']);
    // A real outage inside the quiet minute: logged once it has lasted 1 s, with the blips folded in, then its end.
    log.down(40_000, 'connect ECONNREFUSED');
    log.stillDown(40_500);
    expect(levels(lines)).toHaveLength(3);
    log.stillDown(41_000);
    log.stillDown(41_020);
    log.up(45_000, 2);
    expect(levels(lines)).toEqual(['info', 'warn', 'info', 'warn', 'info']);
    const warn = lines.filter((l) => l.level === 'warn')[1];
    expect(warn?.obj).toMatchObject({ origin: 'r0', err: 'connect ECONNREFUSED', shortOutagesNotLogged: 5, downMs: 1_000 });
    expect(lines.filter((l) => l.level === 'info').at(-1)?.obj).toMatchObject({ peers: 2, downMs: 5_000 });
  });

  it('a minute after the last logged outage, the next one is logged at once again', () => {
    const lines: Line[] = [];
    const log = new OutageLog({ logger: recordingLogger(lines), origin: 'r0' });
    log.down(0, 'a');
    log.up(20, 1);
    log.down(59_999, 'b');
    log.up(60_019, 1);
    log.down(60_000 + 20, 'c');
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.obj['err'])).toEqual(['a', 'c']);
  });
});

class Quiet implements ExchangeChannel {
  readonly id = 'q';
  collect(): ChannelWrites {
    return { set: new Map(), del: [] };
  }
  apply(): void {}
}

async function tick(clock: ManualClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await flushMicrotasks(2);
  }
}

describe('the exchange\'s outage logging', () => {
  it('turns local-only at every blip (up false, the failed round counted) but logs a store outage once, and its end once', async () => {
    const T = 20;
    const clock = new ManualClock(0);
    const hub = new MemoryHub(clock);
    const lines: Line[] = [];
    const exchange = new SharedStateExchange({ transport: hub.transport(), origin: 'r0', clock, syncIntervalMs: T, logger: recordingLogger(lines) });
    exchange.register(new Quiet());
    exchange.start();
    await tick(clock, 3 * T);
    expect(levels(lines)).toEqual(['info']);
    // A real outage (5 s), then back.
    hub.setReachable(false);
    await tick(clock, 5_000);
    expect(exchange.isUp).toBe(false);
    hub.setReachable(true);
    await tick(clock, 3 * T);
    expect(levels(lines)).toEqual(['info', 'warn', 'info']);
    // Ten blips of about one round each, a second apart: each one turns the replica local-only, none is logged.
    let sawDown = 0;
    for (let i = 0; i < 10; i++) {
      hub.setReachable(false);
      for (let t = 0; t < 2 * T; t++) {
        await tick(clock, 1);
        if (!exchange.isUp) {
          sawDown++;
          break;
        }
      }
      hub.setReachable(true);
      await tick(clock, 1_000);
      expect(exchange.isUp).toBe(true);
    }
    expect(sawDown).toBe(10);
    expect(levels(lines)).toEqual(['info', 'warn', 'info']);
    expect(exchange.stats().failedRounds).toBeGreaterThanOrEqual(10 + 5_000 / T - 2);
    await exchange.close();
  });
});
