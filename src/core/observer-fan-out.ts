// Observer fan-out: one observer that tells several (metrics, the status page, pool availability) of each event,
// each behind its own guard, so an observer that throws neither keeps the others from being told nor breaks the
// bookkeeping of the engine that reported the event (a request still reaches exactly one outcome). A throw is
// logged with the observer's name, at most once a minute per observer.
import { type Clock, systemClock } from './clock.js';
import { type Logger } from './logger.js';

/** @default 60 s between two log lines about the same observer; the throws in between are counted. */
export const OBSERVER_FAULT_LOG_INTERVAL_MS = 60_000;

interface FaultLog {
  /** Clock time (ms) of the last line logged about this observer. */
  at: number;
  /** Throws since then that were not logged. */
  suppressed: number;
}

/**
 * Where throwing observers are reported: a log line naming the observer and the event, then silence for that
 * observer for `intervalMs` (its throws counted, the count given on the next line). One per server, shared by its
 * fan-outs. O(1) per throw; nothing is done while no observer throws.
 */
export class ObserverFaults {
  private readonly byObserver = new Map<string, FaultLog>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
    private readonly intervalMs = OBSERVER_FAULT_LOG_INTERVAL_MS,
  ) {}

  report(observer: string, event: string, err: unknown): void {
    const now = this.clock.now();
    const log = this.byObserver.get(observer);
    if (log !== undefined && now - log.at < this.intervalMs) {
      log.suppressed++;
      return;
    }
    const suppressed = log?.suppressed ?? 0;
    if (log === undefined) this.byObserver.set(observer, { at: now, suppressed: 0 });
    else {
      log.at = now;
      log.suppressed = 0;
    }
    this.logger.error(
      { err, observer, event, ...(suppressed > 0 ? { suppressedSinceLastLog: suppressed } : {}) },
      'observer threw: the other observers were told and the request went on (logged at most once a minute per observer)',
    );
  }
}

/** The most parameters an observer method may take: the fan-out passes exactly this many on (see fanOutObservers). */
type UpToFourParameters = 0 | 1 | 2 | 3 | 4;

/**
 * Every method of an observer interface, optional ones included: a method added to the interface must be listed.
 * An entry is `true` only for a method of at most four parameters, none of them a rest parameter; anything else
 * (a fifth parameter, `...args`, a member that is no method) types the entry `never`, so the list does not compile
 * instead of the fan-out dropping the arguments past the fourth.
 */
export type ObserverMethods<T> = {
  readonly [K in keyof Required<T>]: Required<T>[K] extends (...args: infer P) => unknown ? (P['length'] extends UpToFourParameters ? true : never) : never;
};

type AnyMethod = (a?: unknown, b?: unknown, c?: unknown, d?: unknown) => void;

/**
 * One observer forwarding each event to every one of `observers` in their order, each call guarded. `methods`
 * names the interface's methods (at most four parameters each, checked by ObserverMethods: passed on as four
 * arguments, without a rest array or `arguments`, so an event costs no allocation); an observer without an
 * optional method is skipped for it. O(observers) per event.
 */
export function fanOutObservers<T extends object>(observers: Readonly<Record<string, T>>, methods: ObserverMethods<T>, faults: ObserverFaults): T {
  const names = Object.keys(observers);
  const list = names.map((name) => observers[name] as T);
  const out: Record<string, AnyMethod> = {};
  for (const method of Object.keys(methods)) {
    out[method] = (a, b, c, d) => {
      for (let i = 0; i < list.length; i++) {
        const observer = list[i] as Record<string, unknown>;
        const fn = observer[method] as AnyMethod | undefined;
        if (fn === undefined) continue;
        try {
          fn.call(observer, a, b, c, d);
        } catch (err: unknown) {
          faults.report(names[i] as string, method, err);
        }
      }
    };
  }
  return out as unknown as T;
}
