// Log hygiene: secrets seeded through every endpoint of the gateway, the management API and
// the worker (valid and invalid requests, 401s, 400s, 404s, 500s, undecodable messages), with
// each process's logger at trace level writing to a captured stream, never appear in the
// output: no PAN, CVV, password, API key, Basic-auth header or full card token (card tokens
// only masked, ****abcd). Also: an unexpected error (500) is logged with the request id, who
// asked, the masked card token and the stack (seed property 12).
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi, type Api } from '../../api/api.ts';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withVhost } from '../../bench/runner/env.ts';
import { createGateway, type Gateway } from '../../gateway/gateway.ts';
import { loadApiConfig, loadGatewayConfig } from '../../shared/config.ts';
import { createLogger, maskToken } from '../../shared/logger.ts';
import { startDecisionConsumer } from '../../worker/decisions/consumer.ts';
import { createWorker, type Worker } from '../../worker/worker.ts';
import { apiKey, apiKeySecret } from '../support/api-harness.ts';
import { createBusinessCard, createPersonalCard, type CreatedCard } from '../support/cardholders.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';
import { waitFor } from '../../shared/dev/processes.ts';
import {
  decisionEvent,
  deleteWorkQueue,
  publishEvents,
  testWorkerConfig,
  uniqueQueue,
} from '../support/worker-harness.ts';

const PAN = '4111111111111111';
const CVV = '8462';
const WRONG_PASSWORD = 'Wr0ng-Passw0rd-Seeded-For-Log-Scan';
const API_KEY_GUESS = `afc_deadbeef00000000_${'S3cretKeyMaterial'.repeat(3)}`;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

const output = new Capture();
const log = (name: string) => createLogger(name, 'trace', output);
const vhost = `afc-logscan-${randomUUID().slice(0, 8)}`;
const queue = uniqueQueue();
let gateway: Gateway;
let api: Api;
let worker: Worker;
let business: CreatedCard;
let personal: CreatedCard;
let api_key: string;

beforeAll(async () => {
  await createVhost(vhost);
  const env = {
    ...process.env,
    RABBITMQ_URL: withVhost(process.env.RABBITMQ_URL!, vhost),
    REDIS_KEY_PREFIX: `ls${randomUUID().slice(0, 8)}`,
    REDIS_SHARDS: '4',
    LOG_LEVEL: 'trace',
  };
  gateway = await createGateway(loadGatewayConfig({ ...env, GATEWAY_PORT: '0' }), log('gateway'), {
    relay_consumer_name: 'log-scan',
    relay_enabled: false,
    hold_expiry_enabled: false,
  });
  api = await createApi(loadApiConfig({ ...env, API_PORT: '0' }), log('api'));
  worker = await createWorker(testWorkerConfig({ ...env, WORKER_DECISIONS_QUEUE: queue }), log('worker'), {
    consumers: [startDecisionConsumer],
  });
  business = await createBusinessCard(gateway.sql);
  personal = await createPersonalCard(gateway.mongo.db(), { balance_minor: 10_000n });
  api_key = await apiKey(api, null, ['admin']);
});
afterAll(async () => {
  await worker?.close();
  await api?.close();
  await gateway?.close();
  const rabbit = new Connection(process.env.RABBITMQ_URL!);
  await deleteWorkQueue(rabbit, queue).catch(() => {});
  await rabbit.close();
  await deleteVhost(vhost);
});

/** A JIT request for a card with card data Marqeta never sends but an attacker might. */
function hostileJit(card: CreatedCard, extra: Record<string, unknown> = {}) {
  return {
    ...jitRequest({ ...card, amount: 12.5 }),
    pan: PAN,
    card: { pan: PAN, cvv_number: CVV, expiration: '1230', last_four: '1111' },
    card_acceptor: { name: `Shop ${PAN}`, mcc: '5812', mid: PAN },
    ...extra,
  };
}

const webhookAuth = () => basicAuth(process.env.MARQETA_WEBHOOK_USER, process.env.MARQETA_WEBHOOK_PASSWORD);

