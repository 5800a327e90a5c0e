// A TCP forwarder on a 127.0.0.1 ephemeral port in front of a server. Closing its door refuses new connections
// while the ones already open keep working: a pod that just died, as Fairway sees it between two scrapes (its
// keep-alive scrape connection still answers, a new connection is refused), without depending on when the
// next scrape comes.
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

export class Doorway {
  readonly host = '127.0.0.1';
  port = 0;
  /** Connections accepted so far (the scraper's, the model poller's, the proxy's). */
  accepted = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.server = createServer((client) => {
      this.accepted++;
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).on('close', () => client.destroy());
      upstream.pipe(client).on('close', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  get id(): string {
    return `${this.host}:${this.port}`;
  }

  async open(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, this.host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Stops accepting (new connections are refused); open connections go on. */
  closeDoor(): void {
    this.server.close();
  }

  /** Closes everything. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
  }
}
