// A detector that can be replaced while the engine runs (a configuration reload with new thresholds or another
// detector): flow control and the scheduler hold this one object; it delegates to the current detector and
// forwards its change notifications. The replacement reads the same pool and in-flight state, so nothing is lost.
import { type EndpointSnapshot } from '../datalayer/index.js';
import { type DetectorSettings, type SaturationDetails, type SaturationDetector } from './cached-detector.js';

export class SwappableSaturationDetector implements SaturationDetector {
  private current: SaturationDetector;
  private readonly listeners = new Set<() => void>();
  private unsubscribe: () => void;

  constructor(initial: SaturationDetector) {
    this.current = initial;
    this.unsubscribe = initial.onChange(() => this.emit());
  }

  get name(): string {
    return this.current.name;
  }

  /** The detector in use. */
  get active(): SaturationDetector {
    return this.current;
  }

  /** Uses `next` from now on, closes the previous one, and tells listeners (the gate may have opened). */
  replace(next: SaturationDetector): void {
    const previous = this.current;
    this.unsubscribe();
    this.current = next;
    this.unsubscribe = next.onChange(() => this.emit());
    previous.close();
    this.emit();
  }

  saturation(): number {
    return this.current.saturation();
  }

  endpointSaturation(endpointId: string): number {
    return this.current.endpointSaturation(endpointId);
  }

  pacedSaturation(): number {
    return this.current.pacedSaturation();
  }

  pacedEndpointSaturation(endpointId: string): number {
    return this.current.pacedEndpointSaturation(endpointId);
  }

  endpointSaturations(endpoints: readonly EndpointSnapshot[], out: Float64Array, paced = false): void {
    const current = this.current;
    if (current.endpointSaturations !== undefined) {
      current.endpointSaturations(endpoints, out, paced);
      return;
    }
    for (let i = 0; i < endpoints.length; i++) {
      const id = endpoints[i]?.id ?? '';
      out[i] = paced ? current.pacedEndpointSaturation(id) : current.endpointSaturation(id);
    }
  }

  details(): SaturationDetails {
    return this.current.details();
  }

  settings(): DetectorSettings {
    return this.current.settings();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  close(): void {
    this.unsubscribe();
    this.current.close();
    this.listeners.clear();
  }

  private emit(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
