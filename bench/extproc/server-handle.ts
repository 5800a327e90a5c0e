// A benchmarked server in its own child process (server-process.ts): its port, its CPU time on request, and a stop
// that waits for it to exit. Shared by the ext_proc benchmark and the long-context one.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The server's garbage collections since it started (see server-process.ts). */
export interface GcStats {
  readonly major: number;
  readonly minor: number;
  readonly pauseMs: number;
}

export interface ServerHandle {
  readonly port: number;
  cpuMicros(): Promise<number>;
  gcStats(): Promise<GcStats>;
  stop(): Promise<void>;
}

/** Forks server-process.js with `kind` (and its argument), and waits for the port it listens on. */
export async function startServer(
  kind: string,
  arg?: string,
  execArgv: string[] = [],
  entry = fileURLToPath(new URL('./server-process.js', import.meta.url)),
): Promise<ServerHandle> {
  const child: ChildProcess = fork(entry, arg === undefined ? [kind] : [kind, arg], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
  });
  const ask = <T>(msg: string, key: string): Promise<T> =>
    new Promise((resolve) => {
      const on = (m: unknown): void => {
        if (typeof m === 'object' && m !== null && key in m) {
          child.off('message', on);
          resolve((m as Record<string, T>)[key] as T);
        }
      };
      child.on('message', on);
      if (msg !== '') child.send(msg);
    });
  const port = await ask<number>('', 'port');
  return {
    port,
    cpuMicros: () => ask<number>('cpu', 'cpuMicros'),
    gcStats: () => ask<GcStats>('gc', 'gc'),
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send('exit');
        // A server that ignores 'exit' is killed; a large-body run may need a moment to finish its last request.
        setTimeout(() => child.kill('SIGKILL'), 3_000).unref();
      }),
  };
}
