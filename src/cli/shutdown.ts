// Signal handling for long-running commands: the first SIGTERM/SIGINT shuts down gracefully and exits 0;
// a second one exits at once. A graceful exit gives what is logged a bounded time to reach stderr (exitAfterLogs).
import { type Logger } from '../core/index.js';
import { exitAfterLogs } from './logger.js';

export function installShutdown(logger: Logger, shutdown: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    shutdown().then(
      () => exitAfterLogs(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        exitAfterLogs(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
