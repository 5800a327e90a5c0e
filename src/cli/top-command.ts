// `fairway top --url URL`: the status snapshot of a running Fairway (its /status.json) as a refreshing terminal
// table, like top(1); `q` or Ctrl-C quits. When stdout is not a terminal (a pipe, a file, CI) or with --once, it
// prints the snapshot once as plain text and exits: no escape codes.
import { type Command, Option } from 'commander';
import { type StatusSnapshot, renderStatusText } from '../status/index.js';
import { parsePositiveInt } from './parse.js';

interface TopOptions {
  url: string;
  token?: string;
  interval: number;
  once: boolean;
}

/** The snapshot address from what an operator may type: the admin base URL, /status, or /status.json itself. */
export function statusJsonUrl(url: string): string {
  const u = new URL(url.includes('://') ? url : `http://${url}`);
  const path = u.pathname.replace(/\/+$/, '');
  u.pathname = path.endsWith('/status.json') ? path : path.endsWith('/status') ? `${path}.json` : `${path}/status.json`;
  u.search = '';
  return u.toString();
}

async function fetchSnapshot(url: string, token: string | undefined): Promise<StatusSnapshot> {
  const res = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
  if (res.status === 401) throw new Error(`${url} needs the admin token: --token or FAIRWAY_ADMIN_TOKEN`);
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  const body: unknown = await res.json();
  if (typeof body !== 'object' || body === null || !('seq' in body) || !('bands' in body)) throw new Error(`${url} did not return a status snapshot`);
  return body as StatusSnapshot;
}

const CSI = '\x1b[';

async function runLive(url: string, token: string | undefined, intervalMs: number): Promise<void> {
  const out = process.stdout;
  let last: StatusSnapshot | undefined;
  let error = '';
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const draw = (): void => {
    // A terminal of unknown size reports 0 (a bare pseudo-terminal): fall back to a usual one.
    const width = out.columns > 0 ? out.columns : 120;
    const height = out.rows > 0 ? out.rows : 40;
    const body = last === undefined ? `connecting to ${url} ...\n` : renderStatusText(last, { width, height: height - 2 });
    const status = error === '' ? `${url} · every ${intervalMs} ms · q quits` : `! ${error} (showing the last snapshot)`;
    // Home, each line cleared to its end, then everything below cleared: no flicker, no scrollback growth.
    out.write(`${CSI}H${[status, ...body.trimEnd().split('\n')].map((l) => `${l}${CSI}K`).join('\n')}\n${CSI}J`);
  };
  const stop = (): void => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    wake?.();
  };
  const onKey = (data: Buffer): void => {
    const key = data.toString('utf8');
    if (key === 'q' || key === 'Q' || key === '\u0003') stop();
  };
  out.write(`${CSI}?1049h${CSI}?25l`);
  if (process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', onKey);
  }
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    while (!stopped) {
      try {
        last = await fetchSnapshot(url, token);
        error = '';
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      draw();
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, intervalMs);
      });
    }
  } finally {
    if (process.stdin.isTTY) {
      process.stdin.off('data', onKey);
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    out.write(`${CSI}?25h${CSI}?1049l`);
  }
}

export function registerTopCommand(program: Command): void {
  program
    .command('top')
    .description('watch a running Fairway: bands, top tenants, shed reasons, endpoints (refreshing; plain text when not a terminal)')
    .addOption(new Option('--url <url>', 'its admin port (or /status, /status.json)').default('http://127.0.0.1:9090'))
    .addOption(new Option('--token <token>', 'admin bearer token (default: FAIRWAY_ADMIN_TOKEN)'))
    .addOption(new Option('--interval <ms>', 'refresh interval').default(1_000).argParser(parsePositiveInt))
    .option('--once', 'print one snapshot and exit, even on a terminal', false)
    .action(async (o: TopOptions) => {
      const url = statusJsonUrl(o.url);
      const env = process.env['FAIRWAY_ADMIN_TOKEN'];
      const token = o.token ?? (env !== undefined && env !== '' ? env : undefined);
      if (o.once || process.stdout.isTTY !== true) {
        const snapshot = await fetchSnapshot(url, token);
        process.stdout.write(renderStatusText(snapshot, { width: process.stdout.columns ?? 200 }));
        return;
      }
      await runLive(url, token, o.interval);
    });
}
