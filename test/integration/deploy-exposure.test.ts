// What the Kubernetes manifests expose, checked on the manifests as written (base) and as
// rendered with every optional component (kubectl kustomize, when installed): Marqeta's two
// routes and nothing else reach the gateway, over TLS only, within Marqeta's 3 s; no route
// reaches an internal port; the management API's host is off by default; and each workload's
// network policies allow exactly the flows it uses, everything else denied.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadApiConfig, loadGatewayConfig } from '../../shared/config.ts';
import { kubectlAvailable, type Manifest, renderedExample } from '../support/kustomize.ts';

const K8S = new URL('../../deploy/k8s/', import.meta.url).pathname;
const MARQETA_WAIT_MS = 3_000;
const JIT_ROUTES = ['POST /api/transactions/authorize', 'POST /api/webhooks/marqeta'];

function documents(path: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(K8S, path), 'utf8')).map((doc) => doc.toJS() as Manifest);
}

function baseManifests(): Manifest[] {
  const kustomization = parse(readFileSync(join(K8S, 'base/kustomization.yaml'), 'utf8')) as Manifest;
  return (kustomization.resources as string[]).flatMap((file) => documents(join('base', file)));
}

const of = (manifests: Manifest[], kind: string) => manifests.filter((m) => m.kind === kind);
function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name}`);
  return found;
}

/** Milliseconds of a Gateway API / Envoy Gateway duration ("2s", "2500ms", "1s500ms"). */
function durationMs(text: string): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  const parts = [...text.matchAll(/(\d+)(ms|h|m|s)/g)];
  expect(parts.map((p) => p[0]).join(''), text).toBe(text);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

function quantityBytes(text: string): number {
  const match = /^(\d+)(Ki|Mi)?$/.exec(text);
  if (match === null) throw new Error(`unexpected quantity ${text}`);
  return Number(match[1]) * ({ Ki: 1024, Mi: 1024 * 1024 }[match[2] ?? ''] ?? 1);
}

/** The container port a Service port leads to, as `<deployment>:<port name>`. */
function servicePortTarget(
  manifests: Manifest[],
  service: string,
  port: number,
): { name: string; number: number } {
  const svc = find(manifests, 'Service', service);
  const entry = (svc.spec.ports as Manifest[]).find((p) => p.port === port);
  if (entry === undefined) throw new Error(`Service ${service} has no port ${port}`);
  const deployment = of(manifests, 'Deployment').find((d) =>
    Object.entries(svc.spec.selector as Record<string, string>).every(
      ([key, value]) => d.spec.template.metadata.labels[key] === value,
    ),
  )!;
  const ports = deployment.spec.template.spec.containers[0].ports as Manifest[];
  const target = ports.find((p) => p.name === entry.targetPort || p.containerPort === entry.targetPort)!;
  return { name: target.name, number: target.containerPort };
}

function routeMatches(route: Manifest): string[] {
  return (route.spec.rules as Manifest[]).flatMap((rule) =>
    (rule.matches as Manifest[]).map((m) => `${m.method} ${m.path.type}:${m.path.value}`),
  );
}

function checkEdge(manifests: Manifest[]): void {
  const routes = of(manifests, 'HTTPRoute');
  const to_gateway = routes.filter((route) =>
    (route.spec.rules as Manifest[]).some((rule) =>
      (rule.backendRefs as Manifest[]).some((ref) => ref.name === 'afc-gateway'),
    ),
  );
  // Only Marqeta's two routes, exact paths, POST only, in one route.
  expect(to_gateway.map((r) => r.metadata.name)).toEqual(['afc-gateway']);
  expect(routeMatches(to_gateway[0]!).sort()).toEqual(
    JIT_ROUTES.map((r) => r.replace(' ', ' Exact:')).sort(),
  );

  // No route reaches an internal port, and no Service of a public process exposes one.
  for (const route of routes) {
    for (const rule of route.spec.rules as Manifest[]) {
      for (const ref of rule.backendRefs as Manifest[]) {
        expect(
          servicePortTarget(manifests, ref.name, ref.port).name,
          `${route.metadata.name} -> ${ref.name}`,
        ).toBe('http');
      }
    }
  }
  for (const name of ['afc-gateway', 'afc-api']) {
    const ports = find(manifests, 'Service', name).spec.ports as Manifest[];
    expect(ports.map((p) => p.targetPort)).toEqual(['http']);
  }

  // TLS required: HTTPS listeners only, each with a certificate cert-manager issues for its host;
  // every route is bound to one of them, for that host.
  const certificates = of(manifests, 'Certificate');
  for (const gateway of of(manifests, 'Gateway')) {
    for (const listener of gateway.spec.listeners as Manifest[]) {
      expect(listener.protocol, listener.name).toBe('HTTPS');
      expect(listener.port).toBe(443);
      expect(listener.tls.mode).toBe('Terminate');
      const secret = listener.tls.certificateRefs[0].name;
      const certificate = certificates.find((c) => c.spec.secretName === secret);
      expect(certificate, `certificate for ${secret}`).toBeDefined();
      expect(certificate!.spec.dnsNames).toContain(listener.hostname);
      expect(certificate!.spec.issuerRef.kind).toMatch(/Issuer$/);
    }
  }
  for (const route of routes) {
    for (const parent of route.spec.parentRefs as Manifest[]) {
      const gateway = find(manifests, 'Gateway', parent.name);
      const listener = (gateway.spec.listeners as Manifest[]).find((l) => l.name === parent.sectionName);
      expect(listener, `${route.metadata.name} listener ${parent.sectionName}`).toBeDefined();
      expect(route.spec.hostnames).toEqual([listener!.hostname]);
    }
  }
  expect(of(manifests, 'Ingress')).toEqual([]);

  // Within Marqeta's 3 s: the route, the client side of the listener, and the body size.
  const [rule] = find(manifests, 'HTTPRoute', 'afc-gateway').spec.rules as Manifest[];
  const request_ms = durationMs(rule!.timeouts.request);
  expect(request_ms).toBeLessThan(MARQETA_WAIT_MS);
  expect(durationMs(rule!.timeouts.backendRequest)).toBeLessThanOrEqual(request_ms);
  const client = of(manifests, 'ClientTrafficPolicy').find((p) =>
    (p.spec.targetRefs as Manifest[]).some((t) => t.kind === 'Gateway' && t.name === 'afc-edge'),
  )!;
  expect(durationMs(client.spec.timeout.http.requestReceivedTimeout)).toBeLessThan(MARQETA_WAIT_MS);
  expect(client.spec.tls.minVersion).toBe('1.2');
  const buffer = find(manifests, 'BackendTrafficPolicy', 'afc-gateway');
  expect(buffer.spec.targetRefs).toEqual([
    { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'afc-gateway' },
  ]);
  expect(quantityBytes(buffer.spec.requestBuffer.limit)).toBe(
    loadGatewayConfig({ ...process.env }).body_limit_bytes,
  );
}

// --- network policies -------------------------------------------------------------------------

function selects(selector: Manifest, labels: Record<string, string>): boolean {
  const match = Object.entries((selector.matchLabels ?? {}) as Record<string, string>).every(
    ([key, value]) => labels[key] === value,
  );
  const expressions = ((selector.matchExpressions ?? []) as Manifest[]).every((e) => {
    expect(e.operator).toBe('In');
    return (e.values as string[]).includes(labels[e.key]!);
  });
  return match && expressions;
}

const STORE_PORTS: Record<string, string> = {
  '53': 'dns',
  '5432': 'postgresql',
  '27017': 'mongodb',
  '6379': 'redis',
  '6380': 'redis',
  '5671': 'rabbitmq',
  '5672': 'rabbitmq',
  '443': 'internet-https',
};

function peerName(peer: Manifest): string {
  if (peer.ipBlock) return `ip:${peer.ipBlock.cidr}`;
  const ns = peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] ?? 'same-namespace';
  const pod = peer.podSelector?.matchLabels
    ? `/${Object.values(peer.podSelector.matchLabels).join(',')}`
    : '';
  return `${ns}${pod}`;
}

/** The flows the policies allow a pod with these labels, as `egress <what>` / `ingress <from> -> <port>`. */
function allowedFlows(policies: Manifest[], labels: Record<string, string>): Set<string> {
  const flows = new Set<string>();
  for (const policy of policies.filter((p) => selects(p.spec.podSelector, labels))) {
    for (const rule of (policy.spec.egress ?? []) as Manifest[]) {
      for (const port of rule.ports as Manifest[])
        flows.add(`egress ${STORE_PORTS[String(port.port)] ?? port.port}`);
    }
    for (const rule of (policy.spec.ingress ?? []) as Manifest[]) {
      for (const peer of rule.from as Manifest[]) {
        for (const port of rule.ports as Manifest[]) flows.add(`ingress ${peerName(peer)} -> ${port.port}`);
      }
    }
  }
  return flows;
}

const STORES = ['egress dns', 'egress postgresql', 'egress mongodb', 'egress redis', 'egress rabbitmq'];
const SCRAPE = 'ingress monitoring/prometheus -> internal';
const EDGE = 'ingress envoy-gateway-system -> http';
/** The management API's console reads the gateway's and the worker's internal listeners. */
const CONSOLE = 'ingress same-namespace/afc-api -> internal';
const EXPECTED_FLOWS: Record<string, string[]> = {
  'afc-gateway': [...STORES, EDGE, SCRAPE, CONSOLE],
  'afc-worker': [...STORES, 'egress internet-https', SCRAPE, CONSOLE],
  'afc-api': [...STORES, SCRAPE, 'egress internal'],
  'afc-migrate': ['egress dns', 'egress postgresql', 'egress mongodb'],
};

function podLabels(manifests: Manifest[], name: string): Record<string, string> {
  if (name === 'afc-migrate') return documents('jobs/migrate.yaml')[0]!.spec.template.metadata.labels;
  return find(manifests, 'Deployment', name).spec.template.metadata.labels;
}

function checkPolicies(manifests: Manifest[], expected: Record<string, string[]>): void {
  const policies = of(manifests, 'NetworkPolicy');
  const deny = find(manifests, 'NetworkPolicy', 'afc-default-deny');
  expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  for (const [workload, flows] of Object.entries(expected)) {
    expect([...allowedFlows(policies, podLabels(manifests, workload))].sort(), workload).toEqual(
      [...flows].sort(),
    );
  }
  // Every port a policy names exists on the pods it selects.
  for (const name of ['afc-gateway', 'afc-worker', 'afc-api']) {
    const labels = podLabels(manifests, name);
    const ports = (
      find(manifests, 'Deployment', name).spec.template.spec.containers[0].ports as Manifest[]
    ).map((p) => p.name);
    for (const policy of policies.filter((p) => selects(p.spec.podSelector, labels))) {
      for (const rule of (policy.spec.ingress ?? []) as Manifest[])
        for (const port of rule.ports as Manifest[])
          expect(ports, `${policy.metadata.name} on ${name}`).toContain(port.port);
    }
  }
  // The worker's internet egress leaves private, loopback, link-local (metadata) and shared ranges closed.
  const https = find(manifests, 'NetworkPolicy', 'afc-worker-https-egress').spec.egress[0];
  const blocks = (https.to as Manifest[]).map((peer) => peer.ipBlock as { cidr: string; except: string[] });
  for (const address of [
    '10.1.2.3',
    '172.20.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '127.0.0.1',
    '100.64.0.1',
    'fd00::1',
    'fe80::1',
  ]) {
    const ip = ipaddr.parse(address);
    const allowed = blocks.some(
      (block) =>
        ip.kind() === ipaddr.parseCIDR(block.cidr)[0].kind() &&
        ip.match(ipaddr.parseCIDR(block.cidr)) &&
        !block.except.some(
          (cidr) => ipaddr.parseCIDR(cidr)[0].kind() === ip.kind() && ip.match(ipaddr.parseCIDR(cidr)),
        ),
    );
    expect(allowed, address).toBe(false);
  }
}

describe('gateway edge (base manifests)', () => {
  const base = baseManifests();

  it('routes only POST /api/transactions/authorize and /api/webhooks/marqeta, over TLS, within 3 s, never to an internal port', () => {
    checkEdge(base);
  });

  it('names its controller: Gateway API v1 on the envoy-gateway class, cert-manager certificates', () => {
    const gateway = find(base, 'Gateway', 'afc-edge');
    expect(gateway.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(gateway.spec.gatewayClassName).toBe('envoy-gateway');
    expect(find(base, 'HTTPRoute', 'afc-gateway').apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(find(base, 'Certificate', 'afc-gateway-tls').apiVersion).toBe('cert-manager.io/v1');
    expect(readFileSync(join(K8S, 'base/gateway-edge.yaml'), 'utf8')).toMatch(
      /Envoy Gateway, pinned to v\d+\.\d+\.\d+/,
    );
  });

  it('publishes no management API host by default', () => {
    const routes = of(base, 'HTTPRoute');
    expect(routes.map((r) => r.metadata.name)).toEqual(['afc-gateway']);
    expect(find(base, 'Gateway', 'afc-edge').spec.listeners).toHaveLength(1);
  });

  it('probes and Prometheus use the internal port the configuration sets; the public port serves traffic only', () => {
    const kustomization = parse(readFileSync(join(K8S, 'base/kustomization.yaml'), 'utf8')) as Manifest;
    const env = Object.fromEntries(
      (kustomization.configMapGenerator[0].literals as string[]).map((l) => [
        l.split('=')[0],
        l.slice(l.indexOf('=') + 1),
      ]),
    );
    const required = { ...process.env, ...env };
    const internal_ports: Record<string, number> = {
      'afc-gateway': loadGatewayConfig(required).internal_port,
      'afc-worker': Number(env.WORKER_HEALTH_PORT),
      'afc-api': loadApiConfig(required).internal_port,
    };
    for (const [name, internal_port] of Object.entries(internal_ports)) {
      const template = find(base, 'Deployment', name).spec.template;
      const container = template.spec.containers[0];
      const internal = (container.ports as Manifest[]).find((p) => p.name === 'internal')!;
      expect(internal.containerPort, name).toBe(internal_port);
      expect(template.metadata.annotations['prometheus.io/port'], name).toBe(String(internal_port));
      for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
        expect((probe.httpGet ?? probe.tcpSocket).port, `${name} probe`).toBe('internal');
      }
    }
  });
});

describe('network policies (base manifests)', () => {
  it('deny by default; each workload is allowed exactly the flows it uses', () => {
    checkPolicies(baseManifests(), EXPECTED_FLOWS);
  });

  it('the datastore address blocks are documentation ranges until an overlay sets them (fail closed)', () => {
    for (const name of ['postgresql', 'mongodb', 'redis', 'rabbitmq']) {
      const policy = find(baseManifests(), 'NetworkPolicy', `afc-${name}-egress`);
      const cidr = ipaddr.parseCIDR(policy.spec.egress[0].to[0].ipBlock.cidr);
      expect(cidr[0].range(), name).toBe('reserved');
    }
  });
});

describe.skipIf(!kubectlAvailable())('rendered with kustomize', () => {
  it('the example overlay: same edge, host names agree, same policies', () => {
    const manifests = renderedExample([]);
    checkEdge(manifests);
    checkPolicies(manifests, EXPECTED_FLOWS);
    expect(find(manifests, 'HTTPRoute', 'afc-gateway').spec.hostnames).toEqual([
      'jit.afc-example.example.com',
    ]);
  });

  it('with api-edge: the API on a host of its own, TLS, its public port only; the gateway route unchanged', () => {
    const manifests = renderedExample(['api-edge']);
    checkEdge(manifests);
    const api = find(manifests, 'HTTPRoute', 'afc-api');
    const jit = find(manifests, 'HTTPRoute', 'afc-gateway');
    expect(api.spec.hostnames).not.toEqual(jit.spec.hostnames);
    expect(find(manifests, 'Gateway', 'afc-edge').spec.listeners).toHaveLength(2);
    checkPolicies(manifests, { ...EXPECTED_FLOWS, 'afc-api': [...EXPECTED_FLOWS['afc-api']!, EDGE] });
  });

  it('with marqeta-allowlist: only the listed source ranges reach the JIT route', () => {
    const manifests = renderedExample(['marqeta-allowlist']);
    const policy = find(manifests, 'SecurityPolicy', 'afc-gateway-marqeta-only');
    expect(policy.apiVersion).toBe('gateway.envoyproxy.io/v1alpha1');
    expect(policy.spec.targetRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'afc-gateway' },
    ]);
    expect(policy.spec.authorization.defaultAction).toBe('Deny');
    const [rule] = policy.spec.authorization.rules as Manifest[];
    expect(rule!.action).toBe('Allow');
    for (const cidr of rule!.principal.clientCIDRs as string[])
      expect(ipaddr.isValidCIDR(cidr), cidr).toBe(true);
  });
});
