// Item 8 of the drop-in issue: a weighted rewrite split over a multi-model pool, through both front ends against
// the simulator. One public name splits exactly 3:1 over two base models served by different replicas; across the
// proxy and ext_proc together each window of 4 requests gives each target its weight, every request lands on a
// replica serving its target (the simulator 404s any other model), and ext_proc forwards the rewritten body with
// x-gateway-model-name naming the target.
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceHarness, completionBody, inferenceHeaders, startService, waitFor, waitForScrape } from '../../support/service-harness.js';

let h: ServiceHarness;
const dispatcher = new Agent({ connections: 8 });

beforeAll(async () => {
  h = await startService({
    replicas: 3,
    proxy: true,
    models: [{ model: 'llama-8b' }, { model: 'qwen-7b' }, { model: 'llama-8b' }],
    config: {
      pool: { models: { intervalMs: 200 } },
      modelRewrites: [
        {
          name: 'chat-split',
          rules: [{ matches: [{ model: { value: 'chat' } }], targets: [{ modelRewrite: 'llama-8b', weight: 3 }, { modelRewrite: 'qwen-7b', weight: 1 }] }],
        },
      ],
    },
  });
  await waitForScrape(h.server, h.ids, () => true);
  await waitFor('every replica\'s model listing', () => h.ids.every((id) => h.server.models?.of(id) !== undefined), 10_000);
});

afterAll(async () => {
  await dispatcher.close();
  await h?.close();
});

const servers = (model: string): string[] => h.ids.filter((id) => h.server.models?.of(id)?.bases.has(model) === true);

async function viaProxy(): Promise<string> {
  const res = await request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
    method: 'POST',
    headers: inferenceHeaders('split-tenant'),
    body: completionBody({ model: 'chat', max_tokens: 2 }),
    dispatcher,
  });
  const body = (await res.body.json()) as { model?: string };
  expect(res.statusCode, JSON.stringify(body)).toBe(200);
  return String(body.model);
}

async function viaExtProc(): Promise<string> {
  const ex = await h.client.sendRequest({ headers: inferenceHeaders('split-tenant'), bodyChunks: [completionBody({ model: 'chat' })] });
  expect(ex.immediate).toBeUndefined();
  const target = ex.setHeaders.get('x-gateway-model-name') as string;
  expect((JSON.parse(ex.body.toString('utf8')) as { model: string }).model).toBe(target);
  expect(servers(target)).toContain(ex.setHeaders.get('x-gateway-destination-endpoint'));
  await ex.stream.sendResponse({ bodyChunks: ['{}'] });
  ex.stream.end();
  return target;
}

describe('a weighted rewrite split over a multi-model pool, both front ends', () => {
  it('gives each target exactly its weight in every window of 4, each served by a replica of its target', async () => {
    expect(servers('llama-8b')).toHaveLength(2);
    expect(servers('qwen-7b')).toHaveLength(1);
    const windows: string[][] = [];
    for (let w = 0; w < 3; w++) {
      // Alternate front ends inside each window: the split is one sequence for the rule, whoever asks.
      const window = [await viaProxy(), await viaExtProc(), await viaProxy(), await viaExtProc()];
      windows.push(window);
    }
    for (const window of windows) {
      expect(window.filter((m) => m === 'llama-8b'), window.join()).toHaveLength(3);
      expect(window.filter((m) => m === 'qwen-7b'), window.join()).toHaveLength(1);
    }
  });
});
