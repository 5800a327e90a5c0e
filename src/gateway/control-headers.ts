// The request headers that steer Fairway itself (per-request TTL, TTFT objective, identity, model rewrite), under
// Fairway's names and under the names llm-d-router and the Gateway API Inference Extension use for the same thing.
// Every alias goes through the same trust rules and the same checks as the name it stands for, so a client cannot
// slip past either by picking the other spelling. A value that is present but malformed is the client's mistake,
// and serving the request as if the header were absent would hide it: each gets a 400 naming the header (as sent)
// and what it accepts. An empty value reads as absent.
import { MAX_HEADER_ID_LENGTH } from './request-identity.js';

export const HEADER_TTL_MS = 'x-fairway-request-ttl-ms';
export const HEADER_TTFT_SLO_MS = 'x-fairway-ttft-slo-ms';
/** Node timers cannot wait longer than 2^31-1 ms; neither TTL nor objective needs to. */
export const MAX_HEADER_MS = 2_147_483_647;

/** A control header: the names it may arrive under, the one that wins first. */
export interface ControlHeader {
  /** What it controls, for error messages. */
  readonly label: string;
  /** Lower-cased names in precedence order: when several are present, the first non-empty one is read. */
  readonly names: readonly string[];
}

/**
 * Precedence follows llm-d-router, where the `x-llm-d-*` names are current and the `x-gateway-*` names are the
 * deprecated aliases: a request carrying both is read as llm-d-router would read it. Fairway's own TTFT name
 * comes after the llm-d name and before the older `x-slo-ttft-ms` alias.
 */
export const CONTROL_HEADERS = {
  objective: { label: 'objective', names: ['x-llm-d-inference-objective', 'x-gateway-inference-objective'] },
  fairnessId: { label: 'fairness id', names: ['x-llm-d-inference-fairness-id', 'x-gateway-inference-fairness-id'] },
  modelRewrite: { label: 'model rewrite', names: ['x-llm-d-model-name-rewrite', 'x-gateway-model-name-rewrite'] },
  ttftSloMs: { label: 'TTFT SLO', names: ['x-llm-d-slo-ttft-ms', HEADER_TTFT_SLO_MS, 'x-slo-ttft-ms'] },
  ttlMs: { label: 'request TTL', names: [HEADER_TTL_MS] },
} as const satisfies Record<string, ControlHeader>;

/** The header actually read for `header`: the name it came under and its trimmed value; undefined when absent. */
export function readControlHeader(
  headers: ReadonlyMap<string, string>,
  header: ControlHeader,
): { readonly name: string; readonly value: string } | undefined {
  for (const name of header.names) {
    const value = headers.get(name)?.trim();
    if (value !== undefined && value !== '') return { name, value };
  }
  return undefined;
}

/** Just the value of {@link readControlHeader}. */
export function controlHeaderValue(headers: ReadonlyMap<string, string>, header: ControlHeader): string | undefined {
  return readControlHeader(headers, header)?.value;
}

export interface ControlHeaders {
  readonly ttlMs: number | undefined;
  readonly ttftSloMs: number | undefined;
}

export type ControlHeadersResult =
  | { readonly ok: true; readonly values: ControlHeaders }
  | { readonly ok: false; readonly header: string; readonly message: string };

/** Plain decimal milliseconds: no sign, exponent, hex or `Infinity` (`Number()` would take them all). */
const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;

function milliseconds(headers: ReadonlyMap<string, string>, header: ControlHeader): number | { name: string; message: string } | undefined {
  const read = readControlHeader(headers, header);
  if (read === undefined) return undefined;
  const value = DECIMAL.test(read.value) ? Number(read.value) : Number.NaN;
  if (value > 0 && value <= MAX_HEADER_MS) return value;
  return {
    name: read.name,
    message: `${read.name} must be a number of milliseconds in (0, ${MAX_HEADER_MS}], got ${JSON.stringify(read.value.slice(0, 32))}`,
  };
}

/**
 * Reads and checks the control headers. `identityHeaders` are the identity headers this request's identity is
 * taken from (the trusted claims under every alias, the authenticated tenant header): each must fit
 * MAX_HEADER_ID_LENGTH, because a tenant silently folded into the default flow would share its fair share with
 * strangers. O(headers checked).
 */
export function readControlHeaders(headers: ReadonlyMap<string, string>, identityHeaders: readonly string[]): ControlHeadersResult {
  const ttl = milliseconds(headers, CONTROL_HEADERS.ttlMs);
  if (typeof ttl === 'object') return { ok: false, header: ttl.name, message: ttl.message };
  const slo = milliseconds(headers, CONTROL_HEADERS.ttftSloMs);
  if (typeof slo === 'object') return { ok: false, header: slo.name, message: slo.message };
  for (const name of identityHeaders) {
    const length = headers.get(name)?.trim().length ?? 0;
    if (length > MAX_HEADER_ID_LENGTH) {
      return { ok: false, header: name, message: `${name} must be at most ${MAX_HEADER_ID_LENGTH} characters, got ${length}` };
    }
  }
  return { ok: true, values: { ttlMs: ttl, ttftSloMs: slo } };
}

/** The identity headers a request is identified by under `mode` (see IdentityOptions), every alias included. */
export function identityHeadersOf(mode: 'trusted' | 'strip', tenantHeader: string | undefined): readonly string[] {
  const claimed = mode === 'trusted' ? [...CONTROL_HEADERS.fairnessId.names, ...CONTROL_HEADERS.objective.names] : [];
  return tenantHeader === undefined ? claimed : [...claimed, tenantHeader];
}
