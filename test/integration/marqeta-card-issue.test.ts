import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { MongoClient } from 'mongodb';
import { ObjectId } from 'mongodb';
import { Registry } from 'prom-client';
import {
  type AsyncMessage,
  Connection,
  type Consumer,
  type Publisher,
  type SyncMessage,
} from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeMarqeta } from '../../fake-marqeta/server.ts';
import { deadLetterQueueName, EXCHANGE_EVENTS, retryQueueName } from '../../shared/broker/topology.ts';
import { createLogger } from '../../shared/logger.ts';
import type { CardActivatedEvent, CardIssueCommand } from '../../shared/messages.ts';
import { workerMetrics } from '../../shared/metrics.ts';
import { decisionKeys } from '../../shared/redis-keys.ts';
import { connectMongo } from '../../shared/stores/mongo.ts';
import { connectPostgres, type PgSql } from '../../shared/stores/postgres.ts';
import { CardIssueConsumer } from '../../worker/marqeta/card-issue-consumer.ts';
import { MarqetaClient } from '../../worker/marqeta/client.ts';
import { createBusinessCard, createPersonalCard, type CreatedCard } from '../support/cardholders.ts';

// The consumer reads its own test queue (short retry delays), fed directly; Marqeta is the
// fake on port 0; the Redis key prefix is unique. card.activated is observed on a private
// queue bound to afc.events, filtered by card id.

const APP_TOKEN = 'card-issue-app';
const ADMIN_TOKEN = 'card-issue-admin';
const RETRY_DELAYS_MS = [50, 100, 200] as const;
const log = createLogger('card-issue-test', process.env.LOG_LEVEL ?? 'silent');
const layout = { prefix: `t${randomUUID().slice(0, 8)}`, shards: 4 };
const queue = `t.marqeta.${randomUUID().slice(0, 8)}`;
const events_queue = `t.card-events.${randomUUID().slice(0, 8)}`;

let fake: Awaited<ReturnType<typeof startFakeMarqeta>>;
let sql: PgSql;
let mongo: MongoClient;
let redis: Redis;
let rabbit: Connection;
let publisher: Publisher;
let marqeta: MarqetaClient;
let consumer: CardIssueConsumer;
let events_consumer: Consumer;
const activated: CardActivatedEvent[] = [];
const activated_ids: string[] = [];

beforeAll(async () => {
  fake = await startFakeMarqeta({ app_token: APP_TOKEN, admin_token: ADMIN_TOKEN, port: 0 });
  sql = connectPostgres({
    url: process.env.DATABASE_URL!,
    application_name: 'afc-card-issue-test',
    max_connections: 4,
  });
  mongo = connectMongo({ uri: process.env.MONGODB_URI!, app_name: 'afc-card-issue-test' });
  redis = new Redis(process.env.REDIS_URL!);
  rabbit = new Connection({ url: process.env.RABBITMQ_URL!, connectionName: 'afc-card-issue-test' });
  publisher = rabbit.createPublisher({ confirm: true, maxAttempts: 2 });
  marqeta = new MarqetaClient({
    base_url: fake.base_url,
    app_token: APP_TOKEN,
    admin_token: ADMIN_TOKEN,
    connect_timeout_ms: 1_000,
    timeout_ms: 1_000,
    connections: 2,
    retry: { backoff_base_ms: 5, backoff_cap_ms: 20 },
    log,
  });
  consumer = new CardIssueConsumer(
    { log, rabbit, sql, mongo, metrics: workerMetrics(new Registry()) },
    {
      marqeta,
      redis,
      key_layout: layout,
      default_card_product_token: 'cp_test_default',
      queue,
      retry_delays_ms: RETRY_DELAYS_MS,
    },
  );
  events_consumer = rabbit.createConsumer(
    {
      queue: events_queue,
      queueOptions: { exclusive: true, autoDelete: true },
      queueBindings: [{ queue: events_queue, exchange: EXCHANGE_EVENTS, routingKey: 'card.activated' }],
    },
    (message: AsyncMessage) => {
      activated.push(message.body as CardActivatedEvent);
      activated_ids.push(message.messageId ?? '');
    },
  );
  await Promise.all([consumer.ready, new Promise((resolve) => events_consumer.once('ready', resolve))]);
});

afterAll(async () => {
  await consumer.close();
  await events_consumer.close();
  for (const name of [
    queue,
    deadLetterQueueName(queue),
    ...RETRY_DELAYS_MS.map((_, i) => retryQueueName(queue, i + 1)),
  ]) {
    await rabbit.queueDelete({ queue: name });
  }
  await publisher.close();
  await rabbit.close();
  await marqeta.close();
  await fake.close();
  redis.disconnect();
  await mongo.close();
  await sql.end();
});

function command(
  card: CreatedCard,
  kind: CardIssueCommand['kind'],
  extra: Partial<CardIssueCommand> = {},
): CardIssueCommand {
  return {
    v: 1,
    kind,
    card_id: card.card_id,
    card_token: card.card_token,
    user_token: card.user_token,
    requested_at_ms: Date.now(),
    ...extra,
  };
}

async function send(body: unknown): Promise<void> {
  await publisher.send(
    {
      exchange: '',
      routingKey: queue,
      durable: true,
      messageId: randomUUID(),
      contentType: 'application/json',
    },
    body,
  );
}

