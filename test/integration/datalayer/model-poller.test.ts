// The model poller against real HTTP servers on 127.0.0.1 ephemeral ports: listings are learnt and followed as
// they change, a server without a listing (404, not JSON) is unknown, a server going down keeps its last
// listing, a hanging one times out, and an endpoint leaving the pool takes its listing with it.
import { type Server, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpModelListClient, ModelPoller, StaticEndpointSource } from '../../../src/datalayer/index.js';
import { generateSelfSignedCertificate } from '../../../src/extproc/index.js';
import { waitFor } from '../../support/service-harness.js';

type Behaviour = { kind: 'list'; models: { id: string; parent?: string }[] } | { kind: 'status'; code: number } | { kind: 'text'; body: string } | { kind: 'hang' };

class ModelsServer {
  behaviour: Behaviour = { kind: 'list', models: [] };
  paths: string[] = [];
  readonly server: Server;
  port = 0;

  constructor() {
    this.server = createServer((req, res) => {
      this.paths.push(req.url ?? '');
      const b = this.behaviour;
      if (b.kind === 'list') res.end(JSON.stringify({ object: 'list', data: b.models.map((m) => ({ id: m.id, object: 'model', parent: m.parent ?? null })) }));
      else if (b.kind === 'status') res.writeHead(b.code).end('{"detail":"nope"}');
      else if (b.kind === 'text') res.end(b.body);
      // hang: never answer
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const servers: ModelsServer[] = [];
let poller: ModelPoller | undefined;

afterEach(async () => {
  await poller?.close();
  poller = undefined;
  await Promise.all(servers.splice(0).map((s) => s.stop().catch(() => undefined)));
});

async function serve(behaviour: Behaviour): Promise<ModelsServer> {
  const s = await new ModelsServer().start();
  s.behaviour = behaviour;
  servers.push(s);
  return s;
}

const id = (s: ModelsServer): string => `127.0.0.1:${s.port}`;
const spec = (s: ModelsServer) => ({ host: '127.0.0.1', port: s.port });

describe('ModelPoller over HTTP', () => {
  it('learns each listing, follows changes, and forgets an endpoint that leaves the pool', async () => {
    const a = await serve({ kind: 'list', models: [{ id: 'llama' }, { id: 'sql', parent: 'llama' }] });
    const b = await serve({ kind: 'list', models: [{ id: 'qwen' }] });
    const source = new StaticEndpointSource([spec(a), spec(b)]);
    let changes = 0;
    poller = new ModelPoller({ source, intervalMs: 50, onChange: () => changes++ });
    poller.start();
    await waitFor('both listings', () => poller?.of(id(a)) !== undefined && poller.of(id(b)) !== undefined);
    expect([...(poller.of(id(a))?.bases ?? [])]).toEqual(['llama']);
    expect(poller.of(id(a))?.adapters.get('sql')).toBe('llama');
    expect(a.paths.every((p) => p === '/v1/models')).toBe(true);
    const seen = changes;
    b.behaviour = { kind: 'list', models: [{ id: 'qwen' }, { id: 'qwen-coder' }] };
    await waitFor('the new model of b', () => poller?.of(id(b))?.bases.has('qwen-coder') === true);
    expect(changes).toBeGreaterThan(seen);
    // Unchanged listings publish nothing.
    const settled = changes;
    const polls = b.paths.length;
    await waitFor('two more polls of b', () => b.paths.length >= polls + 2);
    expect(changes).toBe(settled);
    source.set([spec(b)]);
    expect(poller.of(id(a))).toBeUndefined();
    expect(changes).toBe(settled + 1);
  });

  it('a server without a usable listing is unknown; one that goes down keeps its last listing', async () => {
    const missing = await serve({ kind: 'status', code: 404 });
    const garbage = await serve({ kind: 'text', body: '<html>models</html>' });
    const flaky = await serve({ kind: 'list', models: [{ id: 'llama' }] });
    poller = new ModelPoller({ source: new StaticEndpointSource([spec(missing), spec(garbage), spec(flaky)]), intervalMs: 50 });
    poller.start();
    await waitFor('the flaky server listed and the others polled', () => poller?.of(id(flaky)) !== undefined && missing.paths.length >= 2 && garbage.paths.length >= 2);
    expect(poller.of(id(missing))).toBeUndefined();
    expect(poller.of(id(garbage))).toBeUndefined();
    // Down: its models did not change because it stopped answering.
    const port = flaky.port;
    await flaky.stop();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect([...(poller.of(`127.0.0.1:${port}`)?.bases ?? [])]).toEqual(['llama']);
    // A listing that turns into a 404 is dropped (the server says it has none now).
    missing.behaviour = { kind: 'list', models: [{ id: 'm' }] };
    await waitFor('the listing of the former 404', () => poller?.of(id(missing)) !== undefined);
    missing.behaviour = { kind: 'status', code: 404 };
    await waitFor('the listing dropped again', () => poller?.of(id(missing)) === undefined);
  });

  it('a hanging server times out and is asked again', async () => {
    const hang = await serve({ kind: 'hang' });
    poller = new ModelPoller({ source: new StaticEndpointSource([spec(hang)]), intervalMs: 30, timeoutMs: 100 });
    poller.start();
    await waitFor('a second poll after the timeout', () => hang.paths.length >= 2, 3_000);
    hang.behaviour = { kind: 'list', models: [{ id: 'late' }] };
    await waitFor('the listing once it answers', () => poller?.of(id(hang))?.bases.has('late') === true, 3_000);
  });
});

describe('ModelPoller against a secured model server', () => {
  const tls = generateSelfSignedCertificate({ ipAddresses: ['127.0.0.1'] });

  it('lists over HTTPS with the scrape settings (CA, bearer token); without the token the server is unknown', async () => {
    let refused = 0;
    const server = createHttpsServer({ cert: tls.cert, key: tls.key }, (req, res) => {
      if (req.headers.authorization !== 'Bearer s3cret') {
        refused++;
        res.writeHead(401).end('{"error":"unauthorized"}');
        return;
      }
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'llama', object: 'model', parent: null }] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const source = new StaticEndpointSource([{ host: '127.0.0.1', port }]);
    const anonymous = new ModelPoller({ source, intervalMs: 50, client: new HttpModelListClient({ scheme: 'https', tls: { ca: tls.cert } }) });
    try {
      poller = new ModelPoller({ source, intervalMs: 50, client: new HttpModelListClient({ scheme: 'https', tls: { ca: tls.cert }, bearerToken: () => 's3cret' }) });
      poller.start();
      anonymous.start();
      await waitFor('the listing over https', () => poller?.of(`127.0.0.1:${port}`) !== undefined);
      await waitFor('an answer to the poller without the token', () => refused > 0);
      expect([...(poller.of(`127.0.0.1:${port}`)?.bases ?? [])]).toEqual(['llama']);
      expect(anonymous.of(`127.0.0.1:${port}`)).toBeUndefined();
    } finally {
      await anonymous.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
