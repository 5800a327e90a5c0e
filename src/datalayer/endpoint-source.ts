// Endpoint source port (where the pool's members come from) and its static-list implementation;
// a Kubernetes watcher will implement the same port later.
import { InvalidArgumentError, requireIntegerInRange, requireNonEmptyString } from '../core/index.js';
import { endpointId } from './endpoint.js';
import { type EngineName, ENGINE_NAMES } from './engine-metrics.js';

/** One model server to route to and scrape. */
export interface EndpointSpec {
  readonly host: string;
  readonly port: number;
  readonly labels?: Readonly<Record<string, string>>;
  /** Which metric names to read. @default the monitor's default engine */
  readonly engine?: EngineName;
  /** @default the monitor's metrics path */
  readonly metricsPath?: string;
}

/**
 * Delivers the full member list, now and after every change. Full lists (not deltas) keep implementations
 * trivially correct after a resync; the consumer diffs by endpoint id.
 */
export interface EndpointSource {
  /** Calls `listener` with the current list (synchronously or soon) and on every change; returns unsubscribe. */
  subscribe(listener: (endpoints: readonly EndpointSpec[]) => void): () => void;
}

/** Checks one spec and returns a frozen copy; throws InvalidArgumentError naming the field. */
export function validateEndpointSpec(spec: EndpointSpec, field = 'endpoint'): EndpointSpec {
  requireNonEmptyString(`${field}.host`, spec.host);
  requireIntegerInRange(`${field}.port`, spec.port, 1, 65_535);
  if (spec.engine !== undefined && !ENGINE_NAMES.includes(spec.engine)) {
    throw new InvalidArgumentError(`${field}.engine`, spec.engine, `one of ${ENGINE_NAMES.join(', ')}`);
  }
  if (spec.metricsPath !== undefined && !spec.metricsPath.startsWith('/')) {
    throw new InvalidArgumentError(`${field}.metricsPath`, spec.metricsPath, 'a path starting with "/"');
  }
  return Object.freeze({ ...spec, labels: Object.freeze({ ...(spec.labels ?? {}) }) });
}

/** A fixed list from config; `set()` replaces it at runtime (config reload, tests). */
export class StaticEndpointSource implements EndpointSource {
  private endpoints: readonly EndpointSpec[];
  private readonly listeners = new Set<(endpoints: readonly EndpointSpec[]) => void>();

  constructor(endpoints: readonly EndpointSpec[]) {
    this.endpoints = StaticEndpointSource.check(endpoints);
  }

  subscribe(listener: (endpoints: readonly EndpointSpec[]) => void): () => void {
    this.listeners.add(listener);
    listener(this.endpoints);
    return () => {
      this.listeners.delete(listener);
    };
  }

  set(endpoints: readonly EndpointSpec[]): void {
    this.endpoints = StaticEndpointSource.check(endpoints);
    for (const listener of [...this.listeners]) listener(this.endpoints);
  }

  current(): readonly EndpointSpec[] {
    return this.endpoints;
  }

  private static check(endpoints: readonly EndpointSpec[]): readonly EndpointSpec[] {
    const seen = new Set<string>();
    const out: EndpointSpec[] = [];
    endpoints.forEach((spec, i) => {
      const valid = validateEndpointSpec(spec, `endpoints[${i}]`);
      const id = endpointId(valid.host, valid.port);
      if (seen.has(id)) throw new InvalidArgumentError(`endpoints[${i}]`, id, 'a unique host:port');
      seen.add(id);
      out.push(valid);
    });
    return Object.freeze(out);
  }
}
