// Builders of the Kubernetes objects the tests put into the fake API server: Pods, InferencePools (v1 and
// v1alpha2), InferenceObjectives, InferenceModelRewrites. Only the fields Fairway reads, shaped as the real API serves them.

export interface PodOptions {
  readonly ip?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  /** @default true */
  readonly ready?: boolean;
  readonly terminating?: boolean;
}

export function pod(name: string, o: PodOptions = {}): Record<string, unknown> {
  return {
    metadata: {
      name,
      labels: o.labels ?? { app: 'model' },
      ...(o.annotations !== undefined ? { annotations: o.annotations } : {}),
      ...(o.terminating === true ? { deletionTimestamp: new Date().toISOString() } : {}),
    },
    spec: { containers: [{ name: 'server', image: 'vllm' }] },
    status: {
      phase: 'Running',
      ...(o.ip !== undefined ? { podIP: o.ip } : {}),
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'Ready', status: o.ready === false ? 'False' : 'True' },
      ],
    },
  };
}

export function inferencePoolV1(name: string, matchLabels: Record<string, string>, ports: readonly number[]): Record<string, unknown> {
  return {
    metadata: { name },
    spec: {
      selector: { matchLabels },
      targetPorts: ports.map((number) => ({ number })),
      endpointPickerRef: { kind: 'Service', name: `${name}-epp`, port: { number: 9002 }, failureMode: 'FailClose' },
    },
  };
}

export function inferencePoolV1alpha2(name: string, selector: Record<string, string>, port: number): Record<string, unknown> {
  return {
    metadata: { name },
    spec: { selector, targetPortNumber: port, extensionRef: { name: `${name}-epp`, failureMode: 'FailClose' } },
  };
}

export function inferenceObjective(name: string, pool: string, priority?: number, group = 'inference.networking.k8s.io'): Record<string, unknown> {
  return {
    metadata: { name },
    spec: { ...(priority !== undefined ? { priority } : {}), poolRef: { group, kind: 'InferencePool', name: pool } },
  };
}

/** One rule of an InferenceModelRewrite: model names matched exactly (none: every request), weighted targets. */
export interface RewriteRuleInput {
  readonly matches: readonly string[];
  readonly targets: readonly { readonly model: string; readonly weight?: number }[];
}

export function inferenceModelRewrite(name: string, pool: string, rules: readonly RewriteRuleInput[], group = 'inference.networking.k8s.io'): Record<string, unknown> {
  return {
    metadata: { name },
    spec: {
      poolRef: { group, kind: 'InferencePool', name: pool },
      rules: rules.map((r) => ({
        ...(r.matches.length > 0 ? { matches: r.matches.map((value) => ({ model: { type: 'Exact', value } })) } : {}),
        targets: r.targets.map((t) => ({ modelRewrite: t.model, ...(t.weight !== undefined ? { weight: t.weight } : {}) })),
      })),
    },
  };
}
