// What the exchange logs about the store's reachability. A replica turns local-only at the first round that fails
// or answers late, which on a busy host (a GC pause, a starved core) happens now and then for one round: logging
// each such blip as an outage and a recovery would bury a real outage in pairs of lines. So the first outage is
// logged at once; another one within OUTAGE_QUIET_MS of a logged one is logged only once it has lasted
// OUTAGE_PERSIST_MS (a real outage, logged at most that late), with the short ones since folded into its line as a
// count. A recovery is logged when its outage was. The `up` gauge and the rounds counter still see every blip.
import { type Logger } from '../core/index.js';

/** After a logged outage, shorter ones are not logged for this long. */
export const OUTAGE_QUIET_MS = 60_000;
/** An outage inside the quiet period is logged once it has lasted this long. */
export const OUTAGE_PERSIST_MS = 1_000;

export interface OutageLogOptions {
  readonly logger: Logger;
  readonly origin: string;
}

export class OutageLog {
  private lastLoggedAt: number | undefined;
  /** The outage in progress: when it began, why, and whether it was logged. */
  private current: { since: number; err: string; logged: boolean } | undefined;
  /** Outages since the last logged one that ended before they were logged. */
  private shortOutages = 0;

  constructor(private readonly o: OutageLogOptions) {}

  /** The replica just turned local-only. */
  down(now: number, err: string): void {
    this.current = { since: now, err, logged: false };
    if (this.lastLoggedAt === undefined || now - this.lastLoggedAt >= OUTAGE_QUIET_MS) this.log(now);
  }

  /** Another round failed while local-only: log an outage that has now lasted long enough. */
  stillDown(now: number): void {
    const c = this.current;
    if (c !== undefined && !c.logged && now - c.since >= OUTAGE_PERSIST_MS) this.log(now);
  }

  /** A round succeeded after an outage (or for the first time: `peers` connected). */
  up(now: number, peers: number): void {
    const c = this.current;
    this.current = undefined;
    if (c === undefined || c.logged) {
      this.o.logger.info({ origin: this.o.origin, peers, ...(c !== undefined ? { downMs: now - c.since } : {}) }, 'shared state connected');
    } else {
      this.shortOutages++;
      this.o.logger.debug({ origin: this.o.origin, peers, downMs: now - c.since }, 'shared state connected again after a short outage');
    }
  }

  private log(now: number): void {
    const c = this.current;
    if (c === undefined) return;
    c.logged = true;
    this.lastLoggedAt = now;
    const folded = this.shortOutages;
    this.shortOutages = 0;
    this.o.logger.warn(
      { origin: this.o.origin, err: c.err, ...(folded > 0 ? { shortOutagesNotLogged: folded } : {}), ...(now > c.since ? { downMs: now - c.since } : {}) },
      'shared state unreachable: serving local-only until it is back',
    );
  }
}
