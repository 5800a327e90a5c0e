// Whether the API server answers, as all the watches of one pool see it together. When it goes away every watch
// fails at once (pods, the pool, objectives, rewrites): one line says so, naming the first watch that noticed, and
// one line says when every watch answers again. Each watch still reports to its own source (the gauge).
import { type Logger } from '../core/index.js';

export class ApiReachability {
  /** Watches that cannot reach the API server now. */
  private readonly down = new Set<object>();

  constructor(private readonly logger: Logger) {}

  get reachable(): boolean {
    return this.down.size === 0;
  }

  /** A watch's view changed; logs only when the pool's view as a whole changes. O(1). */
  report(watch: object, resource: string, reachable: boolean, error?: string): void {
    const was = this.down.size === 0;
    if (reachable) this.down.delete(watch);
    else this.down.add(watch);
    const now = this.down.size === 0;
    if (was && !now) this.logger.warn({ resource, error }, 'Kubernetes API server unreachable; serving the last known state');
    else if (!was && now) this.logger.info({ resource }, 'Kubernetes API server reachable again; every watch resumed');
  }
}
