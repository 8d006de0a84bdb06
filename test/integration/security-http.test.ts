// HTTP hardening of the gateway and the management API: security headers on every answer,
// CORS off (no access-control-* header for any origin), body limits answered 413 in our error
// shape, load shedding answered 503 in our shape with Retry-After (probes exempt), and MongoDB
// operator keys refused with 400 before any store is reached.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKey, bearer, startTestApi, type TestApi } from '../support/api-harness.ts';
import { createBusinessCard } from '../support/cardholders.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';
import { waitFor } from '../../shared/dev/processes.ts';

type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;
type Headers = Record<string, string | string[] | number | undefined>;

let gw: TestGateway;
let api: TestApi;
let admin: Record<string, string>;

beforeAll(async () => {
  gw = await startTestGateway({ BODY_LIMIT_BYTES: '4096' });
  api = await startTestApi({ API_BODY_LIMIT_BYTES: '4096' });
  admin = bearer(await apiKey(api, null, ['admin']));
});
afterAll(async () => {
  await gw.close();
  await api.close();
});

const webhookAuth = () => basicAuth(process.env.MARQETA_WEBHOOK_USER, process.env.MARQETA_WEBHOOK_PASSWORD);

function expectErrorShape(body: unknown, code: string): void {
  expect(body).toMatchObject({
    error: { code, message: expect.any(String) },
    request_id: expect.any(String),
  });
}

function expectNoCors(headers: Headers): void {
  for (const name of Object.keys(headers)) expect(name.startsWith('access-control-')).toBe(false);
}

