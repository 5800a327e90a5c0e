// Human-readable rendering of pino's JSON lines for terminals (`time LEVEL msg {fields}`), without pino-pretty,
// which is not a dependency. Lines that are not pino JSON pass through unchanged.

export interface LineSink {
  write(line: string): unknown;
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Formats one pino JSON line; undefined when the line is not a pino record. */
export function formatPinoLine(line: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed)) return undefined;
  const { level, time, msg, pid: _pid, hostname: _hostname, ...fields } = parsed;
  const levelName = typeof level === 'number' ? (LEVEL_NAMES[level] ?? String(level)) : String(level);
  const at = typeof time === 'number' ? new Date(time).toISOString().slice(11, 23) : '';
  const rest = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
  return `${at} ${levelName.padEnd(5)} ${typeof msg === 'string' ? msg : ''}${rest}\n`;
}

/** A pino destination that writes formatted lines to `sink`. */
export function prettyStream(sink: LineSink): { write(chunk: string): void } {
  return {
    write(chunk: string) {
      // pino writes whole records, each ending in a newline.
      for (const line of chunk.split('\n')) {
        if (line.length === 0) continue;
        sink.write(formatPinoLine(line) ?? `${line}\n`);
      }
    },
  };
}
