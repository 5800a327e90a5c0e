// Session affinity (llm-d's `session-affinity-scorer`, its encoded-endpoint-header strategy): a conversation stays on
// the endpoint that served its last turn. The response carries an opaque token naming that endpoint; the client
// sends it back with the next turn, and this scorer prefers that endpoint while it is fresh and has headroom.
import { type EndpointSnapshot, hasHeadroom } from '../../datalayer/index.js';
import { type Scorer, type SchedulingContext } from '../types.js';

export const SESSION_AFFINITY_SCORER = 'session-affinity-scorer';
/** llm-d's default header, in both directions. */
export const DEFAULT_SESSION_HEADER = 'x-session-token';
/** A token longer than this names no endpoint (endpoint ids are host:port). */
const MAX_TOKEN_LENGTH = 512;

/** The token for `endpointId`: base64 of the id, as llm-d encodes its pod name. */
export function encodeSessionToken(endpointId: string): string {
  return Buffer.from(endpointId, 'utf8').toString('base64');
}

/** The endpoint id a token names, or undefined when it is not one we could have issued. */
export function decodeSessionToken(token: string | undefined): string | undefined {
  if (token === undefined || token === '' || token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return undefined;
  const id = Buffer.from(token, 'base64').toString('utf8');
  return id === '' || id.includes('\uFFFD') ? undefined : id;
}

export interface SessionAffinityOptions {
  /** Request header the client returns the token in, and response header it is issued in. @default x-session-token */
  readonly header?: string;
}

/**
 * 1 for the endpoint the request's token names while that endpoint's metrics are fresh and (when the saturation
 * detector's view is in the context) it has headroom; 0 for every other candidate, and for all when there is no
 * valid token. A saturated or stale endpoint thus lets the conversation move, and the next response's token
 * follows it to its new endpoint. O(candidates).
 */
export class SessionAffinityScorer implements Scorer {
  readonly type = SESSION_AFFINITY_SCORER;
  readonly sessionHeader: string;

  constructor(options: SessionAffinityOptions = {}) {
    this.sessionHeader = (options.header ?? DEFAULT_SESSION_HEADER).trim().toLowerCase();
  }

  score(ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void {
    const pinned = decodeSessionToken(ctx.request.headers?.get(this.sessionHeader));
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i];
      out[i] = pinned !== undefined && c !== undefined && c.id === pinned && usable(ctx, c) ? 1 : 0;
    }
  }
}

function usable(ctx: SchedulingContext, c: EndpointSnapshot): boolean {
  if (c.stale) return false;
  return ctx.saturation === undefined || hasHeadroom(ctx.saturation, c.id);
}
