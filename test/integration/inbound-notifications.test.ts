// Marqeta's notifications on POST /api/webhooks/marqeta: authenticated, deduplicated, applied
// to the ledger exactly once, and handed to the worker through RabbitMQ.
import { createHmac, randomUUID } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXCHANGE_EVENTS } from '../../shared/broker/topology.ts';
import type { MarqetaNotificationEvent } from '../../shared/messages.ts';
import { decisionKeys } from '../../shared/redis-keys.ts';
import { createPersonalCard, uniqueToken, type CreatedCard } from '../support/cardholders.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';
import { waitFor } from '../../shared/dev/processes.ts';

const HMAC_SECRET = 'notification-secret-for-tests';
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let signed: Awaited<ReturnType<typeof startTestGateway>>;
const rabbit = new Connection(process.env.RABBITMQ_URL!);
const received = new Map<string, MarqetaNotificationEvent>();
let consumer: ReturnType<Connection['createConsumer']>;

beforeAll(async () => {
  gw = await startTestGateway();
  signed = await startTestGateway({ MARQETA_WEBHOOK_HMAC_SECRET: HMAC_SECRET });
  await rabbit.exchangeDeclare({ exchange: EXCHANGE_EVENTS, type: 'topic', durable: true });
  consumer = rabbit.createConsumer(
    {
      queue: `test.notifications.${randomUUID().slice(0, 8)}`,
      queueOptions: { exclusive: true, autoDelete: true },
      queueBindings: [{ exchange: EXCHANGE_EVENTS, routingKey: 'notification.#' }],
    },
    (message) => {
      const event = message.body as MarqetaNotificationEvent;
      received.set(event.event_token, event);
    },
  );
  await new Promise((resolve) => consumer.once('ready', resolve));
});
afterAll(async () => {
  await consumer.close();
  await rabbit.close();
  await gw.close();
  await signed.close();
});

const webhookAuth = () => basicAuth(process.env.MARQETA_WEBHOOK_USER, process.env.MARQETA_WEBHOOK_PASSWORD);

function notification(card: CreatedCard, jit_token: string, extra: Record<string, unknown>) {
  return {
    token: uniqueToken('txn'),
    type: 'authorization',
    state: 'DECLINED',
    card_token: card.card_token,
    user_token: card.user_token,
    amount: 25,
    currency_code: 'USD',
    subnetwork: 'GATEWAY_JIT',
    gpa_order: {
      jit_funding: {
        token: jit_token,
        method: 'pgfs.authorization',
        user_token: card.user_token,
        amount: 25,
      },
      funding: { gateway_log: { timed_out: false } },
    },
    ...extra,
  };
}

async function post(target: typeof gw, body: unknown, headers: Record<string, string> = {}) {
  const response = await target.app.inject({
    method: 'POST',
    url: '/api/webhooks/marqeta',
    headers: { authorization: webhookAuth(), 'content-type': 'application/json', ...headers },
    payload: JSON.stringify(body),
  });
  return { status: response.statusCode, body: response.json() };
}

async function held(target: typeof gw, card: CreatedCard) {
  return (
    (await target.redis.hget(
      decisionKeys(target.layout, card.user_token, card.card_token, '').ledger,
      'held',
    )) ?? '0'
  );
}