async function waitFor<T>(
  read: () => Promise<T> | T,
  done: (value: T) => boolean,
  timeout_ms = 20_000,
): Promise<T> {
  const deadline_ms = Date.now() + timeout_ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline_ms)
      throw new Error(`condition not met within ${timeout_ms} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function businessStatus(card_id: string): Promise<string | undefined> {
  return (await sql<Array<{ status: string }>>`SELECT status FROM cards WHERE id = ${card_id}`)[0]?.status;
}

function activationOf(card_id: string): Promise<CardActivatedEvent | undefined> {
  return waitFor(
    () => activated.find((e) => e.card_id === card_id),
    (e) => e !== undefined,
  );
}

async function deadLetter(): Promise<SyncMessage> {
  const channel = await rabbit.acquire();
  try {
    return (await waitFor(
      () => channel.basicGet({ queue: deadLetterQueueName(queue), noAck: true }),
      (m) => m !== undefined,
    ))!;
  } finally {
    await channel.close();
  }
}

describe('card-issue command consumer', () => {
  it('issues a pending business card at Marqeta, activates it everywhere and publishes card.activated', async () => {
    const card = await createBusinessCard(sql, { card_status: 'pending' });
    const card_key = decisionKeys(layout, card.user_token, card.card_token, '').card;
    await redis.hset(card_key, { status: 'pending', kind: 'business' });

    await send(command(card, 'business', { card_product_token: 'cp_business' }));
    await waitFor(
      () => businessStatus(card.card_id),
      (status) => status === 'active',
    );

    const at_marqeta = fake.store.getCard(card.card_token);
    expect(at_marqeta).toMatchObject({
      user_token: card.user_token,
      card_product_token: 'cp_business',
      state: 'ACTIVE',
    });
    expect(fake.store.getUser(card.user_token)).toMatchObject({ email: `${card.user_token}@example.test` });
    const event = await activationOf(card.card_id);
    const [owner] = await sql<
      Array<{ company_id: string }>
    >`SELECT company_id FROM users WHERE id = ${card.user_id}`;
    expect(event).toMatchObject({
      v: 1,
      kind: 'business',
      card_token: card.card_token,
      user_token: card.user_token,
      company_id: owner!.company_id,
      last_four: at_marqeta.last_four,
    });
    // The gateway's cached "pending" is gone: its next authorization reloads the card.
    expect(await redis.exists(card_key)).toBe(0);
  });

  it('activates a pending personal card in MongoDB with the default card product', async () => {
    const card = await createPersonalCard(mongo.db(), { balance_minor: 0n, card_status: 'pending' });
    await send(command(card, 'personal'));
    await waitFor(
      async () =>
        (
          await mongo
            .db()
            .collection('personal_cards')
            .findOne({ _id: new ObjectId(card.card_id) })
        )?.status,
      (status) => status === 'active',
    );
    expect(fake.store.getCard(card.card_token)).toMatchObject({
      card_product_token: 'cp_test_default',
      state: 'ACTIVE',
    });
    expect(await activationOf(card.card_id)).toMatchObject({ kind: 'personal', company_id: null });
  });

  it('a redelivered command issues nothing twice and repeats the event under the same id', async () => {
    const card = await createBusinessCard(sql, { card_status: 'pending' });
    await send(command(card, 'business'));
    await activationOf(card.card_id);
    await send(command(card, 'business'));
    await waitFor(
      () => activated.filter((e) => e.card_id === card.card_id).length,
      (n) => n === 2,
    );
    expect(fake.store.transitionsOf(card.card_token)).toHaveLength(1);
    expect(new Set(activated_ids.filter((id) => id === `card.activated:${card.card_id}`)).size).toBe(1);
    expect(await businessStatus(card.card_id)).toBe('active');
  });

  it('survives Marqeta failing past the client retries by taking the queue retry path', async () => {
    const card = await createBusinessCard(sql, { card_status: 'pending' });
    // 4 client attempts fail on the first delivery, 2 more on the first queue retry.
    fake.faults.add({
      path_prefix: '/cards',
      method: 'POST',
      mode: '503',
      count: 6,
      delay_ms: 0,
      phase: 'before',
    });
    await send(command(card, 'business'));
    await waitFor(
      () => businessStatus(card.card_id),
      (status) => status === 'active',
    );
    expect(fake.store.getCard(card.card_token).state).toBe('ACTIVE');
  });

  it('dead-letters a command for a card we do not have, without calling Marqeta', async () => {
    const card = await createBusinessCard(sql, { card_status: 'pending' });
    const calls_before = fake.calls.get('POST /v3/users') ?? 0;
    await send(command({ ...card, card_id: randomUUID() }, 'business'));
    const message = await deadLetter();
    expect(String(message.headers?.['x-last-error'])).toMatch(/^MQ_ERR_CARD_NOT_FOUND/);
    expect(message.headers?.['x-attempt']).toBe(1);
    expect(fake.calls.get('POST /v3/users') ?? 0).toBe(calls_before);
    expect(await businessStatus(card.card_id)).toBe('pending');
  });

  it('dead-letters a malformed command at once', async () => {
    await send({
      v: 1,
      kind: 'business',
      card_id: 'x',
      card_token: 'a'.repeat(37),
      user_token: 'u',
      requested_at_ms: 1,
    });
    const message = await deadLetter();
    expect(String(message.headers?.['x-last-error'])).toMatch(/^MQ_ERR_INVALID_COMMAND.*card_token/);
  });
});