async function exerciseGateway(): Promise<void> {
  const app = gateway.app;
  const authorize = (headers: Record<string, string>, payload: unknown) =>
    app.inject({
      method: 'POST',
      url: `/api/transactions/authorize?pan=${PAN}&cvv=${CVV}`,
      headers,
      payload: payload as string,
    });
  for (const card of [business, personal]) {
    expect((await authorize({ authorization: basicAuth() }, hostileJit(card))).statusCode).toBeLessThan(500);
    await authorize(
      { authorization: basicAuth() },
      hostileJit(card, {
        gpa_order: {
          jit_funding: { token: 'j', method: 'pgfs.unknown.method', user_token: card.user_token, amount: 1 },
        },
      }),
    );
    await authorize({ authorization: basicAuth('marqeta', WRONG_PASSWORD) }, hostileJit(card));
    await authorize(
      { authorization: basicAuth() },
      { ...hostileJit(card), currency_code: PAN, amount: { $ne: CVV } },
    );
    await authorize(
      { authorization: basicAuth(), 'content-type': 'application/json' },
      `{"card_token":"${card.card_token}","pan":"${PAN}",`,
    );
    for (const url of ['/api/webhooks/marqeta', `/api/webhooks/marqeta?password=${WRONG_PASSWORD}`]) {
      for (const authorization of [webhookAuth(), basicAuth('marqeta-webhooks', WRONG_PASSWORD)]) {
        await app.inject({
          method: 'POST',
          url,
          headers: { authorization, 'x-marqeta-signature': WRONG_PASSWORD },
          payload: {
            transactions: [
              {
                token: uniqueId(),
                state: 'DECLINED',
                card_token: card.card_token,
                user_token: card.user_token,
                amount: 1,
                currency_code: 'USD',
                pan: PAN,
                gpa_order: { jit_funding: { token: uniqueId(), amount: 1 } },
              },
              {
                token: uniqueId(),
                state: 'DECLINED',
                card_token: card.card_token,
                amount: '1.999',
                gpa_order: { jit_funding: { token: uniqueId() } },
              },
            ],
          },
        });
      }
    }
  }
  for (const target of [app, gateway.internal_app]) {
    for (const url of [
      '/api/health',
      '/api/health/ready',
      '/metrics',
      `/no/such/${PAN}?cvv=${CVV}&card_token=${business.card_token}`,
    ]) {
      await target.inject({
        method: 'GET',
        url,
        headers: { authorization: basicAuth('x', WRONG_PASSWORD), cookie: `session=${WRONG_PASSWORD}` },
      });
    }
  }
}

function uniqueId(): string {
  return `t${randomUUID().replaceAll('-', '').slice(0, 20)}`;
}

async function exerciseApi(): Promise<void> {
  const app = api.app;
  const good = { authorization: `Bearer ${api_key}` };
  const call = (
    method: 'GET' | 'POST' | 'PATCH',
    url: string,
    headers: Record<string, string>,
    payload?: unknown,
  ) => app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as string }) });
  for (const headers of [
    good,
    { authorization: `Bearer ${API_KEY_GUESS}` },
    { authorization: basicAuth('admin', WRONG_PASSWORD) },
    { 'x-api-key': API_KEY_GUESS },
  ]) {
    await call('GET', `/api/cards?card_token=${business.card_token}&pan=${PAN}`, headers);
    await call('GET', `/api/personal-users?password=${WRONG_PASSWORD}`, headers);
    await call('POST', '/api/personal-users', headers, {
      email: `${uniqueId()}@example.test`,
      password: WRONG_PASSWORD,
      pan: PAN,
    });
    await call('POST', '/api/cards', headers, {
      kind: 'business',
      user_id: business.user_id,
      currency_code: 'USD',
      card_token: business.card_token,
      cvv: CVV,
    });
    await call('POST', '/api/cards', headers, {
      kind: 'personal',
      user_id: personal.user_id,
      currency_code: 'USD',
      card_token: uniqueId(),
      card_product_token: PAN,
    });
    await call(
      'POST',
      `/api/cards/${personal.card_id}/balance/loads`,
      { ...headers, 'idempotency-key': uniqueId() },
      { amount_minor: PAN, currency_code: 'USD' },
    );
    await call('POST', '/api/api-keys', headers, {
      name: API_KEY_GUESS,
      company_id: null,
      scopes: ['read'],
      key: API_KEY_GUESS,
    });
    await call('GET', `/api/transactions?card_token=${personal.card_token}`, headers);
    await call(
      'POST',
      '/api/companies',
      { ...headers, 'content-type': 'application/json' },
      `{"name":"${PAN}",`,
    );
  }
}

