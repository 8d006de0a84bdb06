// One public surface per audience, over real HTTP on this machine: the gateway's public port
// answers only what Marqeta calls (health, readiness and /metrics are 404 there, in our error
// shape), its internal port serves them and nothing of the public surface; the same for the
// management API. The worker has only an internal port (worker-health.test.ts).
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../support/api-harness.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth } from '../support/jit-requests.ts';

type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;

const GATEWAY_DETAILS = ['/metrics', '/api/health', '/api/health/ready', '/api/health/live'];
const API_DETAILS = ['/metrics', '/api/health', '/api/health/ready'];

let gw: TestGateway;
let api: TestApi;
const origin: Record<'gateway' | 'gateway_internal' | 'api' | 'api_internal', string> = {
  gateway: '',
  gateway_internal: '',
  api: '',
  api_internal: '',
};

async function listen(app: FastifyInstance): Promise<string> {
  return app.listen({ host: '127.0.0.1', port: 0 });
}

beforeAll(async () => {
  gw = await startTestGateway();
  api = await startTestApi();
  origin.gateway = await listen(gw.app);
  origin.gateway_internal = await listen(gw.internal_app);
  origin.api = await listen(api.app);
  origin.api_internal = await listen(api.internal_app);
});
afterAll(async () => {
  await Promise.all([gw?.close(), api?.close()]);
});

describe('the gateway', () => {
  it('listens on two different ports', () => {
    expect(new URL(origin.gateway).port).not.toBe(new URL(origin.gateway_internal).port);
  });

  it.each(GATEWAY_DETAILS)(
    'public port: GET %s is 404 GW_ERR_NOT_FOUND, nothing of it leaks',
    async (path) => {
      const response = await fetch(`${origin.gateway}${path}`);
      expect(response.status).toBe(404);
      const body = await response.json();
      expect(body).toMatchObject({ error: { code: 'GW_ERR_NOT_FOUND' } });
      expect(JSON.stringify(body)).not.toMatch(/afc_|redis|postgresql|checks/);
    },
  );

  it('public port: the JIT endpoint and the notifications are served (401 without credentials)', async () => {
    for (const path of ['/api/transactions/authorize', '/api/webhooks/marqeta']) {
      const response = await fetch(`${origin.gateway}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(response.status, path).toBe(401);
    }
  });

  it('internal port: health, liveness, readiness and Prometheus metrics', async () => {
    const metrics = await fetch(`${origin.gateway_internal}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('afc_decisions_total');
    const health = await fetch(`${origin.gateway_internal}/api/health`);
    expect(health.status).toBe(200);
    const report = (await health.json()) as { checks: Record<string, unknown> };
    expect(Object.keys(report.checks)).toEqual(
      expect.arrayContaining(['redis', 'postgresql', 'mongodb', 'rabbitmq']),
    );
    for (const path of ['/api/health/live', '/api/health/ready'])
      expect((await fetch(`${origin.gateway_internal}${path}`)).status, path).toBe(200);
  });

  it('internal port: nothing of the public surface', async () => {
    const response = await fetch(`${origin.gateway_internal}/api/transactions/authorize`, {
      method: 'POST',
      headers: { authorization: basicAuth(), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'GW_ERR_NOT_FOUND' } });
  });
});

describe('the management API', () => {
  it.each(API_DETAILS)('public port: GET %s is 404 API_ERR_NOT_FOUND', async (path) => {
    const response = await fetch(`${origin.api}${path}`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: 'API_ERR_NOT_FOUND' } });
  });

  it('public port: the API is served (401 without a key)', async () => {
    expect((await fetch(`${origin.api}/api/companies`)).status).toBe(401);
  });

  it('internal port: health, readiness and Prometheus metrics, without an API key', async () => {
    for (const path of ['/api/health', '/api/health/ready'])
      expect((await fetch(`${origin.api_internal}${path}`)).status, path).toBe(200);
    const metrics = await fetch(`${origin.api_internal}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain('process="api"');
    expect(text).toContain('afc_pool_connections');
  });

  it('internal port: nothing of the public surface', async () => {
    expect((await fetch(`${origin.api_internal}/api/companies`)).status).toBe(404);
    expect((await fetch(`${origin.api_internal}/docs`)).status).toBe(404);
  });
});
