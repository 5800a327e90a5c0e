// The gRPC health service on its own port, and ext_proc over self-signed TLS.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ExtProcService, HealthService, healthServiceDefinition } from '../../../src/extproc/index.js';
import { EnvoyExtProcClient } from '../../support/envoy-ext-proc-client.js';
import { routesToFixedEndpoint } from '../../support/fake-request-handlers.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function healthClient(port: number) {
  const def = healthServiceDefinition();
  const Ctor = grpc.makeGenericClientConstructor(def, 'Health');
  const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanup.push(async () => client.close());
  const check = (service: string) =>
    new Promise<{ status?: string; code?: grpc.status }>((resolve) => {
      client.makeUnaryRequest(
        def['Check']!.path,
        def['Check']!.requestSerialize,
        def['Check']!.responseDeserialize,
        { service },
        (err: grpc.ServiceError | null, res?: unknown) =>
          resolve(err !== null ? { code: err.code } : { status: (res as { status: string }).status }),
      );
    });
  const watch = (service: string) =>
    client.makeServerStreamRequest(def['Watch']!.path, def['Watch']!.requestSerialize, def['Watch']!.responseDeserialize, {
      service,
    });
  return { check, watch };
}

describe('HealthService', () => {
  it('answers Check for "", liveness, readiness and the ext_proc service; NOT_FOUND otherwise', async () => {
    const health = new HealthService();
    const { port } = await health.start({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => health.close(100));
    const { check } = healthClient(port);
    for (const s of ['', 'liveness', 'readiness', 'envoy.service.ext_proc.v3.ExternalProcessor']) {
      expect(await check(s)).toEqual({ status: 'SERVING' });
    }
    expect(await check('nope')).toEqual({ code: grpc.status.NOT_FOUND });
    health.setServing('readiness', 'NOT_SERVING');
    expect(await check('readiness')).toEqual({ status: 'NOT_SERVING' });
  });

  it('streams status changes to Watch, including for a service unknown at first', async () => {
    const health = new HealthService();
    const { port } = await health.start({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => health.close(100));
    const { watch } = healthClient(port);
    const seen: string[] = [];
    const call = watch('later');
    call.on('data', (m: { status: string }) => seen.push(m.status));
    call.on('error', () => undefined);
    await expect.poll(() => seen).toEqual(['SERVICE_UNKNOWN']);
    health.setServing('later', 'SERVING');
    health.setAll('NOT_SERVING');
    await expect.poll(() => seen).toEqual(['SERVICE_UNKNOWN', 'SERVING', 'NOT_SERVING']);
    call.cancel();
  });
});

describe('ExtProcService TLS', () => {
  it('serves over a self-signed certificate generated at start', async () => {
    const service = new ExtProcService({ handler: routesToFixedEndpoint('10.0.0.1:8000') });
    const started = await service.start({ host: '127.0.0.1', port: 0, tls: 'self-signed' });
    cleanup.push(() => service.close(100));
    expect(started.certificate?.cert).toContain('BEGIN CERTIFICATE');
    const client = new EnvoyExtProcClient(`localhost:${started.port}`, { rootCert: started.certificate!.cert });
    cleanup.push(async () => client.close());
    const ex = await client.sendRequest({ bodyChunks: ['{"model":"m"}'] });
    expect(ex.setHeaders.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000');
    ex.stream.end();
  });
});
