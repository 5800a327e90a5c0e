// Session affinity (llm-d's `session-affinity-scorer`, its encoded-endpoint-header strategy): a conversation stays on
// the endpoint that served its last turn. The response carries an opaque token naming that endpoint; the client
// sends it back with the next turn, and this scorer prefers that endpoint while it is fresh and has headroom. The
// token is a hash of the endpoint's address (keyed when a secret is configured), never the address itself.
import { createHash, createHmac } from 'node:crypto';
import { type EndpointSnapshot, hasHeadroom } from '../../datalayer/index.js';
import { type Scorer, type ScorerSession, type SchedulingContext } from '../types.js';

export const SESSION_AFFINITY_SCORER = 'session-affinity-scorer';
/** llm-d's default header, in both directions. */
export const DEFAULT_SESSION_HEADER = 'x-session-token';
/** A token longer than this names no endpoint (endpoint ids are host:port). */
const MAX_TOKEN_LENGTH = 512;
/** Tokens we issue start with this; anything else is read as a token of the first format (base64 of the id). */
const TOKEN_PREFIX = 'fw1.';
/** Hashed without a secret, a token is still not the address; the domain keeps it apart from other hashes of ids. */
const UNKEYED_DOMAIN = 'fairway-session-token\n';
/** Ids whose tokens are kept (a pool's endpoints); past it the cache starts over. */
const MAX_CACHED_TOKENS = 4_096;

/**
 * The token for `endpointId`: a 128-bit hash of the id (HMAC-SHA256 with `secret` when one is configured), so a
 * response does not tell clients the pod's internal address. Every replica computes the same token from the same
 * id (and secret) without sharing state. Without a secret the hash is not a secret either: a client that guesses
 * the address space could find which address a token names; with one, it cannot.
 */
export function encodeSessionToken(endpointId: string, secret?: string): string {
  const mac = secret === undefined ? createHash('sha256').update(UNKEYED_DOMAIN) : createHmac('sha256', secret);
  return TOKEN_PREFIX + mac.update(endpointId, 'utf8').digest('base64url').slice(0, 22);
}

/**
 * The endpoint id a token of the first format names (base64 of the id, as llm-d encodes its pod name; issued by
 * earlier versions), or undefined when it is not one. Still accepted so sessions survive the upgrade.
 */
export function decodeSessionToken(token: string | undefined): string | undefined {
  if (token === undefined || token === '' || token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return undefined;
  const id = Buffer.from(token, 'base64').toString('utf8');
  return id === '' || id.includes('\uFFFD') ? undefined : id;
}

export interface SessionAffinityOptions {
  /** Request header the client returns the token in, and response header it is issued in. @default x-session-token */
  readonly header?: string;
  /** Key of the tokens' HMAC (the same on every replica); without it tokens are plain hashes of the address. */
  readonly secret?: string;
}

/**
 * 1 for the endpoint the request's token names while that endpoint's metrics are fresh and (when the saturation
 * detector's view is in the context) it has headroom; 0 for every other candidate, and for all when there is no
 * valid token. A saturated or stale endpoint thus lets the conversation move, and the next response's token
 * follows it to its new endpoint. O(candidates).
 */
export class SessionAffinityScorer implements Scorer {
  readonly type = SESSION_AFFINITY_SCORER;
  readonly session: ScorerSession;
  private readonly header: string;
  private readonly secret: string | undefined;
  /** Endpoint id -> its token: a hash per endpoint once, not per request. O(1) per lookup. */
  private readonly tokens = new Map<string, string>();

  constructor(options: SessionAffinityOptions = {}) {
    this.header = (options.header ?? DEFAULT_SESSION_HEADER).trim().toLowerCase();
    this.secret = options.secret;
    this.session = { header: this.header, token: (endpointId) => this.sessionToken(endpointId) };
  }

  sessionToken(endpointId: string): string {
    let token = this.tokens.get(endpointId);
    if (token === undefined) {
      if (this.tokens.size >= MAX_CACHED_TOKENS) this.tokens.clear();
      token = encodeSessionToken(endpointId, this.secret);
      this.tokens.set(endpointId, token);
    }
    return token;
  }

  score(ctx: SchedulingContext, candidates: readonly EndpointSnapshot[], out: Float64Array): void {
    const token = ctx.request.headers?.get(this.header);
    const hashed = token?.startsWith(TOKEN_PREFIX) === true;
    const legacy = hashed ? undefined : decodeSessionToken(token);
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i];
      if (c === undefined) continue;
      const named = hashed ? this.sessionToken(c.id) === token : legacy !== undefined && c.id === legacy;
      out[i] = named && usable(ctx, c) ? 1 : 0;
    }
  }
}

function usable(ctx: SchedulingContext, c: EndpointSnapshot): boolean {
  if (c.stale) return false;
  return ctx.saturation === undefined || hasHeadroom(ctx.saturation, c.id);
}
