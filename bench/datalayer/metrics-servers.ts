// Child process for the scrape benchmark: N tiny HTTP servers on 127.0.0.1 serving a vLLM metrics page, kept
// out of the measuring process so its CPU time is the scraper's alone. Reports ports over IPC.
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { vllmMetricsPage } from './vllm-metrics-page.js';

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? '100');
  const page = Buffer.from(vllmMetricsPage());
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': page.length });
      res.end(page);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ports.push((server.address() as AddressInfo).port);
  }
  process.send?.({ ports, pageBytes: page.length });
  process.on('disconnect', () => process.exit(0));
}

void main();
