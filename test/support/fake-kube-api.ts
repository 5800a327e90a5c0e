// The in-process Kubernetes API server lives with the simulators (benchmarks use it too); tests import it here.
export * from '../../src/simulator/kube-api/kube-api-server.js';
