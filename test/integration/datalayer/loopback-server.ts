// An HTTP(S) server on a 127.0.0.1 ephemeral port for the scraping tests: a replaceable handler, counts of
// requests and of requests in progress at once, and the open sockets (to check connections close).
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, type Server as NetServer, type Socket } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A server on a 127.0.0.1 ephemeral port that keeps its open sockets, so closing it also cuts kept-alive ones. */
export abstract class LoopbackListener<S extends NetServer> {
  readonly sockets = new Set<Socket>();
  abstract readonly server: S;
  port = 0;

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export class LoopbackServer extends LoopbackListener<Server> {
  requests = 0;
  active = 0;
  maxActive = 0;
  readonly server: Server;

  constructor(
    public handler: Handler,
    tls?: { cert: string; key: string },
  ) {
    super();
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      this.requests++;
      this.active++;
      this.maxActive = Math.max(this.maxActive, this.active);
      res.on('close', () => this.active--);
      this.handler(req, res);
    };
    this.server = tls === undefined ? createServer(onRequest) : createHttpsServer(tls, onRequest);
    this.server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }
}

/** Polls a condition until it holds; the deadline only bounds a failing test, it asserts no timing. */
export async function waitFor(what: string, condition: () => boolean, deadlineMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > deadlineMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
