// The status view end to end on a running FairwayServer: /status.json reflects real traffic through the proxy,
// /status/events streams snapshots about four times a second, the page and its assets are served, and the admin
// port's protection (bearer token, cookie after ?token=, hashed tenant names, its own bind address) holds.
import http from 'node:http';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StatusSnapshot, hashTenantName } from '../../../src/status/index.js';
import { type ServiceHarness, completionBody, startService, waitFor, waitForIdle, waitForScrape } from '../../support/service-harness.js';

const dispatcher = new Agent({ connections: 8 });
afterAll(() => dispatcher.close());

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers, dispatcher });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

function complete(h: ServiceHarness, tenant: string) {
  return request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-gateway-inference-fairness-id': tenant, 'x-gateway-inference-objective': 'interactive' },
    body: completionBody(),
    dispatcher,
  }).then((r) => r.body.text());
}

/** Reads Server-Sent Events from `url` until `count` snapshot events arrived; returns them with their arrival times. */
function readEvents(url: string, count: number, headers: Record<string, string> = {}): Promise<{ seq: number; at: number; snapshot: StatusSnapshot }[]> {
  return new Promise((resolve, reject) => {
    const got: { seq: number; at: number; snapshot: StatusSnapshot }[] = [];
    const req = http.get(url, { headers }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`status ${res.statusCode}`));
        res.resume();
        return;
      }
      expect(res.headers['content-type']).toContain('text/event-stream');
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map(block.split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as const));
          if (fields.get('event') !== 'snapshot') continue;
          got.push({ seq: Number(fields.get('id')), at: Date.now(), snapshot: JSON.parse(fields.get('data') ?? 'null') as StatusSnapshot });
          if (got.length === count) {
            req.destroy();
            resolve(got);
          }
        }
      });
    });
    req.on('error', (err) => {
      if (got.length < count) reject(err);
    });
  });
}

