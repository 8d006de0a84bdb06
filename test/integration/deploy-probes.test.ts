// The paths the deployment manifests and compose probe and scrape are real routes of the
// internal listener that answer 200 on a healthy process (a typo in a probe path would keep every
// pod out of service).
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { startTestApi, type TestApi } from '../support/api-harness.ts';
import { startTestGateway } from '../support/gateway-harness.ts';

type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw.close();
});

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML
type Manifest = Record<string, any>;

function gatewayPaths(): string[] {
  const manifests = parseAllDocuments(
    readFileSync(new URL('../../deploy/k8s/base/gateway.yaml', import.meta.url), 'utf8'),
  );
  const deployment = manifests.map((doc) => doc.toJS() as Manifest).find((m) => m.kind === 'Deployment')!;
  const container = deployment.spec.template.spec.containers[0];
  const probes = [container.startupProbe, container.readinessProbe, container.livenessProbe];
  const paths = probes.map((probe: Manifest) => probe.httpGet.path as string);
  paths.push(deployment.spec.template.metadata.annotations['prometheus.io/path']);
  const compose = parse(readFileSync(new URL('../../compose.yaml', import.meta.url), 'utf8'), {
    merge: true,
  });
  const check = (compose.services.gateway.healthcheck.test as string[]).join(' ');
  paths.push(/127\.0\.0\.1:9080(\/[^']*)/.exec(check)![1]!);
  return [...new Set(paths)];
}

describe('gateway probe and scrape paths', () => {
  it.each(gatewayPaths())('GET %s answers 200 on a healthy gateway', async (path) => {
    const response = await gw.internal_app.inject({ method: 'GET', url: path });
    expect(response.statusCode).toBe(200);
  });

  it('the liveness path checks no dependency: it answers while readiness fails on Redis', async () => {
    const ended = once(gw.redis, 'end');
    gw.redis.disconnect();
    await ended;
    try {
      expect((await gw.internal_app.inject({ method: 'GET', url: '/api/health/ready' })).statusCode).toBe(
        503,
      );
      expect((await gw.internal_app.inject({ method: 'GET', url: '/api/health/live' })).statusCode).toBe(200);
    } finally {
      await gw.redis.connect();
    }
  });
});

describe('management API probe paths', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });

  function apiPaths(): string[] {
    const manifests = parseAllDocuments(
      readFileSync(new URL('../../deploy/k8s/base/api.yaml', import.meta.url), 'utf8'),
    );
    const deployment = manifests.map((doc) => doc.toJS() as Manifest).find((m) => m.kind === 'Deployment')!;
    const container = deployment.spec.template.spec.containers[0];
    const paths = [container.startupProbe, container.readinessProbe, container.livenessProbe]
      .filter((probe: Manifest) => probe.httpGet !== undefined)
      .map((probe: Manifest) => probe.httpGet.path as string);
    const compose = parse(readFileSync(new URL('../../compose.yaml', import.meta.url), 'utf8'), {
      merge: true,
    });
    const check = (compose.services.api.healthcheck.test as string[]).join(' ');
    paths.push(/127\.0\.0\.1:9082(\/[^']*)/.exec(check)![1]!);
    return [...new Set(paths)];
  }

  it.each(apiPaths())('GET %s answers 200 without an API key on a healthy API', async (path) => {
    const response = await api.internal_app.inject({ method: 'GET', url: path });
    expect(response.statusCode).toBe(200);
  });
});
