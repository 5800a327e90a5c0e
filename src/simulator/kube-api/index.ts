// Public surface of the fake Kubernetes API server (tests and the Kubernetes benchmark). Kept out of the
// simulator's index: it loads @kubernetes/client-node, tens of MB of heap that `fairway serve` would carry too
// (the CLI's demo imports the simulator), and every major GC marks the whole heap.
export {
  FakeKubeApi,
  type FakeKubeApiOptions,
  type ResourceType,
  type PolicyRule,
  type ApiCall,
  type KubeObject,
  PODS,
  LEASES,
  POOLS_V1,
  POOLS_V1ALPHA2,
  OBJECTIVES,
  MODEL_REWRITES,
} from './kube-api-server.js';
export { type PodOptions, pod, inferencePoolV1, inferencePoolV1alpha2, inferenceObjective } from './kube-objects.js';