describe('status endpoints', () => {
  let h: ServiceHarness;
  let admin: string;

  beforeAll(async () => {
    h = await startService({
      replicas: 2,
      proxy: true,
      config: {
        objectives: { interactive: 10 },
        tenants: { gold: { weight: 3 } },
        flowControl: { bands: [{ priority: 10, name: 'interactive' }] },
      },
    });
    admin = `http://127.0.0.1:${h.ports.metrics}`;
    await waitForScrape(h.server, h.ids, () => true);
  });
  afterAll(() => h?.close());

  it('/status.json shows the pool, the bands, the config and the traffic that went through', async () => {
    await Promise.all([...Array.from({ length: 6 }, () => complete(h, 'gold')), ...Array.from({ length: 2 }, () => complete(h, 'lead'))]);
    await waitForIdle(h.server);
    const res = await get(`${admin}/status.json`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    const s = JSON.parse(res.text) as StatusSnapshot;
    expect(s.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(s.endpoints.list.map((e) => e.id).sort()).toEqual([...h.ids].sort());
    expect(s.endpoints.list.every((e) => e.kvCacheUsage !== null && e.scrapeAgeMs !== null && !e.stale)).toBe(true);
    expect(s.bands.find((b) => b.priority === 10)?.name).toBe('interactive');
    expect(s.config.detector).toBe('hybrid');
    expect(s.config.detectorSettings['stalenessMs']).toBe(2_000);
    expect(s.config.objectives).toEqual({ interactive: 10 });
    expect(s.outcomes.routed).toBe(8);
    expect(s.outcomes.dispatched).toBe(8);
    expect(s.tenants.byServed.map((t) => t.id).sort()).toEqual(['gold', 'lead']);
    const gold = s.tenants.byServed.find((t) => t.id === 'gold');
    expect(gold?.weight).toBe(3);
    expect(gold?.fairShare).toBeCloseTo(0.75, 4);
    expect(s.tenants.active).toBe(2);
  });

  it('counts shed requests by drop reason', async () => {
    const bad = await request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
      dispatcher,
    });
    await bad.body.text();
    expect(bad.statusCode).toBe(400);
    await waitFor('the shed request in /status.json', async () => {
      const s = JSON.parse((await get(`${admin}/status.json`)).text) as StatusSnapshot;
      return s.outcomes.shed['bad-request'] === 1;
    });
  });

  it('/status/events streams a snapshot about every 250 ms, each newer than the last', async () => {
    const events = await readEvents(`${admin}/status/events`, 6);
    const seqs = events.map((e) => e.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    expect(events.every((e) => e.snapshot.seq === e.seq)).toBe(true);
    // Five intervals of ~250 ms (generous bounds: the machine is shared).
    const span = events.at(-1)!.at - events[0]!.at;
    expect(span).toBeGreaterThan(600);
    expect(span).toBeLessThan(10_000);
    // A recent snapshot can be fetched again by its number.
    const again = await get(`${admin}/status.json?seq=${seqs.at(-1)}`);
    expect(again.status).toBe(200);
    expect((JSON.parse(again.text) as StatusSnapshot).seq).toBe(seqs.at(-1));
    expect((await get(`${admin}/status.json?seq=999999999`)).status).toBe(404);
    expect((await get(`${admin}/status.json?seq=x`)).status).toBe(400);
    await waitFor('the stream to be closed', () => h.server.status.subscribers === 0);
  });

  it('serves the page and its assets from the package, nothing from elsewhere', async () => {
    const page = await get(`${admin}/status`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    // Inline data: URLs (the empty favicon) load nothing.
    const srcs = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '').filter((u) => !u.startsWith('data:'));
    expect(srcs.length).toBeGreaterThanOrEqual(3);
    for (const src of srcs) {
      expect(src.startsWith('/status/assets/')).toBe(true);
      const asset = await get(`${admin}${src}`);
      expect(asset.status).toBe(200);
      expect(asset.text.length).toBeGreaterThan(100);
    }
    expect((await get(`${admin}/status/assets/nope.js`)).status).toBe(404);
    expect((await get(`${admin}/`)).status).toBe(302);
  });
});

describe('admin port protection', () => {
  let h: ServiceHarness;
  const token = 'correct horse battery staple';

  beforeAll(async () => {
    h = await startService({
      replicas: 1,
      proxy: true,
      config: { server: { admin: { token, hashTenantNames: true, host: '127.0.0.2' } } },
    });
    await waitForScrape(h.server, h.ids, () => true);
  });
  afterAll(() => h?.close());

  const admin = (): string => `http://127.0.0.2:${h.ports.metrics}`;

  it('binds the admin port to its own address', async () => {
    expect((await get(`${admin()}/healthz`)).status).toBe(200);
    // Nothing of ours on 127.0.0.1 at that port: the connection is refused, or (when another test's server happens
    // to hold the same port number there) whatever answers is not this token-protected admin server.
    const other = await get(`http://127.0.0.1:${h.ports.metrics}/metrics`).catch(() => undefined);
    if (other !== undefined) expect(other.status === 401 && String(other.headers['www-authenticate']).includes('Bearer')).toBe(false);
  });

  it('needs the token for /metrics and /status, keeps the probes open', async () => {
    for (const path of ['/metrics', '/status', '/status.json', '/status/events', '/status/assets/app.js']) {
      const res = await get(`${admin()}${path}`);
      expect(res.status, path).toBe(401);
      expect(res.headers['www-authenticate']).toContain('Bearer');
    }
    expect((await get(`${admin()}/metrics`, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await get(`${admin()}/metrics`, { authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await get(`${admin()}/healthz`)).status).toBe(200);
    expect((await get(`${admin()}/readyz`)).status).toBe(200);
  });

  it('lets a browser in with ?token= once: a cookie, and the token taken out of the URL', async () => {
    const first = await get(`${admin()}/status?token=${encodeURIComponent(token)}`);
    expect(first.status).toBe(303);
    expect(first.headers['location']).toBe('/status');
    const cookie = String(first.headers['set-cookie']).split(';')[0] ?? '';
    expect(String(first.headers['set-cookie'])).toContain('HttpOnly');
    expect((await get(`${admin()}/status`, { cookie })).status).toBe(200);
    expect((await get(`${admin()}/status.json`, { cookie })).status).toBe(200);
    const events = await readEvents(`${admin()}/status/events`, 1, { cookie });
    expect(events[0]?.snapshot.config.tenantNames).toBe('hashed');
    expect((await get(`${admin()}/status.json`, { cookie: 'fairway_admin_token=nope' })).status).toBe(401);
  });

  it('hides tenant names on the status view and in metric labels when asked', async () => {
    await request(`http://127.0.0.1:${h.ports.proxy}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gateway-inference-fairness-id': 'secret-customer' },
      body: completionBody(),
      dispatcher,
    }).then((r) => r.body.text());
    await waitForIdle(h.server);
    const auth = { authorization: `Bearer ${token}` };
    let status = '';
    // Reads within 100 ms share one snapshot: wait for one built after the request ended.
    await waitFor('the served tenant on /status.json', async () => {
      status = (await get(`${admin()}/status.json`, auth)).text;
      return (JSON.parse(status) as StatusSnapshot).tenants.byServed.length > 0;
    });
    const metrics = (await get(`${admin()}/metrics`, auth)).text;
    expect(status).not.toContain('secret-customer');
    expect(metrics).not.toContain('secret-customer');
    expect((JSON.parse(status) as StatusSnapshot).tenants.byServed.map((t) => t.id)).toEqual([hashTenantName('secret-customer')]);
    expect(metrics).toContain(`fairness_id="${hashTenantName('secret-customer')}"`);
  });
});
