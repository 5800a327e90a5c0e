// Child process for the proxy benchmark: model-server stand-ins that cost nothing to think about. Each port
// answers /metrics with an idle vLLM (so Fairway routes freely) and any other request, once its body is read,
// with a small OpenAI-style JSON carrying usage. Reports its ports over IPC.
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

const METRICS = [
  'vllm:num_requests_waiting{model_name="bench-model"} 0',
  'vllm:num_requests_running{model_name="bench-model"} 0',
  'vllm:kv_cache_usage_perc{model_name="bench-model"} 0.05',
  'vllm:cache_config_info{block_size="16",num_gpu_blocks="29205"} 1',
  '',
].join('\n');
const ANSWER = JSON.stringify({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });

async function main(count: number): Promise<void> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer((req, res) => {
      // By path: Fairway's scrapes carry name[] query parameters, which this page (all families in use) ignores.
      if (req.url === '/metrics' || req.url?.startsWith('/metrics?') === true) {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(METRICS);
        return;
      }
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(ANSWER.length) });
        res.end(ANSWER);
      });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ports.push((server.address() as AddressInfo).port);
  }
  process.on('message', (m: unknown) => {
    if (m === 'exit') process.exit(0);
  });
  process.send?.({ ports });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(Number(process.argv[2] ?? 4));
}
