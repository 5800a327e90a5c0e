// A gauge whose values are read from their source when Prometheus scrapes, never pushed: label sets that vanish
// from the source (a removed band or endpoint) vanish from the output too.
import { Gauge, type Registry } from 'prom-client';
import { type Logger } from '../core/index.js';

export interface ScrapeGaugeSpec<T extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly T[];
}

/** Registers the gauge on `registry`; `read` sets its values on every scrape. A throwing source is logged, not fatal. */
export function registerScrapeGauge<T extends string>(
  registry: Registry,
  logger: Logger,
  spec: ScrapeGaugeSpec<T>,
  read: (gauge: Gauge<T>) => void,
): Gauge<T> {
  return new Gauge<T>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    registers: [registry],
    collect(this: Gauge<T>) {
      this.reset();
      try {
        read(this);
      } catch (err: unknown) {
        // One broken source must not fail the whole scrape.
        logger.warn({ err, metric: spec.name }, 'metric source failed during scrape');
      }
    },
  });
}
