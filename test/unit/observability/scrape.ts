// Reads samples back out of a prom-client registry, exactly as a scrape would produce them (collect() runs).
import { type Registry } from 'prom-client';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

/** Every sample of the registry, with histogram series under their `_bucket` / `_sum` / `_count` names. */
export async function scrape(registry: Registry): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const v of metric.values) {
      const name = (v as { metricName?: string }).metricName ?? metric.name;
      out.push({ name, labels: v.labels as Record<string, string | number>, value: v.value });
    }
  }
  return out;
}

/** Samples of one series name whose labels include `labels`. */
export function samples(all: readonly Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v));
}

/** The single sample matching; throws when there is none or more than one, so assertions stay exact. */
export function value(all: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples(all, name, labels);
  if (found.length !== 1) throw new Error(`expected one sample of ${name} ${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}
