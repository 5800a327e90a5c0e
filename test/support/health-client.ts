// A gRPC health client (grpc.health.v1.Health/Check), as Envoy's and Kubernetes' gRPC probes use it.
import * as grpc from '@grpc/grpc-js';
import { healthServiceDefinition } from '../../src/extproc/index.js';

export { EnvoyExtProcClient } from './envoy-ext-proc-client.js';

export class HealthClientLike {
  private readonly client: grpc.Client;
  private readonly def = healthServiceDefinition();

  constructor(address: string) {
    const Ctor = grpc.makeGenericClientConstructor(this.def, 'Health');
    this.client = new Ctor(address, grpc.credentials.createInsecure());
  }

  check(service: string): Promise<string> {
    const method = this.def['Check'];
    if (method === undefined) return Promise.reject(new Error('no Check method'));
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, { service }, (err: grpc.ServiceError | null, res?: unknown) => {
        if (err !== null) reject(err);
        else resolve((res as { status: string }).status);
      });
    });
  }

  close(): void {
    this.client.close();
  }
}

export function healthCheck(client: HealthClientLike, service: string): Promise<string> {
  return client.check(service);
}
