// Named plug-in registry: one per plug-in family; duplicate names are refused, unknown names list the known ones.
import { FairwayError } from './errors.js';

export class Registry<T> {
  private readonly entries = new Map<string, T>();

  constructor(readonly family: string) {}

  register(name: string, entry: T): this {
    if (this.entries.has(name)) {
      throw new FairwayError('ERR_DUPLICATE_PLUGIN', `${this.family} plug-in "${name}" is already registered`);
    }
    this.entries.set(name, entry);
    return this;
  }

  get(name: string): T {
    const entry = this.entries.get(name);
    if (entry === undefined) {
      throw new FairwayError(
        'ERR_UNKNOWN_PLUGIN',
        `unknown ${this.family} plug-in "${name}"; known: ${[...this.entries.keys()].join(', ')}`,
      );
    }
    return entry;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }
}