async function exerciseWorker(): Promise<void> {
  const rabbit = new Connection(withVhost(process.env.RABBITMQ_URL!, vhost));
  try {
    const valid = decisionEvent({ card: business, kind: 'business', amount_minor: 100n });
    const unknown_card = decisionEvent({
      card: { ...business, card_id: randomUUID() },
      kind: 'business',
      amount_minor: 100n,
    });
    const undecodable = {
      ...decisionEvent({ card: personal, kind: 'personal', amount_minor: 100n }),
      pan: PAN,
      card_id: PAN,
      v: CVV,
    };
    await publishEvents(rabbit, queue, [valid, unknown_card, undecodable, `${PAN} ${personal.card_token}`]);
  } finally {
    await rabbit.close();
  }
  await waitFor(
    // A decision that cannot be read is parked on its own ('decision dead-lettered'), a message
    // that is no batch at all as a whole ('undecodable decision message dead-lettered').
    async () => /(undecodable decision message|decision) dead-lettered/.test(output.text),
    'the worker to dead-letter',
    30_000,
  );
}

describe('log scan', () => {
  it('no PAN, CVV, password, API key, Basic-auth header or full card token in any log line, at trace level', async () => {
    await exerciseGateway();
    await exerciseApi();
    await exerciseWorker();
    const text = output.text;
    expect(text.length).toBeGreaterThan(1000);
    const secrets: Record<string, string> = {
      pan: PAN,
      cvv: `"${CVV}"`,
      wrong_password: WRONG_PASSWORD,
      gateway_password: process.env.GATEWAY_BASIC_AUTH_PASSWORD!,
      webhook_password: process.env.MARQETA_WEBHOOK_PASSWORD!,
      api_key: api_key,
      api_key_secret: apiKeySecret(api_key),
      api_key_guess: API_KEY_GUESS,
      basic_header: basicAuth().slice('Basic '.length),
      webhook_basic_header: webhookAuth().slice('Basic '.length),
      business_card_token: business.card_token,
      personal_card_token: personal.card_token,
    };
    const found = Object.entries(secrets).flatMap(([name, value]) =>
      text
        .split('\n')
        .filter((line) => line.includes(value))
        .map((line) => `${name}: ${line.slice(0, 400)}`),
    );
    expect(found).toEqual([]);
    // Card tokens are there, masked, so a line can still be tied to a card.
    expect(text).toContain(maskToken(business.card_token));
  });

  it('an unexpected error is logged with request id, masked card token, who asked and the stack', async () => {
    const lines = () =>
      output.text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    // The gateway has no natural 500 (store failures are declines or 503s): a route that throws.
    const gw = await createGateway(
      loadGatewayConfig({
        ...process.env,
        GATEWAY_PORT: '0',
        REDIS_KEY_PREFIX: `le${randomUUID().slice(0, 8)}`,
      }),
      log('gateway-500'),
      {
        relay_enabled: false,
        hold_expiry_enabled: false,
      },
    );
    try {
      gw.app.post('/test/fail', async () => {
        throw new Error('simulated failure');
      });
      const failed = await gw.app.inject({
        method: 'POST',
        url: '/test/fail',
        headers: { 'x-request-id': 'req-gw-500' },
        payload: hostileJit(business),
      });
      expect(failed.statusCode).toBe(500);
      expect(failed.json()).toEqual({
        error: { code: 'GW_ERR_INTERNAL', message: expect.any(String) },
        request_id: 'req-gw-500',
      });
      const logged = lines().find((line) => line.request_id === 'req-gw-500' && line.level === 50);
      expect(logged).toMatchObject({
        card_token: maskToken(business.card_token),
        user_token: business.user_token,
        route: '/test/fail',
        err: { message: 'simulated failure', stack: expect.stringContaining('Error: simulated failure') },
      });
    } finally {
      await gw.close();
    }

    // The API: MongoDB gone under a request for a personal user.
    const broken = await createApi(
      loadApiConfig({ ...process.env, API_PORT: '0', REDIS_KEY_PREFIX: `le${randomUUID().slice(0, 8)}` }),
      log('api-500'),
    );
    try {
      await broken.mongo.close();
      const failed = await broken.app.inject({
        method: 'GET',
        url: `/api/personal-users/${personal.user_id}`,
        headers: { authorization: `Bearer ${api_key}`, 'x-request-id': 'req-api-500' },
      });
      expect(failed.statusCode).toBe(500);
      expect(failed.json().error.code).toBe('API_ERR_INTERNAL');
      const logged = lines().find((line) => line.request_id === 'req-api-500' && line.level === 50);
      expect(logged).toMatchObject({
        route: '/api/personal-users/:id',
        resource_id: personal.user_id,
        api_key_id: expect.any(String),
        company_id: null,
        err: { stack: expect.any(String) },
      });
    } finally {
      await broken.close();
    }
  });
});
