// The pino adapter of the Logger port: JSON records with fields and message, level filtering, child bindings,
// errors serialised, and the pretty format.
import { describe, expect, it } from 'vitest';
import { createPinoLogger } from '../../../src/observability/index.js';

function capture(): { lines: string[]; destination: { write(s: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (s: string) => void lines.push(...s.split('\n').filter((l) => l.length > 0)) } };
}

function records(lines: readonly string[]): Record<string, unknown>[] {
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('createPinoLogger', () => {
  it('writes JSON records: fields, message, level; filters below the level', () => {
    const out = capture();
    const logger = createPinoLogger({ level: 'info', destination: out.destination });
    logger.debug({ hidden: true }, 'not shown');
    logger.info({ requestId: 'r1' }, 'routed');
    logger.warn({}, 'careful');
    const [info, warn] = records(out.lines);
    expect(out.lines).toHaveLength(2);
    expect(info).toMatchObject({ level: 30, requestId: 'r1', msg: 'routed' });
    expect(typeof info?.time).toBe('number');
    expect(warn).toMatchObject({ level: 40, msg: 'careful' });
  });

  it('child loggers carry their bindings and are Loggers themselves', () => {
    const out = capture();
    const logger = createPinoLogger({ level: 'debug', destination: out.destination });
    logger.child({ component: 'flowcontrol' }).child({ band: 'high' }).debug({ queued: 3 }, 'cycle');
    expect(records(out.lines)[0]).toMatchObject({ level: 20, component: 'flowcontrol', band: 'high', queued: 3, msg: 'cycle' });
  });

  it('serialises errors logged as { err }', () => {
    const out = capture();
    createPinoLogger({ destination: out.destination }).error({ err: new TypeError('bad thing') }, 'failed');
    const err = records(out.lines)[0]?.err as Record<string, unknown>;
    expect(err).toMatchObject({ type: 'TypeError', message: 'bad thing' });
    expect(String(err.stack)).toContain('TypeError: bad thing');
  });

  it('pretty prints one readable line per record', () => {
    const out = capture();
    createPinoLogger({ pretty: true, destination: out.destination }).warn({ tenant: 'acme' }, 'shed');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}shed \{"tenant":"acme"\}$/);
  });

  it('rejects an unknown level, naming the field', () => {
    expect(() => createPinoLogger({ level: 'verbose' })).toThrow(/level/);
  });
});
