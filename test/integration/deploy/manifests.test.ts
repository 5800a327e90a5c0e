// deploy/: every manifest parses; the plain manifests hang together (Service -> pods, ports, probes, RBAC
// binding, the InferencePool's endpointPickerRef); the Helm chart's defaults equal the plain manifests field by
// field; every .Values path its templates use exists and every value is used; the Dockerfile builds what the
// package runs, as a non-root user. No helm binary or container engine exists here, so nothing is rendered or
// built: these checks parse.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parseConfig } from '../../../src/config/index.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const DEPLOY = join(ROOT, 'deploy');
const CHART = join(DEPLOY, 'helm/fairway');

type Doc = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

function docsOf(file: string): Doc[] {
  const parsed = parseAllDocuments(readFileSync(file, 'utf8'));
  const out: Doc[] = [];
  for (const d of parsed) {
    expect(d.errors, `${file}: ${d.errors.map((e) => e.message).join('; ')}`).toEqual([]);
    const js = d.toJS() as Doc | null;
    if (js !== null) out.push(js);
  }
  return out;
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (p !== join(CHART, 'templates')) out.push(...yamlFiles(p));
    } else if (/\.ya?ml$/.test(entry.name)) out.push(p);
  }
  return out;
}

const manifests = readdirSync(join(DEPLOY, 'manifests')).filter((f) => f.endsWith('.yaml')).flatMap((f) => docsOf(join(DEPLOY, 'manifests', f)));
const byKind = (kind: string): Doc[] => manifests.filter((d) => d.kind === kind);
const one = (kind: string): Doc => {
  const docs = byKind(kind);
  expect(docs, kind).toHaveLength(1);
  return docs[0] as Doc;
};
const get = (o: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((cur, k) => (cur === null || typeof cur !== 'object' ? undefined : (cur as Record<string, unknown>)[k]), o);

const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const deployment = one('Deployment');
const container = (get(deployment, 'spec.template.spec.containers') as Record<string, unknown>[])[0] as Record<string, unknown>;
const args = container.args as string[];
const argAfter = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
const portNamed = (name: string): number => (container.ports as { name: string; containerPort: number }[]).find((p) => p.name === name)?.containerPort ?? -1;

describe('deploy/ manifests', () => {
  it('every YAML file under deploy/ parses (chart templates aside: they are Go templates)', () => {
    const files = yamlFiles(DEPLOY);
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const f of files) expect(() => docsOf(f)).not.toThrow();
    expect(manifests.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'InferencePool', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
  });

  it('hang together: Service selects the pods and targets named ports, the pool points at the Service, RBAC binds the pod\'s account', () => {
    const service = one('Service');
    const podLabels = get(deployment, 'spec.template.metadata.labels') as Record<string, string>;
    expect(get(deployment, 'spec.selector.matchLabels')).toEqual(podLabels);
    for (const [k, v] of Object.entries(get(service, 'spec.selector') as Record<string, string>)) expect(podLabels[k]).toBe(v);
    const names = (container.ports as { name: string }[]).map((p) => p.name);
    for (const p of get(service, 'spec.ports') as { targetPort: string; port: number; name: string }[]) {
      expect(names).toContain(p.targetPort);
      expect(p.port).toBe(portNamed(p.targetPort));
    }
    const pool = one('InferencePool');
    expect(get(pool, 'spec.endpointPickerRef.name')).toBe(service.metadata.name);
    expect(get(pool, 'spec.endpointPickerRef.port.number')).toBe(portNamed('grpc-ext-proc'));
    expect(argAfter('--pool-name')).toBe(pool.metadata.name);
    expect(argAfter('--pool-group')).toBe(String(pool.apiVersion).split('/')[0]);
    const account = one('ServiceAccount').metadata.name;
    expect(get(deployment, 'spec.template.spec.serviceAccountName')).toBe(account);
    const binding = one('RoleBinding');
    expect(get(binding, 'subjects')).toEqual([{ kind: 'ServiceAccount', name: account, namespace: 'default' }]);
    expect(get(binding, 'roleRef.name')).toBe(one('Role').metadata.name);
    // Ports in the args are the ports the container exposes and the probes use.
    expect(Number(argAfter('--grpc-port'))).toBe(portNamed('grpc-ext-proc'));
    expect(Number(argAfter('--health-port'))).toBe(portNamed('grpc-health'));
    expect(Number(argAfter('--metrics-port'))).toBe(portNamed('http-metrics'));
    expect(get(container, 'livenessProbe.grpc')).toEqual({ port: portNamed('grpc-health'), service: 'liveness' });
    expect(get(container, 'readinessProbe.httpGet')).toEqual({ path: '/readyz', port: portNamed('http-metrics') });
    // The config file the args name is the ConfigMap's key, mounted there, and it is a valid Fairway config.
    const mount = (container.volumeMounts as { name: string; mountPath: string }[])[0];
    const configMap = one('ConfigMap');
    expect(argAfter('--config')).toBe(`${mount?.mountPath}/fairway.yaml`);
    expect(get(deployment, 'spec.template.spec.volumes')).toEqual([{ name: mount?.name, configMap: { name: configMap.metadata.name } }]);
    expect(() => parseConfig(String((configMap.data as Record<string, string>)['fairway.yaml']), 'configmap')).not.toThrow();
  });

  it('runs non-root with a read-only root filesystem, no privilege escalation, and resource requests', () => {
    expect(get(deployment, 'spec.template.spec.securityContext.runAsNonRoot')).toBe(true);
    expect(Number(get(deployment, 'spec.template.spec.securityContext.runAsUser'))).toBeGreaterThan(0);
    expect(get(container, 'securityContext')).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(get(container, 'resources.requests.cpu')).toBeDefined();
    expect(get(container, 'resources.requests.memory')).toBeDefined();
  });
});

describe('Helm chart deploy/helm/fairway', () => {
  const templatesDir = join(CHART, 'templates');
  const templates = readdirSync(templatesDir).map((f) => ({ file: f, text: readFileSync(join(templatesDir, f), 'utf8') }));
  const all = templates.map((t) => t.text).join('\n');

  it('has a valid Chart.yaml (apiVersion v2, name, semver version)', () => {
    const chart = parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'fairway', type: 'application' });
    expect(String(chart.version)).toMatch(/^\d+\.\d+\.\d+$/);
    expect(String(chart.appVersion)).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('defaults equal the plain manifests, field by field', () => {
    const v = (path: string): unknown => get(values, path);
    const ie = 'inferenceExtension';
    const image = `${v(`${ie}.image.registry`) === '' ? '' : `${String(v(`${ie}.image.registry`))}/`}${String(v(`${ie}.image.repository`))}:${String(v(`${ie}.image.tag`))}`;
    expect(container.image).toBe(image);
    expect(container.imagePullPolicy).toBe(v(`${ie}.image.pullPolicy`));
    expect(get(deployment, 'spec.replicas')).toBe(v(`${ie}.replicas`));
    expect(portNamed('grpc-ext-proc')).toBe(v(`${ie}.extProcPort`));
    expect(portNamed('grpc-health')).toBe(v(`${ie}.healthPort`));
    expect(portNamed('http-metrics')).toBe(v(`${ie}.metricsPort`));
    expect(get(container, 'resources')).toEqual(v(`${ie}.resources`));
    expect(get(deployment, 'spec.template.spec.affinity')).toEqual(v(`${ie}.affinity`));
    expect(get(deployment, 'spec.template.spec.tolerations')).toEqual(v(`${ie}.tolerations`));
    expect(args).toContain(`--ha-enable-leader-election=${String(v(`${ie}.leaderElection.enabled`))}`);
    expect(v(`${ie}.flags`)).toEqual([]);
    expect((container.env as { name: string }[]).map((e) => e.name)).toEqual(['NAMESPACE', 'POD_NAME']);
    expect(v(`${ie}.env`)).toEqual([]);
    expect(parseYaml(String((one('ConfigMap').data as Record<string, string>)['fairway.yaml']))).toEqual(v(`${ie}.config`));
    const pool = one('InferencePool');
    expect(pool.apiVersion).toBe(v('inferencePool.apiVersion'));
    expect(get(pool, 'spec.targetPorts')).toEqual(v('inferencePool.targetPorts'));
    expect(get(pool, 'spec.selector.matchLabels')).toEqual(v('inferencePool.modelServers.matchLabels'));
    expect(get(pool, 'spec.endpointPickerRef.failureMode')).toBe(v(`${ie}.failureMode`));
    expect(argAfter('--model-server-type')).toBe(v('inferencePool.modelServerType'));
    expect(v('inferenceObjectives')).toEqual([]);
    // One RBAC source: the chart reads files/rbac-rules.yaml; the plain Role has the same rules.
    const rules = parseYaml(readFileSync(join(CHART, 'files/rbac-rules.yaml'), 'utf8')) as unknown;
    expect(get(one('Role'), 'rules')).toEqual(rules);
    expect(all).toContain('.Files.Get "files/rbac-rules.yaml"');
  });

  it('uses only values that exist, and every value is used by a template', () => {
    const referenced = new Set([...all.matchAll(/\$?\.Values\.([A-Za-z0-9_.]+)/g)].map((m) => m[1] as string));
    expect(referenced.size).toBeGreaterThan(10);
    for (const path of referenced) expect(get(values, path), `.Values.${path}`).not.toBeUndefined();
    const leaves: string[] = [];
    const walk = (o: unknown, prefix: string): void => {
      if (o !== null && typeof o === 'object' && !Array.isArray(o) && Object.keys(o).length > 0 && !prefix.endsWith('config') && !prefix.endsWith('matchLabels') && !prefix.endsWith('resources')) {
        for (const [k, val] of Object.entries(o)) walk(val, prefix === '' ? k : `${prefix}.${k}`);
      } else leaves.push(prefix);
    };
    walk(values, '');
    for (const leaf of leaves) {
      const used = [...referenced].some((r) => r === leaf || leaf.startsWith(`${r}.`));
      expect(used, `value ${leaf} is used by no template`).toBe(true);
    }
  });

  it('templates: balanced actions, defined helpers, one document kind each', () => {
    const defined = new Set([...all.matchAll(/\{\{-?\s*define\s+"([^"]+)"/g)].map((m) => m[1]));
    for (const m of all.matchAll(/include\s+"([^"]+)"/g)) expect(defined.has(m[1]), `helper ${m[1]}`).toBe(true);
    for (const t of templates) {
      const opens = [...t.text.matchAll(/\{\{-?\s*(if|range|with|define)\b/g)].length;
      const ends = [...t.text.matchAll(/\{\{-?\s*end\s*-?\}\}/g)].length;
      expect(ends, `${t.file}: {{ end }} count`).toBe(opens);
      expect([...t.text.matchAll(/\{\{/g)].length, `${t.file}: braces`).toBe([...t.text.matchAll(/\}\}/g)].length);
    }
    const kinds = templates.flatMap((t) => [...t.text.matchAll(/^kind:\s*(\S+)/gm)].map((m) => m[1])).sort();
    expect(kinds).toEqual(['ConfigMap', 'Deployment', 'InferenceObjective', 'InferencePool', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
  });
});

describe('deploy/Dockerfile', () => {
  const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
  const lines = text.split('\n').filter((l) => !l.startsWith('#') && l.trim() !== '');

  it('copies only files that exist, builds with npm ci, and runs the package\'s CLI as a non-root user on Node 20', () => {
    const froms = lines.filter((l) => l.startsWith('FROM'));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/node(js)?:?20|nodejs20/);
    for (const l of lines.filter((x) => x.startsWith('COPY') && !x.includes('--from'))) {
      const sources = l.split(/\s+/).slice(1, -1);
      for (const s of sources) expect(existsSync(join(ROOT, s)), s).toBe(true);
    }
    expect(text).toMatch(/RUN npm ci/);
    const user = lines.filter((l) => l.startsWith('USER')).at(-1);
    expect(user).toMatch(/USER [1-9]\d*/);
    const cmd = JSON.parse((lines.find((l) => l.startsWith('CMD')) as string).slice(4)) as string[];
    const bin = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.fairway;
    expect(`dist/${cmd[0]?.replace(/^dist\//, '')}`).toBe(bin);
    expect(cmd.slice(1, 2)).toEqual(['serve']);
  });
});
