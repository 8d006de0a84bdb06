// The Kubernetes manifests keep the service up through rollouts, node drains and load:
// replicas and autoscaling bounds, disruption budgets, probes, grace periods, resources,
// spread and a locked-down security context; Secret templates hold placeholders only, and
// the configuration they provide satisfies every process's config loader.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { loadApiConfig, loadGatewayConfig, loadWorkerConfig } from '../../shared/config.ts';

const K8S = new URL('../../deploy/k8s/', import.meta.url).pathname;

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML, checked field by field below
type Manifest = Record<string, any>;

function documents(path: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(K8S, path), 'utf8')).map((doc) => doc.toJS() as Manifest);
}

const kustomization = parse(readFileSync(join(K8S, 'base/kustomization.yaml'), 'utf8')) as Manifest;
const base = (kustomization.resources as string[]).flatMap((file) => documents(join('base', file)));
const secrets = documents('base/secrets.template.yaml');

function find(kind: string, name: string, from: Manifest[] = base): Manifest {
  const found = from.find((m) => m.kind === kind && m.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name}`);
  return found;
}

const DEPLOYMENTS = ['afc-gateway', 'afc-worker', 'afc-api'] as const;

/** A Kubernetes memory quantity in MiB ('512Mi', '1Gi'). */
function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (match === null) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

/** The environment a Deployment's container gets: generated ConfigMap plus the Secret templates. */
function environmentOf(deployment: string): Record<string, string> {
  const config = Object.fromEntries(
    (kustomization.configMapGenerator[0].literals as string[]).map((literal) => {
      const at = literal.indexOf('=');
      return [literal.slice(0, at), literal.slice(at + 1)];
    }),
  );
  const container = find('Deployment', deployment).spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const source of container.envFrom as Manifest[]) {
    if (source.configMapRef) {
      expect(source.configMapRef.name).toBe(kustomization.configMapGenerator[0].name);
      Object.assign(env, config);
    } else {
      Object.assign(env, find('Secret', source.secretRef.name, secrets).stringData);
    }
  }
  return env;
}

describe('Kubernetes base', () => {
  it('runs 3 gateway replicas, autoscaled 3-10 on CPU', () => {
    expect(find('Deployment', 'afc-gateway').spec.replicas).toBe(3);
    const hpa = find('HorizontalPodAutoscaler', 'afc-gateway');
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([3, 10]);
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'afc-gateway' });
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
  });

  it('gives the worker and the api autoscalers of their own', () => {
    for (const name of ['afc-worker', 'afc-api']) {
      const hpa = find('HorizontalPodAutoscaler', name);
      expect(hpa.spec.scaleTargetRef.name).toBe(name);
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    }
  });

  it.each(DEPLOYMENTS)('%s: a disruption budget and a Service select its pods', (name) => {
    const labels = find('Deployment', name).spec.template.metadata.labels;
    const pdb = find('PodDisruptionBudget', name);
    expect(labels).toMatchObject(pdb.spec.selector.matchLabels);
    expect(pdb.spec.minAvailable ?? pdb.spec.maxUnavailable).toBeDefined();
    expect(labels).toMatchObject(find('Service', name).spec.selector);
  });

  it('keeps at least 2 gateways through voluntary disruptions, and never rolls out below capacity', () => {
    expect(find('PodDisruptionBudget', 'afc-gateway').spec.minAvailable).toBe(2);
    for (const name of DEPLOYMENTS)
      expect(find('Deployment', name).spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it.each(DEPLOYMENTS)(
    '%s: grace >= 35 s, resources, probes, spread and a locked-down security context',
    (name) => {
      const pod = find('Deployment', name).spec.template.spec;
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(35);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.topologySpreadConstraints.map((c: Manifest) => c.topologyKey)).toEqual(
        expect.arrayContaining(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']),
      );
      for (const container of pod.containers as Manifest[]) {
        for (const kind of ['requests', 'limits']) {
          expect(container.resources[kind].cpu, `${name} ${kind}.cpu`).toBeDefined();
          expect(container.resources[kind].memory, `${name} ${kind}.memory`).toBeDefined();
        }
        // V8 would size its heap from the node's memory: bounded to leave the pod's limit room
        // for young space, code, buffers and sockets (test/faults/overload-gateway.test.ts).
        const heap_mb = Number(
          /--max-old-space-size=(\d+)/.exec(
            (container.env as Manifest[]).find((e) => e.name === 'NODE_OPTIONS')?.value ?? '',
          )?.[1],
        );
        expect(heap_mb, `${name} NODE_OPTIONS --max-old-space-size`).toBeGreaterThan(0);
        expect(heap_mb, `${name} heap within the limit`).toBeLessThanOrEqual(
          (mebibytes(container.resources.limits.memory) * 3) / 4,
        );
        expect(container.readinessProbe).toBeDefined();
        expect(container.livenessProbe).toBeDefined();
        expect(container.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
      }
    },
  );

  it('probes the gateway on /api/health/ready (readiness) and /api/health/live (liveness), on its internal port', () => {
    const container = find('Deployment', 'afc-gateway').spec.template.spec.containers[0];
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/api/health/ready', port: 'internal' });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/api/health/live', port: 'internal' });
    const worker = find('Deployment', 'afc-worker').spec.template.spec.containers[0];
    expect(worker.readinessProbe.httpGet.path).toBe('/ready');
    // Liveness must not depend on other services (the worker's /health does).
    expect(worker.livenessProbe.httpGet.path).toBe('/metrics');
    const api = find('Deployment', 'afc-api').spec.template.spec.containers[0];
    expect(api.readinessProbe.httpGet.path).toBe('/api/health/ready');
  });

  it('keeps Secrets out of the kustomization, and the Secret templates hold placeholders only', () => {
    expect(base.filter((m) => m.kind === 'Secret')).toEqual([]);
    expect(secrets.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(secret.kind).toBe('Secret');
      expect(secret.data).toBeUndefined();
      for (const [key, value] of Object.entries(secret.stringData as Record<string, string>)) {
        expect(value, `${secret.metadata.name}.${key}`).toContain('REPLACE_ME');
        const url = /^[a-z]+:\/\//.test(value) ? new URL(value) : undefined;
        if (url?.password) expect(url.password, `${secret.metadata.name}.${key}`).toBe('REPLACE_ME');
      }
    }
  });

  it('provides every variable the config loaders require (ConfigMap + Secrets), least privilege', () => {
    const gateway = loadGatewayConfig(environmentOf('afc-gateway'));
    expect([gateway.port, gateway.internal_port]).toEqual([8080, 9080]);
    expect(loadWorkerConfig(environmentOf('afc-worker')).health_port).toBe(8081);
    const api = loadApiConfig(environmentOf('afc-api'));
    expect([api.port, api.internal_port]).toEqual([8082, 9082]);
    // Marqeta credentials reach the worker only; the JIT password the gateway only.
    expect(environmentOf('afc-gateway').MARQETA_ADMIN_TOKEN).toBeUndefined();
    expect(environmentOf('afc-api').MARQETA_ADMIN_TOKEN).toBeUndefined();
    expect(environmentOf('afc-worker').GATEWAY_BASIC_AUTH_PASSWORD).toBeUndefined();
    expect(environmentOf('afc-api').GATEWAY_BASIC_AUTH_PASSWORD).toBeUndefined();
  });

  it('offers KEDA scaling of the worker on the depth of both decision queues, replacing its CPU autoscaler', () => {
    const keda = documents('optional/keda/scaledobject.yaml');
    const scaled = find('ScaledObject', 'afc-worker', keda);
    expect(scaled.spec.scaleTargetRef.name).toBe('afc-worker');
    expect(scaled.spec.triggers[0]).toMatchObject({
      type: 'rabbitmq',
      metadata: { queueName: 'afc.decisions' },
    });
    expect(scaled.spec.triggers[1]).toMatchObject({
      type: 'rabbitmq',
      metadata: { queueName: 'afc.decisions.personal' },
    });
    const auth = find('TriggerAuthentication', 'afc-rabbitmq', keda);
    expect(auth.spec.secretTargetRef[0]).toMatchObject({ name: 'afc-datastores', key: 'RABBITMQ_URL' });
    const component = readFileSync(join(K8S, 'optional/keda/kustomization.yaml'), 'utf8');
    expect(component).toContain('$patch: delete');
  });

  it('has a migrate Job on the api image with the datastore Secret', () => {
    const job = find('Job', 'afc-migrate', documents('jobs/migrate.yaml'));
    const container = job.spec.template.spec.containers[0];
    expect(container.image.split(':')[0]).toBe(
      find('Deployment', 'afc-api').spec.template.spec.containers[0].image.split(':')[0],
    );
    expect(container.command).toEqual(['node', 'migrations/cli.ts']);
    expect(container.envFrom).toEqual([{ secretRef: { name: 'afc-datastores' } }]);
  });
});

function kubectlAvailable(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('Kubernetes example overlay', () => {
  it.skipIf(!kubectlAvailable())(
    'renders with kustomize: namespace, registry images and hashed ConfigMap applied',
    () => {
      const rendered = parseAllDocuments(
        execFileSync('kubectl', ['kustomize', join(K8S, 'overlays/example')], { encoding: 'utf8' }),
      ).map((doc) => doc.toJS() as Manifest);
      const config = rendered.find((m) => m.kind === 'ConfigMap')!;
      expect(config.metadata.name).toMatch(/^afc-config-/);
      expect(config.data.PROGRAM_TIME_ZONE).toBe('America/New_York');
      for (const name of DEPLOYMENTS) {
        const deployment = find('Deployment', name, rendered);
        expect(deployment.metadata.namespace).toBe('afc-example');
        const container = deployment.spec.template.spec.containers[0];
        expect(container.image).toMatch(/^registry\.example\.com\/atlanticfrewaycard\/[a-z]+:\d+\.\d+\.\d+$/);
        expect(container.envFrom[0].configMapRef.name).toBe(config.metadata.name);
      }
      expect(rendered.filter((m) => m.kind === 'Secret')).toEqual([]);
    },
  );
});

describe('manifest files', () => {
  it('are all valid YAML', () => {
    const walk = (dir: string): string[] =>
      readdirSync(join(K8S, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory()
          ? walk(join(dir, entry.name))
          : entry.name.endsWith('.yaml')
            ? [join(dir, entry.name)]
            : [],
      );
    for (const file of walk('.')) {
      for (const doc of parseAllDocuments(readFileSync(join(K8S, file), 'utf8')))
        expect(doc.errors, file).toEqual([]);
    }
  });
});
