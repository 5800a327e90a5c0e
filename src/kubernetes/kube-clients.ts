// The API clients the adapters use, made from one KubeConfig. Loading the KubeConfig (in-cluster service
// account files, or --kubeconfig) reads files, so src/server does it and hands the result here.
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';

export interface KubeClients {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly coordination: CoordinationV1Api;
}

export function makeKubeClients(config: KubeConfig): KubeClients {
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    coordination: config.makeApiClient(CoordinationV1Api),
  };
}

/** A list answer from the custom-objects API (typed `any` by the client), checked to have an `items` array. */
export function asList(value: unknown): KubernetesListObject<KubernetesObject> {
  const v = value as { items?: unknown } | null;
  if (typeof v !== 'object' || v === null || !Array.isArray(v.items)) {
    throw new Error('the API server answered a list without an items array');
  }
  return v as KubernetesListObject<KubernetesObject>;
}
