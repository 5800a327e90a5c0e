// The leadership port the composition root reads for readiness (gRPC health, /readyz) and for admitting work;
// implemented by the Kubernetes Lease elector, or by `alwaysLeader` when leader election is off.

export interface Leadership {
  /** Whether this replica may serve now. Evaluated at the moment of asking. */
  isLeader(): boolean;
  /** Called when leadership is gained or lost; returns the unsubscribe function. */
  subscribe(listener: (leader: boolean) => void): () => void;
}

export const alwaysLeader: Leadership = {
  isLeader: () => true,
  subscribe: () => () => undefined,
};
