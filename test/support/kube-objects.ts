// Builders of Kubernetes objects for the in-process API server (shared with the benchmarks).
export * from '../../src/simulator/kube-api/kube-objects.js';
