// The standard gRPC health service (grpc.health.v1.Health: Check and Watch) on its own port.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { type INamespace } from 'protobufjs';
import { type Logger, ClosedError, FairwayError, noopLogger } from '../core/index.js';
import { EXT_PROC_SERVICE_NAME } from './protos.js';
import {
  type ListenOptions,
  DEFAULT_LISTEN_HOST,
  bindAddress,
  bindServer,
  serverCredentials,
  shutdownServer,
} from './server-credentials.js';
import { type StartedServer, DEFAULT_CLOSE_GRACE_MS } from './ext-proc-service.js';
import { isRecord, stringField } from './narrow.js';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';
type WireStatus = ServingStatus | 'SERVICE_UNKNOWN';

export const HEALTH_SERVICE_NAME = 'grpc.health.v1.Health';
/** The services answered by default: overall (''), the Kubernetes probes, and the ext_proc service. */
export const DEFAULT_HEALTH_SERVICES: readonly string[] = ['', 'liveness', 'readiness', EXT_PROC_SERVICE_NAME];

export interface HealthServiceOptions {
  /** Each starts with `initialStatus`; others can be added with setServing. @default DEFAULT_HEALTH_SERVICES */
  readonly services?: readonly string[];
  /** @default 'SERVING' */
  readonly initialStatus?: ServingStatus;
  /** @default noopLogger */
  readonly logger?: Logger;
}

/** grpc/health/v1/health.proto (the standard gRPC health protocol), as a protobufjs JSON descriptor. */
const HEALTH_PROTO_JSON: INamespace = {
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
                HealthCheckResponse: {
                  fields: { status: { type: 'ServingStatus', id: 1 } },
                  nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } },
                },
                Health: {
                  methods: {
                    Check: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse', comment: '' },
                    Watch: { requestType: 'HealthCheckRequest', responseType: 'HealthCheckResponse', responseStream: true, comment: '' },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

export function healthServiceDefinition(): grpc.ServiceDefinition {
  const pkg = protoLoader.fromJSON(HEALTH_PROTO_JSON, { keepCase: true, enums: String, defaults: true });
  const service = pkg[HEALTH_SERVICE_NAME];
  if (service === undefined || !('Check' in service)) throw new FairwayError('ERR_PROTO_LOAD', 'health proto invalid');
  return service;
}

export class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<grpc.ServerWritableStream<unknown, unknown>>>();
  private readonly logger: Logger;
  private server: grpc.Server | undefined;
  private starting: Promise<StartedServer> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: HealthServiceOptions = {}) {
    this.logger = options.logger ?? noopLogger;
    for (const name of options.services ?? DEFAULT_HEALTH_SERVICES) {
      this.statuses.set(name, options.initialStatus ?? 'SERVING');
    }
  }

  /** Sets (or adds) a service's status and notifies its watchers. */
  setServing(service: string, status: ServingStatus): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const call of this.watchers.get(service) ?? []) write(call, status);
  }

  /** Every known service at once, e.g. NOT_SERVING when shutting down. */
  setAll(status: ServingStatus): void {
    for (const service of [...this.statuses.keys()]) this.setServing(service, status);
  }

  status(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  start(listen: ListenOptions): Promise<StartedServer> {
    if (this.closing !== undefined) return Promise.reject(new ClosedError('HealthService'));
    this.starting ??= this.doStart(listen);
    return this.starting;
  }

  close(graceMs: number = DEFAULT_CLOSE_GRACE_MS): Promise<void> {
    this.closing ??= (async () => {
      await this.starting?.catch(() => undefined);
      for (const set of this.watchers.values()) for (const call of set) call.end();
      this.watchers.clear();
      if (this.server !== undefined) await shutdownServer(this.server, graceMs);
    })();
    return this.closing;
  }

  private async doStart(listen: ListenOptions): Promise<StartedServer> {
    const server = new grpc.Server();
    server.addService(healthServiceDefinition(), {
      Check: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const status = this.statuses.get(serviceName(call.request));
        if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else callback(null, { status });
      },
      Watch: (call: grpc.ServerWritableStream<unknown, unknown>) => this.watch(call),
    });
    const { credentials, certificate } = serverCredentials(listen.tls);
    const address = bindAddress(listen.host ?? DEFAULT_LISTEN_HOST, listen.port);
    try {
      const port = await bindServer(server, address, credentials);
      this.server = server;
      this.logger.info({ address, port }, 'gRPC health service listening');
      return certificate === undefined ? { port } : { port, certificate };
    } catch (err) {
      server.forceShutdown();
      throw new FairwayError('ERR_LISTEN', `health service cannot listen on ${address}`, { cause: err });
    }
  }

  private watch(call: grpc.ServerWritableStream<unknown, unknown>): void {
    const service = serviceName(call.request);
    let set = this.watchers.get(service);
    if (set === undefined) this.watchers.set(service, (set = new Set()));
    set.add(call);
    const forget = (): void => {
      set.delete(call);
      if (set.size === 0) this.watchers.delete(service);
    };
    call.on('cancelled', forget);
    call.on('close', forget);
    call.on('error', forget);
    // Per the protocol, an unknown service is watched too: SERVICE_UNKNOWN now, the real status once set.
    write(call, this.statuses.get(service) ?? 'SERVICE_UNKNOWN');
  }
}

function serviceName(request: unknown): string {
  return isRecord(request) ? (stringField(request, 'service') ?? '') : '';
}

function write(call: grpc.ServerWritableStream<unknown, unknown>, status: WireStatus): void {
  if (!call.destroyed && !call.writableEnded) call.write({ status });
}
