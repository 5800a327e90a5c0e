// `fairway serve` whose stderr nobody reads (a supervisor that pipes it and never drains it): once the pipe is
// full, logging must neither stall the service nor keep it from shutting down. The child's stderr is read only
// until its "fairway serving" line, then never again; malformed requests to its proxy make it log far more than
// the pipe holds (at debug, one line each); SIGTERM must still end it with exit code 0. Runs the compiled CLI.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../support/service-harness.js';
import { servingPorts } from '../../support/serving-ports.js';

const CLI = new URL('../../../dist/src/cli/main.js', import.meta.url).pathname;

/** Each refused request logs one debug line of ~170 bytes: 4,000 of them are ~680 KB, several pipes' worth. */
const MALFORMED_REQUESTS = 4_000;
const IN_PARALLEL = 50;

/** Sends one malformed HTTP request; true once answered 400, false when the server does not answer in 30 s. */
function malformedRequest(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answered = false;
    const timer = setTimeout(() => socket.destroy(), 30_000); // only ends a failing test
    socket.on('connect', () => socket.write('NOT-HTTP \0\r\n\r\n'));
    socket.on('data', (chunk: Buffer) => {
      answered = chunk.toString('latin1').startsWith('HTTP/1.1 400 ');
      socket.destroy();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answered);
    });
  });
}

describe('fairway serve with an unread stderr (compiled CLI, real process)', () => {
  let child: ChildProcess | undefined;
  let dir: string | undefined;

  afterEach(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('keeps answering and exits 0 on SIGTERM although the stderr pipe is full', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (\`npm test\` does)`);
    dir = mkdtempSync(join(tmpdir(), 'fairway-unread-stderr-'));
    const config = join(dir, 'fairway.yaml');
    // The one endpoint refuses connections: its scrape failures log too, which only fills the pipe sooner.
    writeFileSync(config, ['pool:', '  endpoints: [{ host: 127.0.0.1, port: 9 }]', 'server: { host: 127.0.0.1, shutdownGraceMs: 1000 }'].join('\n'));
    const proc = spawn(
      process.execPath,
      [CLI, 'serve', '--config', config, '--log-level', 'debug', '--grpc-port', '0', '--health-port', '0', '--metrics-port', '0', '--proxy-port', '0'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = proc;
    const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    let stderr = '';
    const read = (chunk: Buffer): void => {
      stderr += chunk.toString('utf8');
    };
    proc.stderr?.on('data', read);
    await waitFor('fairway serve to listen', () => servingPorts(stderr) !== undefined, 60_000);
    // From here on nobody reads the pipe (Node buffers at most its high-water mark more, then stops reading).
    proc.stderr?.off('data', read);
    proc.stderr?.pause();
    const proxy = servingPorts(stderr)?.proxy;
    if (proxy === undefined) throw new Error('fairway serve opened no proxy port');

    let answered = 0;
    for (let sent = 0; sent < MALFORMED_REQUESTS; sent += IN_PARALLEL) {
      const batch = await Promise.all(Array.from({ length: IN_PARALLEL }, () => malformedRequest(proxy)));
      answered += batch.filter(Boolean).length;
      if (answered < sent + IN_PARALLEL) break; // stalled: no use waiting out the rest
    }
    // Logging into a full pipe must not block the event loop: every malformed request is answered 400.
    expect(answered).toBe(MALFORMED_REQUESTS);

    proc.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const stillRunning = new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), 60_000)));
    const code = await Promise.race([exit, stillRunning]);
    clearTimeout(timer);
    expect(code).toBe(0);
    // The pipe was full indeed: what is left to read after the exit (the pipe's and this side's buffers) holds
    // only part of the refusal lines (about 170 of 4,000 here); had the pipe taken them all, it would hold every one.
    const rest = await new Promise<string>((resolve) => {
      let text = '';
      proc.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      proc.stderr?.once('close', () => resolve(text));
      proc.stderr?.resume();
    });
    const refusals = (stderr + rest).split('request refused before parsing completed').length - 1;
    // Some lines got through before the pipe filled (the line is still logged), but most were dropped.
    expect(refusals).toBeGreaterThan(0);
    expect(refusals).toBeLessThan(MALFORMED_REQUESTS / 2);
  }, 180_000);
});
