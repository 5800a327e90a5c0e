// Live configuration reload for `fairway serve`: SIGHUP (and, with --watch-config, a change of the file, which
// also catches a Kubernetes ConfigMap's symlink swap) re-reads the file, validates it, and applies it to the
// running server. An invalid file keeps the running configuration and logs the precise field error.
import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import { type FairwayConfig } from '../config/index.js';
import { type Logger } from '../core/index.js';
import { type FairwayServer } from '../server/index.js';

/** Turns the file's text into a validated configuration (YAML today; a translated EndpointPickerConfig too). */
export type ConfigLoader = (text: string, source: string) => FairwayConfig;

export interface ReloadOptions {
  /** The configuration file; without one, SIGHUP only logs that there is nothing to reload. */
  readonly path: string | undefined;
  readonly load: ConfigLoader;
  readonly server: FairwayServer;
  readonly logger: Logger;
  /** Poll the file's modification time this often (ms); off when undefined. */
  readonly watchIntervalMs?: number;
}

/** Installs the SIGHUP handler (and the file watch); returns the function that removes them. */
export function installReload(o: ReloadOptions): () => void {
  const path = o.path;
  let running: Promise<void> = Promise.resolve();
  const reload = (trigger: string): void => {
    if (path === undefined) {
      o.logger.warn({ trigger }, 'no --config file: nothing to reload');
      return;
    }
    // One reload at a time, in order: a burst of signals cannot interleave two half-applied configurations.
    running = running.then(() => reloadOnce(o, path, trigger));
  };
  // Installed even without a file: SIGHUP's default action would end the process.
  const onHup = (): void => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  const watching = path !== undefined && o.watchIntervalMs !== undefined;
  if (watching) {
    watchFile(path, { interval: o.watchIntervalMs, persistent: false }, (cur, prev) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) reload('file change');
    });
  }
  return () => {
    process.off('SIGHUP', onHup);
    if (watching) unwatchFile(path);
  };
}

async function reloadOnce(o: ReloadOptions, path: string, trigger: string): Promise<void> {
  let next: FairwayConfig;
  try {
    next = o.load(await readFile(path, 'utf8'), path);
  } catch (err) {
    o.server.controlPlane.reloaded('invalid');
    o.logger.error({ trigger, error: err instanceof Error ? err.message : String(err) }, 'configuration reload rejected; the running configuration stays');
    return;
  }
  try {
    o.server.applyConfig(next);
  } catch (err) {
    o.logger.error({ trigger, error: err instanceof Error ? err.message : String(err) }, 'configuration reload rejected; the running configuration stays');
  }
}
