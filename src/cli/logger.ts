// The CLI's logger: pino JSON to stderr, so stdout stays for the demo's tables and progress.
import { type Logger } from '../core/index.js';
import { createPinoLogger } from '../observability/index.js';

export function cliLogger(level: string): Logger {
  return createPinoLogger({ level, destination: 2 });
}