describe('POST /api/webhooks/marqeta', () => {
  it('refuses missing credentials with 401', async () => {
    const response = await gw.app.inject({
      method: 'POST',
      url: '/api/webhooks/marqeta',
      payload: { transactions: [] },
    });
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('GW_ERR_UNAUTHORIZED');
  });

  it('a timed-out approval is released once, however often Marqeta redelivers the notification', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    const auth = jitRequest({ ...card, amount: 25 });
    await gw.app.inject({
      method: 'POST',
      url: '/api/transactions/authorize',
      headers: { authorization: basicAuth() },
      payload: auth,
    });
    expect(await held(gw, card)).toBe('2500');
    const jit_token = (auth.gpa_order as { jit_funding: { token: string } }).jit_funding.token;
    const body = {
      transactions: [
        notification(card, jit_token, {
          gpa_order: {
            jit_funding: { token: jit_token, method: 'pgfs.authorization', amount: 25 },
            funding: { gateway_log: { timed_out: true } },
          },
        }),
      ],
    };
    expect(await post(gw, body)).toEqual({ status: 200, body: { received: 1, processed: 1, duplicates: 0 } });
    expect(await held(gw, card)).toBe('0');
    expect(await post(gw, body)).toEqual({ status: 200, body: { received: 1, processed: 0, duplicates: 1 } });
    const event_token = `${body.transactions[0]!.token}:DECLINED`;
    await waitFor(async () => received.has(event_token), 'notification on RabbitMQ');
    expect(received.get(event_token)!.ledger_actions).toEqual(['release_timed_out:2500']);
  });

  it('books a Commando stand-in approval into the ledger, even beyond the balance', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 1_000n });
    const jit_token = uniqueToken('jit');
    const body = {
      transactions: [
        notification(card, jit_token, {
          state: 'PENDING',
          standin_approved_by: 'COMMANDO_AUTO',
          subnetwork: 'MANAGED_JIT',
        }),
      ],
    };
    expect((await post(gw, body)).status).toBe(200);
    expect(await held(gw, card)).toBe('2500');
    // 25.00 booked on a 10.00 balance: 15.00 beyond it, reported with the booking.
    const event_token = `${body.transactions[0]!.token}:PENDING`;
    await waitFor(async () => received.has(event_token), 'notification on RabbitMQ');
    expect(received.get(event_token)!.ledger_actions).toEqual(['book_standin:2500:1500']);
    // The booked marker is money state: no TTL (never evicted), listed in the shard's retained set.
    const keys = decisionKeys(gw.layout, card.user_token, card.card_token, `standin:${jit_token}`);
    expect(await gw.redis.get(keys.booked)).toBe('book_standin:2500:1500');
    expect(await gw.redis.ttl(keys.booked)).toBe(-1);
    expect(await gw.redis.zscore(keys.retained, keys.booked)).not.toBeNull();
    // A later state of the same transaction, past the decision record's window (its record
    // gone), repeats the stand-in fields: booked once all the same.
    await gw.redis.del(keys.decision);
    const later = { transactions: [{ ...body.transactions[0]!, state: 'COMPLETION' }] };
    expect((await post(gw, later)).body).toMatchObject({ processed: 1, duplicates: 0 });
    expect(await held(gw, card)).toBe('2500');
    const metrics = (await gw.internal_app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/afc_standin_over_limit_minor_total\{currency="USD"[^}]*\} 1500/);
  });

  it('a stand-in for a token we approved too late (our answer never reached Marqeta) replaces our hold', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    const jit_token = uniqueToken('jit');
    const ours = await gw.app.inject({
      method: 'POST',
      url: '/api/transactions/authorize',
      headers: { authorization: basicAuth() },
      payload: jitRequest({ ...card, amount: 25, jit_token }),
    });
    expect(ours.statusCode).toBe(200);
    expect(await held(gw, card)).toBe('2500');
    const standin = notification(card, jit_token, {
      state: 'PENDING',
      standin_approved_by: 'COMMANDO_AUTO',
      subnetwork: 'MANAGED_JIT',
    });
    expect((await post(gw, { transactions: [standin] })).status).toBe(200);
    expect(await held(gw, card)).toBe('2500');
    const record = decisionKeys(gw.layout, card.user_token, card.card_token, jit_token).decision;
    expect(await gw.redis.hget(record, 'rev')).toBe('2');
  });

  it('with an HMAC secret, accepts a signature of the raw body and refuses a wrong one', async () => {
    const card = await createPersonalCard(signed.mongo.db(), { balance_minor: 1_000n });
    const raw = JSON.stringify({ transactions: [notification(card, uniqueToken('jit'), {})] });
    const good = createHmac('sha256', HMAC_SECRET).update(raw).digest('hex');
    const send = (signature: string) =>
      signed.app.inject({
        method: 'POST',
        url: '/api/webhooks/marqeta',
        headers: {
          authorization: webhookAuth(),
          'content-type': 'application/json',
          'x-marqeta-signature': signature,
        },
        payload: raw,
      });
    expect((await send(good.replace(/^./, (c) => (c === '0' ? '1' : '0')))).statusCode).toBe(401);
    expect((await send(good)).statusCode).toBe(200);
  });
});
