// HttpMetricsFetcher's own HTTP/1.1 client against raw TCP servers on 127.0.0.1 ephemeral ports: framings a
// model server may use, connections it closes, and answers that are not HTTP.
import { type Server, type Socket, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpMetricsFetcher, type MetricsBodySink, ScrapeFailure } from '../../../src/datalayer/index.js';
import { LoopbackListener, waitFor } from './loopback-server.js';

const PAGE = 'vllm:num_requests_waiting 2\nvllm:num_requests_running 5\n';

/** A TCP server that answers each request (one per `\r\n\r\n`) with what `answer` returns for its number. */
class RawServer extends LoopbackListener<Server> {
  requests = 0;
  connections = 0;
  readonly server: Server;

  constructor(public answer: (n: number, socket: Socket) => void) {
    super();
    this.server = createServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      let pending = '';
      socket.on('data', (data: Buffer) => {
        pending += data.toString('latin1');
        while (pending.includes('\r\n\r\n')) {
          pending = pending.slice(pending.indexOf('\r\n\r\n') + 4);
          this.answer(++this.requests, socket);
        }
      });
    });
  }
}

const servers: RawServer[] = [];
const fetchers: HttpMetricsFetcher[] = [];
afterEach(async () => {
  await Promise.all(fetchers.splice(0).map((f) => f.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(answer: (n: number, socket: Socket) => void) {
  const server = await new RawServer(answer).listen();
  servers.push(server);
  const fetcher = new HttpMetricsFetcher({ host: '127.0.0.1', port: server.port, path: '/metrics' });
  fetchers.push(fetcher);
  const get = async (): Promise<string> => {
    const parts: Buffer[] = [];
    const sink: MetricsBodySink = { push: (chunk) => (parts.push(Buffer.from(chunk)), true) };
    await fetcher.fetch(new AbortController().signal, sink);
    return Buffer.concat(parts).toString();
  };
  return { server, fetcher, get };
}

const withLength = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/** One request through start/abort, as the scraper drives it: what its sink got and how it ended. */
function startOne(fetcher: HttpMetricsFetcher) {
  const parts: Buffer[] = [];
  let settled: { failure: ScrapeFailure | undefined } | undefined;
  const ended = new Promise<ScrapeFailure | undefined>((resolve) =>
    fetcher.start({ push: (chunk) => (parts.push(Buffer.from(chunk)), true) }, (failure) => {
      settled = { failure };
      resolve(failure);
    }),
  );
  return { ended, body: () => Buffer.concat(parts).toString(), settled: () => settled };
}

const timeout = (): ScrapeFailure => new ScrapeFailure('timeout', 'no complete answer within the test timeout');

/** A few loop turns: time for bytes already sent to arrive (used only to look for something that must not happen). */
const turns = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

describe('HttpMetricsFetcher over raw TCP', () => {
  it('sends one GET with host, accept and identity encoding, and reuses the connection', async () => {
    let request = '';
    const { server, get } = await setup((_n, socket) => socket.write(withLength(PAGE)));
    server.server.prependListener('connection', (socket: Socket) => socket.once('data', (d: Buffer) => (request = d.toString())));
    expect(await get()).toBe(PAGE);
    expect(await get()).toBe(PAGE);
    expect(request).toMatch(/^GET \/metrics HTTP\/1\.1\r\n/);
    expect(request).toContain(`host: 127.0.0.1:${server.port}\r\n`);
    expect(request).toContain('accept-encoding: identity\r\n');
    expect(server.connections).toBe(1);
  });

  it('reads a chunked page written in pieces', async () => {
    const { get } = await setup((_n, socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n');
      for (const line of PAGE.split(/(?<=\n)/)) socket.write(`${Buffer.byteLength(line).toString(16)}\r\n${line}\r\n`);
      socket.write('0\r\n\r\n');
    });
    expect(await get()).toBe(PAGE);
    expect(await get()).toBe(PAGE);
  });

  it('a server answering `connection: close` gets a new connection per scrape', async () => {
    const { server, get } = await setup((_n, socket) => socket.end(withLength(PAGE, 'connection: close\r\n')));
    for (let i = 0; i < 3; i++) expect(await get()).toBe(PAGE);
    expect(server.connections).toBe(3);
  });

  it('an HTTP/1.0 answer framed by closing the connection is read whole', async () => {
    const { get } = await setup((_n, socket) => socket.end(`HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\n${PAGE}`));
    expect(await get()).toBe(PAGE);
    expect(await get()).toBe(PAGE);
  });

  it('a kept-alive connection the server drops as the next request arrives is retried once on a new one', async () => {
    const { server, get } = await setup((n, socket) => {
      if (n === 2) socket.destroy(); // the idle-close race: the request met a closing connection
      else socket.write(withLength(PAGE));
    });
    expect(await get()).toBe(PAGE);
    expect(await get()).toBe(PAGE);
    expect(server.requests).toBe(3);
    expect(server.connections).toBe(2);
  });

  it('a connection cut mid-answer fails with reset, and is not retried', async () => {
    const { server, get } = await setup((_n, socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n${PAGE}`);
      setImmediate(() => socket.destroy());
    });
    await expect(get()).rejects.toMatchObject({ reason: 'reset' });
    expect(server.requests).toBe(1);
  });

  it('an answer that is not HTTP fails with bad-http and drops the connection', async () => {
    const { server, get } = await setup((n, socket) => {
      if (n === 1) socket.write('SSH-2.0-OpenSSH_9.6\r\n\r\n');
      else socket.write(withLength(PAGE));
    });
    await expect(get()).rejects.toMatchObject({ reason: 'bad-http' });
    await waitFor('bad connection closed', () => server.sockets.size === 0);
    expect(await get()).toBe(PAGE);
    expect(server.connections).toBe(2);
  });

  it('bytes sent while no request is in flight drop the connection', async () => {
    const { server, get } = await setup((_n, socket) => {
      socket.write(withLength(PAGE));
      setTimeout(() => socket.write('surprise'), 5);
    });
    expect(await get()).toBe(PAGE);
    await waitFor('connection dropped', () => server.sockets.size === 0);
    expect(await get()).toBe(PAGE);
    expect(server.connections).toBe(2);
  });

  it('a request timing out on a made connection keeps it: the late answer is read off, unseen, and the next request goes out on it once that ended', async () => {
    const held: Socket[] = [];
    const { server, fetcher } = await setup((n, socket) => {
      if (n === 1) held.push(socket); // answered late, below
      else socket.write(withLength(`second ${PAGE}`));
    });
    const first = startOne(fetcher);
    await waitFor('first request arrived', () => server.requests === 1);
    fetcher.abort(timeout());
    expect(await first.ended).toMatchObject({ reason: 'silent' }); // not a byte came back: a frozen pod, maybe
    const second = startOne(fetcher);
    await turns();
    // No pipelining: the second request waits for the first's answer.
    expect(server.requests).toBe(1);
    expect(second.settled()).toBeUndefined();
    held[0]?.write(withLength(`late ${PAGE}`));
    expect(await second.ended).toBeUndefined();
    expect(second.body()).toBe(`second ${PAGE}`);
    expect(first.body()).toBe('');
    expect(server.connections).toBe(1);
    // And the connection carries on as usual.
    const third = startOne(fetcher);
    expect(await third.ended).toBeUndefined();
    expect(server.connections).toBe(1);
  });

  it("a request timing out after the previous one's late answer came is 'slow' (the pod answers, late), not 'silent'", async () => {
    const held: Socket[] = [];
    const { server, fetcher } = await setup((_n, socket) => held.push(socket)); // every answer is sent late, below
    const first = startOne(fetcher);
    await waitFor('first request arrived', () => server.requests === 1);
    fetcher.abort(timeout());
    expect(await first.ended).toMatchObject({ reason: 'silent' });
    const second = startOne(fetcher);
    held[0]?.write(withLength(`late ${PAGE}`)); // the first's answer, late: the second goes out once it is read off
    await waitFor('second request arrived', () => server.requests === 2);
    fetcher.abort(timeout());
    expect(await second.ended).toMatchObject({ reason: 'slow' });
    // The second's answer never comes: the third, timing out with nothing heard since, is silent again.
    const third = startOne(fetcher);
    fetcher.abort(timeout());
    expect(await third.ended).toMatchObject({ reason: 'silent' });
    expect(first.body() + second.body() + third.body()).toBe('');
  });

  it('a late answer cut in two reads, after the head, is still read off and the connection reused', async () => {
    const held: Socket[] = [];
    const { server, fetcher } = await setup((n, socket) => {
      if (n === 1) {
        held.push(socket);
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${PAGE.length}\r\n\r\n${PAGE.slice(0, 10)}`);
      } else {
        socket.write(withLength(PAGE));
      }
    });
    const first = startOne(fetcher);
    // The head and the first bytes of the body read before the abort: the answer has begun.
    await waitFor('first answer begun', () => first.body() === PAGE.slice(0, 10));
    fetcher.abort(timeout());
    expect(await first.ended).toMatchObject({ reason: 'slow' }); // bytes came: late, not silent
    const second = startOne(fetcher);
    held[0]?.write(PAGE.slice(10));
    expect(await second.ended).toBeUndefined();
    expect(second.body()).toBe(PAGE);
    expect(server.connections).toBe(1);
  });

  it('a late answer still not ended when the next request times out too drops the connection; the one after opens a new one', async () => {
    // Request 1 is never answered (a hung server); request 2 never reaches the server (it waits for 1's answer).
    const { server, fetcher } = await setup((n, socket) => {
      if (n > 1) socket.write(withLength(PAGE));
    });
    const first = startOne(fetcher);
    await waitFor('first request arrived', () => server.requests === 1);
    fetcher.abort(timeout());
    expect(await first.ended).toMatchObject({ reason: 'silent' });
    const second = startOne(fetcher);
    fetcher.abort(timeout());
    expect(await second.ended).toMatchObject({ reason: 'silent' });
    await waitFor('connection dropped', () => server.sockets.size === 0);
    expect(server.requests).toBe(1);
    const third = startOne(fetcher);
    expect(await third.ended).toBeUndefined();
    expect(third.body()).toBe(PAGE);
    expect(server.connections).toBe(2);
  });

  it('a late answer that closes the connection (or breaks its framing) sends the waiting request on a new one', async () => {
    const held: Socket[] = [];
    const { server, fetcher } = await setup((n, socket) => {
      if (n === 1) held.push(socket);
      else socket.write(withLength(PAGE));
    });
    const first = startOne(fetcher);
    await waitFor('first request arrived', () => server.requests === 1);
    fetcher.abort(timeout());
    await first.ended;
    const second = startOne(fetcher);
    held[0]?.end(withLength(PAGE, 'connection: close\r\n'));
    expect(await second.ended).toBeUndefined();
    expect(second.body()).toBe(PAGE);
    expect(server.connections).toBe(2);

    // Garbage as the late answer: the connection is not trusted again.
    const third = startOne(fetcher); // on connection 2, answered at once
    expect(await third.ended).toBeUndefined();
    server.answer = (n, socket) => {
      if (n === 4) held.push(socket);
      else socket.write(withLength(PAGE));
    };
    const fourth = startOne(fetcher);
    await waitFor('fourth request arrived', () => server.requests === 4);
    fetcher.abort(timeout());
    expect(await fourth.ended).toMatchObject({ reason: 'silent' });
    const fifth = startOne(fetcher);
    held[1]?.write('this is not HTTP\r\n\r\n');
    expect(await fifth.ended).toBeUndefined();
    expect(fifth.body()).toBe(PAGE);
    expect(server.connections).toBe(3);
  });

  it('aborting a hanging request fails it with the abort reason and closes its socket', async () => {
    const { server, fetcher } = await setup(() => undefined);
    const controller = new AbortController();
    const pending = fetcher.fetch(controller.signal, { push: () => true });
    await waitFor('request arrived', () => server.requests === 1);
    controller.abort(new Error('gave up'));
    await expect(pending).rejects.toThrow('gave up');
    await waitFor('socket closed', () => server.sockets.size === 0);
  });

  it('a metrics path that is not an absolute path fails each scrape instead of throwing, and opens no connection', async () => {
    const { server } = await setup(() => undefined);
    const fetcher = new HttpMetricsFetcher({ host: '127.0.0.1', port: server.port, path: 'metrics now' });
    fetchers.push(fetcher);
    await expect(fetcher.fetch(new AbortController().signal, { push: () => true })).rejects.toMatchObject({ reason: 'other' });
    expect(server.connections).toBe(0);
  });
});
