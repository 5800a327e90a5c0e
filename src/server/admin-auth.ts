// Bearer-token check for the admin port. Prometheus and `fairway top` send `Authorization: Bearer <token>`; a
// browser cannot add that header to a page load or an EventSource, so `?token=` on /status sets an HttpOnly,
// SameSite=Strict cookie once (then the URL is cleaned by a redirect) and the page's requests carry the cookie.
import { createHash, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage } from 'node:http';

export const ADMIN_COOKIE = 'fairway_admin_token';

/** Comparing fixed-length digests keeps the comparison constant-time whatever the lengths. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export type AdminCredential = 'header' | 'cookie' | 'query';

export class AdminAuth {
  private readonly expected: Buffer | undefined;

  constructor(token: string | undefined) {
    this.expected = token === undefined ? undefined : digest(token);
  }

  get required(): boolean {
    return this.expected !== undefined;
  }

  /** How the request proved itself (undefined: it did not); always 'header' when no token is required. */
  check(req: IncomingMessage, url: URL): AdminCredential | undefined {
    if (this.expected === undefined) return 'header';
    const auth = req.headers.authorization;
    if (auth !== undefined && /^bearer\s/i.test(auth) && this.matches(auth.slice(7).trim())) return 'header';
    const cookie = cookieValue(req.headers.cookie, ADMIN_COOKIE);
    if (cookie !== undefined && this.matches(cookie)) return 'cookie';
    const query = url.searchParams.get('token');
    if (query !== null && this.matches(query)) return 'query';
    return undefined;
  }

  /** The Set-Cookie value that lets a browser in after a `?token=` visit. */
  static cookieFor(token: string): string {
    return `${ADMIN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
  }

  private matches(candidate: string): boolean {
    return this.expected !== undefined && timingSafeEqual(digest(candidate), this.expected);
  }
}
