// The proxy baseline: a bare Node reverse proxy that reads the body, parses the JSON once (reading `model`),
// forwards it whole to a fixed upstream with undici and relays the answer. No pipeline, flow control or scheduler.
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { Agent } from 'undici';

export async function startBareProxy(upstream: string): Promise<{ port: number; close: () => Promise<void> }> {
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const parsed = JSON.parse(body.toString('utf8')) as { model?: unknown };
      if (typeof parsed.model !== 'string') {
        res.writeHead(400).end();
        return;
      }
      agent
        .request({ origin: `http://${upstream}`, path: req.url ?? '/', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, body })
        .then(async (r) => {
          res.writeHead(r.statusCode, { 'content-type': String(r.headers['content-type'] ?? 'application/json') });
          for await (const chunk of r.body) res.write(chunk as Buffer);
          res.end();
        })
        .catch(() => res.destroy());
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await agent.close();
    },
  };
}
