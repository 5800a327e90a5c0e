// Named plug-in registries (one per family), each entry a zod schema for its parameters plus a factory.
import { type z } from 'zod';
import { ConfigError, type Registry } from '../core/index.js';
import { type Filter, type Picker, type Scorer } from './types.js';

/** A plug-in type: validated parameters in, instance out. */
export interface PluginDefinition<T> {
  /** Parses `parameters` (undefined = all defaults); throws ConfigError naming `path` when invalid. */
  create(parameters: unknown, path: string): T;
}

/** Binds a schema to a factory so the factory only ever sees typed, validated parameters. */
export function definePlugin<P, T>(schema: z.ZodType<P>, factory: (parameters: P) => T): PluginDefinition<T> {
  return {
    create(parameters: unknown, path: string): T {
      const parsed = schema.safeParse(parameters ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue === undefined || issue.path.length === 0 ? path : `${path}.${issue.path.join('.')}`;
        throw new ConfigError(where, issue?.message ?? 'invalid parameters');
      }
      return factory(parsed.data);
    },
  };
}

export interface SchedulerRegistries {
  readonly filters: Registry<PluginDefinition<Filter>>;
  readonly scorers: Registry<PluginDefinition<Scorer>>;
  readonly pickers: Registry<PluginDefinition<Picker>>;
}
