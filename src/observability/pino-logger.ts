// The core Logger port on pino: JSON lines by default, a compact human format with `pretty`. pino's API already
// has the port's shape (object first, message second; child loggers), so it is passed through as is. stdout and
// stderr are written through a bounded destination, never pino's file-descriptor one (see bounded-destination.ts).
import pino, { type DestinationStream } from 'pino';
import { InvalidArgumentError, type Logger } from '../core/index.js';
import { boundedDestination } from './bounded-destination.js';
import { prettyStream } from './pretty-stream.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

export interface PinoLoggerOptions {
  /** One of LOG_LEVELS; a string so configuration can pass its value straight through (checked here). @default 'info' */
  readonly level?: LogLevel | (string & {});
  /** Human-readable lines instead of JSON (for terminals and the demo). @default false */
  readonly pretty?: boolean;
  /** Where lines go: 1 (stdout), 2 (stderr) or a stream. @default 1 */
  readonly destination?: 1 | 2 | DestinationStream;
  /** Bound to every record, e.g. `{ service: 'fairway' }`. */
  readonly base?: Record<string, unknown>;
}

export function createPinoLogger(options: PinoLoggerOptions = {}): Logger {
  const level = options.level ?? DEFAULT_LOG_LEVEL;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new InvalidArgumentError('level', level, `one of ${LOG_LEVELS.join(', ')}`);
  }
  const dest = options.destination ?? 1;
  const target = dest === 1 ? boundedDestination(process.stdout) : dest === 2 ? boundedDestination(process.stderr) : dest;
  const destination = options.pretty === true ? prettyStream(target) : target;
  return pino(
    {
      level,
      // pid/hostname add noise to every line; orchestrators attach them already.
      base: options.base ?? null,
      // Errors logged as `{ err }` keep their message, type and stack.
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
}