describe('security headers and CORS', () => {
  it('the gateway sends nosniff, no-store and no x-powered-by on answers, errors and probes', async () => {
    const answers = await Promise.all([
      gw.internal_app.inject({ method: 'GET', url: '/api/health/live' }),
      gw.app.inject({ method: 'POST', url: '/api/transactions/authorize', payload: {} }),
      gw.app.inject({ method: 'GET', url: '/no/such/route' }),
    ]);
    for (const answer of answers) {
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(answer.headers['x-frame-options']).toBe('DENY');
      expect(answer.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('the API sends nosniff, no-store and no x-powered-by', async () => {
    for (const answer of await Promise.all([
      api.internal_app.inject({ method: 'GET', url: '/api/health/ready' }),
      api.app.inject({ method: 'GET', url: '/api/companies' }),
      api.app.inject({ method: 'GET', url: '/api/companies', headers: admin }),
    ])) {
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['cache-control']).toBe('no-store');
      expect(answer.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('CORS is off: no access-control-* header for a cross-origin request or preflight', async () => {
    const origin = { origin: 'https://evil.example', 'access-control-request-method': 'POST' };
    for (const app of [gw.app, gw.internal_app, api.app, api.internal_app]) {
      for (const method of ['OPTIONS', 'GET', 'POST'] as const) {
        for (const url of ['/api/transactions/authorize', '/api/companies', '/api/health']) {
          expectNoCors((await app.inject({ method, url, headers: origin })).headers);
        }
      }
    }
  });
});

describe('body limits', () => {
  const big = JSON.stringify({ padding: 'x'.repeat(8_192) });

  it('the gateway answers 413 GW_ERR_BODY_TOO_LARGE on the JIT endpoint and on notifications', async () => {
    for (const [url, authorization] of [
      ['/api/transactions/authorize', basicAuth()],
      ['/api/webhooks/marqeta', webhookAuth()],
    ] as const) {
      const answer = await gw.app.inject({
        method: 'POST',
        url,
        headers: { authorization, 'content-type': 'application/json' },
        payload: big,
      });
      expect(answer.statusCode).toBe(413);
      expectErrorShape(answer.json(), 'GW_ERR_BODY_TOO_LARGE');
    }
  });

  it('the API answers 413 API_ERR_BODY_TOO_LARGE', async () => {
    const answer = await api.app.inject({
      method: 'POST',
      url: '/api/companies',
      headers: { ...admin, 'content-type': 'application/json' },
      payload: big,
    });
    expect(answer.statusCode).toBe(413);
    expectErrorShape(answer.json(), 'API_ERR_BODY_TOO_LARGE');
  });
});

describe('MongoDB operator injection', () => {
  it('an object where the JIT endpoint expects a token is refused with 400', async () => {
    const card = await createBusinessCard(gw.sql);
    const cases: ((body: Record<string, unknown>) => void)[] = [
      (body) => {
        body.card_token = { $ne: null };
      },
      (body) => {
        body.user_token = { $gt: '' };
      },
      (body) => {
        (body.gpa_order as { jit_funding: Record<string, unknown> }).jit_funding.token = { $exists: true };
      },
      (body) => {
        body.card_acceptor = { mcc: { $regex: '.*' } };
      },
      // "$" keys are refused even where unknown fields are otherwise accepted and ignored.
      (body) => {
        body.$where = 'sleep(1000)';
      },
      (body) => {
        body.metadata = { nested: [{ $set: { balance_minor: 1 } }] };
      },
    ];
    for (const mutate of cases) {
      const body = jitRequest({ ...card, amount: 1 });
      mutate(body);
      const answer = await gw.app.inject({
        method: 'POST',
        url: '/api/transactions/authorize',
        headers: { authorization: basicAuth() },
        payload: body,
      });
      expect(answer.statusCode).toBe(400);
      expectErrorShape(answer.json(), 'GW_ERR_BAD_REQUEST');
    }
  });

  it('an object where a notification expects a token is refused with 400', async () => {
    for (const transaction of [
      {
        token: 't1',
        state: 'DECLINED',
        card_token: { $ne: null },
        gpa_order: { jit_funding: { token: 'j1', amount: 1 } },
      },
      { token: { $gt: '' }, state: 'DECLINED' },
      {
        token: 't2',
        state: 'DECLINED',
        card_token: 'c1',
        gpa_order: { jit_funding: { token: 'j2', user_token: { $ne: 'x' } } },
      },
      { token: 't3', $where: 'true' },
    ]) {
      const answer = await gw.app.inject({
        method: 'POST',
        url: '/api/webhooks/marqeta',
        headers: { authorization: webhookAuth() },
        payload: { transactions: [transaction] },
      });
      expect(answer.statusCode).toBe(400);
      expectErrorShape(answer.json(), 'GW_ERR_BAD_REQUEST');
    }
  });

  it('the API refuses operator objects and "$" keys on every route that reaches MongoDB', async () => {
    const user = await api.app.inject({
      method: 'POST',
      url: '/api/personal-users',
      headers: admin,
      payload: { email: `injection-${Date.now()}@example.test` },
    });
    expect(user.statusCode).toBe(201);
    const user_id = user.json().id as string;
    const requests: { method: 'POST' | 'PATCH'; url: string; payload: Record<string, unknown> }[] = [
      { method: 'POST', url: '/api/personal-users', payload: { email: { $ne: null } } },
      { method: 'POST', url: '/api/personal-users', payload: { email: 'a@example.test', $where: 'true' } },
      { method: 'PATCH', url: `/api/personal-users/${user_id}`, payload: { status: { $ne: 'active' } } },
      {
        method: 'PATCH',
        url: `/api/personal-users/${user_id}`,
        payload: { $set: { kyc_status: 'verified' } },
      },
      {
        method: 'POST',
        url: '/api/cards',
        payload: { kind: 'personal', user_id: { $gt: '' }, currency_code: 'USD' },
      },
      {
        method: 'POST',
        url: '/api/cards',
        payload: { kind: 'personal', user_id, currency_code: 'USD', card_token: { $ne: null } },
      },
      {
        method: 'POST',
        url: `/api/cards/${'a'.repeat(24)}/balance/loads`,
        payload: { amount_minor: { $gt: 0 } },
      },
    ];
    for (const request of requests) {
      const answer = await api.app.inject({ ...request, headers: admin });
      expect(answer.statusCode, `${request.method} ${request.url} ${JSON.stringify(request.payload)}`).toBe(
        400,
      );
      expectErrorShape(answer.json(), 'API_ERR_BAD_REQUEST');
    }
    for (const url of [
      '/api/cards?user_id[$ne]=x',
      '/api/transactions?card_id[$gt]=',
      `/api/personal-users/${user_id}?$where=1`,
    ]) {
      expect((await api.app.inject({ method: 'GET', url, headers: admin })).statusCode).toBeLessThan(500);
    }
  });
});

describe('load shedding', () => {
  it('past a threshold the JIT endpoint answers 503 GW_ERR_UNAVAILABLE with Retry-After; probes and metrics are served', async () => {
    // A heap threshold below any running process's heap: the gateway is "overloaded" at once.
    const shedding = await startTestGateway({ OVERLOAD_HEAP_USED_MB_MAX: '16', OVERLOAD_RETRY_AFTER_S: '3' });
    try {
      const authorize = () =>
        shedding.app.inject({
          method: 'POST',
          url: '/api/transactions/authorize',
          headers: { authorization: basicAuth() },
          payload: {},
        });
      await waitFor(async () => (await authorize()).statusCode === 503, 'shedding to start', 10_000);
      const answer = await authorize();
      expectErrorShape(answer.json(), 'GW_ERR_UNAVAILABLE');
      expect(answer.headers['retry-after']).toBe('3');
      for (const url of ['/api/health/live', '/api/health/ready', '/metrics']) {
        expect((await shedding.internal_app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
      }
    } finally {
      await shedding.close();
    }
  });

  it('the API sheds with 503 API_ERR_UNAVAILABLE and keeps its probes', async () => {
    const shedding = await startTestApi({ OVERLOAD_HEAP_USED_MB_MAX: '16' });
    try {
      const list = () => shedding.app.inject({ method: 'GET', url: '/api/companies', headers: admin });
      await waitFor(async () => (await list()).statusCode === 503, 'shedding to start', 10_000);
      const answer = await list();
      expectErrorShape(answer.json(), 'API_ERR_UNAVAILABLE');
      expect(answer.headers['retry-after']).toBe('2');
      expect(
        (await shedding.internal_app.inject({ method: 'GET', url: '/api/health/ready' })).statusCode,
      ).toBe(200);
    } finally {
      await shedding.close();
    }
  });
});
