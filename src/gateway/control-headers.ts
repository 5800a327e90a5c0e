// The request headers that steer Fairway itself (per-request TTL, TTFT objective, identity): a value that is present
// but malformed is the client's mistake, and serving the request as if the header were absent would hide it. Each
// gets a 400 naming the header and what it accepts. An empty value reads as absent.
import { HEADER_FAIRNESS_ID, HEADER_OBJECTIVE } from './contract.js';
import { MAX_HEADER_ID_LENGTH } from './request-identity.js';

export const HEADER_TTL_MS = 'x-fairway-request-ttl-ms';
export const HEADER_TTFT_SLO_MS = 'x-fairway-ttft-slo-ms';
/** Node timers cannot wait longer than 2^31-1 ms; neither TTL nor objective needs to. */
export const MAX_HEADER_MS = 2_147_483_647;

export interface ControlHeaders {
  readonly ttlMs: number | undefined;
  readonly ttftSloMs: number | undefined;
}

export type ControlHeadersResult =
  | { readonly ok: true; readonly values: ControlHeaders }
  | { readonly ok: false; readonly header: string; readonly message: string };

/** Plain decimal milliseconds: no sign, exponent, hex or `Infinity` (`Number()` would take them all). */
const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;

function milliseconds(headers: ReadonlyMap<string, string>, name: string): number | string | undefined {
  const raw = headers.get(name)?.trim();
  if (raw === undefined || raw === '') return undefined;
  const value = DECIMAL.test(raw) ? Number(raw) : Number.NaN;
  if (value > 0 && value <= MAX_HEADER_MS) return value;
  return `${name} must be a number of milliseconds in (0, ${MAX_HEADER_MS}], got ${JSON.stringify(raw.slice(0, 32))}`;
}

/**
 * Reads and checks the control headers. `identityHeaders` are the identity headers this request's identity is
 * taken from (the trusted claims, the authenticated tenant header): each must fit MAX_HEADER_ID_LENGTH, because a
 * tenant silently folded into the default flow would share its fair share with strangers. O(headers checked).
 */
export function readControlHeaders(headers: ReadonlyMap<string, string>, identityHeaders: readonly string[]): ControlHeadersResult {
  const ttl = milliseconds(headers, HEADER_TTL_MS);
  if (typeof ttl === 'string') return { ok: false, header: HEADER_TTL_MS, message: ttl };
  const slo = milliseconds(headers, HEADER_TTFT_SLO_MS);
  if (typeof slo === 'string') return { ok: false, header: HEADER_TTFT_SLO_MS, message: slo };
  for (const name of identityHeaders) {
    const length = headers.get(name)?.trim().length ?? 0;
    if (length > MAX_HEADER_ID_LENGTH) {
      return { ok: false, header: name, message: `${name} must be at most ${MAX_HEADER_ID_LENGTH} characters, got ${length}` };
    }
  }
  return { ok: true, values: { ttlMs: ttl, ttftSloMs: slo } };
}

/** The identity headers a request is identified by under `mode` (see IdentityOptions). */
export function identityHeadersOf(mode: 'trusted' | 'strip', tenantHeader: string | undefined): readonly string[] {
  const claimed = mode === 'trusted' ? [HEADER_FAIRNESS_ID, HEADER_OBJECTIVE] : [];
  return tenantHeader === undefined ? claimed : [...claimed, tenantHeader];
}
