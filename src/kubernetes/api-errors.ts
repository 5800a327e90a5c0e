// What went wrong talking to the API server, from the shapes the client throws: ApiException (`code`, Status
// `body`) for API calls, an Error with `statusCode` for watch requests, a FetchError or system error when the
// server cannot be reached. Classified once here so every adapter reacts the same way.
import { FairwayError } from '../core/index.js';

export type ApiErrorKind = 'forbidden' | 'unauthorized' | 'not-found' | 'conflict' | 'gone' | 'unreachable' | 'other';

export interface ClassifiedError {
  readonly kind: ApiErrorKind;
  /** HTTP status when the server answered. */
  readonly status: number | undefined;
  /** The server's Status message, or the error's own. */
  readonly message: string;
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
}

function statusMessage(body: unknown): string | undefined {
  const parsed = typeof body === 'string' ? safeJson(body) : body;
  const message = record(parsed)?.message;
  return typeof message === 'string' ? message : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function classifyApiError(err: unknown): ClassifiedError {
  const e = record(err);
  const code = typeof e?.code === 'number' ? e.code : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  const own = err instanceof Error ? err.message : String(err);
  if (code !== undefined) {
    const message = statusMessage(e?.body) ?? own;
    const kind: ApiErrorKind =
      code === 403 ? 'forbidden'
      : code === 401 ? 'unauthorized'
      : code === 404 ? 'not-found'
      : code === 409 ? 'conflict'
      : code === 410 ? 'gone'
      : code >= 500 || code === 429 ? 'unreachable'
      : 'other';
    return { kind, status: code, message };
  }
  // No HTTP answer at all: refused, reset, DNS, TLS, timeout.
  return { kind: 'unreachable', status: undefined, message: own };
}

/** The service account lacks a permission: fatal at start, with the verb and resource named. */
export class KubernetesPermissionError extends FairwayError {
  constructor(
    readonly verb: string,
    readonly resource: string,
    readonly namespace: string,
    detail: string,
  ) {
    super(
      'ERR_KUBERNETES_FORBIDDEN',
      `Kubernetes RBAC: not allowed to ${verb} ${resource} in namespace "${namespace}" (${detail}); ` +
        `grant the verb "${verb}" on "${resource}" to Fairway's service account (see deploy/manifests/rbac.yaml)`,
    );
  }
}

/** A resource Fairway needs is not served by the API server (its CRD is not installed) or does not exist. */
export class KubernetesResourceMissingError extends FairwayError {
  constructor(what: string, detail: string) {
    super('ERR_KUBERNETES_MISSING', `${what} (${detail})`);
  }
}
