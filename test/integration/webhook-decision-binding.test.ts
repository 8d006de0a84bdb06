// afc.webhooks takes decision events only while an active endpoint wants them
// (shared/webhooks/decision-binding.ts): the management API binds in the transaction that
// creates or changes an endpoint, before it answers; a worker applies the binding at start and
// every few seconds, and unbinds once no endpoint wants decisions. On a database and a vhost of
// the test's own, so the endpoints other tests left active do not count and the bindings
// changed here touch no one else's queue.

import { randomBytes } from 'node:crypto';
import { Connection, type Publisher } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withDatabase, withVhost } from '../../bench/runner/env.ts';
import { migratePostgres } from '../../migrations/migrate.ts';
import { declareTopology, EXCHANGE_EVENTS, QUEUE_WEBHOOKS } from '../../shared/broker/topology.ts';
import { createLogger } from '../../shared/logger.ts';
import { connectPostgres, type PgSql } from '../../shared/stores/postgres.ts';
import { DecisionBindingKeeper } from '../../worker/webhooks/decision-binding.ts';
import { apiKey, bearer, callApi, type TestApi, startTestApi } from '../support/api-harness.ts';
import { mapLookup, RECEIVER_ADDRESS, RECEIVER_CIDR } from '../support/webhook-receivers.ts';

const suffix = randomBytes(4).toString('hex');
const database = `afc_binding_${suffix}`;
const vhost = `afc-binding-${suffix}`;
const HOST = 'hooks.binding.test';
const log = createLogger('binding-test', 'silent');

let admin: PgSql;
let sql: PgSql;
let rabbit: Connection;
let publisher: Publisher;
let api: TestApi;
let keeper: DecisionBindingKeeper;
let program: Record<string, string>;

beforeAll(async () => {
  admin = connectPostgres({ url: process.env.DATABASE_URL!, application_name: 'afc-test-binding' });
  await admin.unsafe(`CREATE DATABASE ${database}`);
  sql = connectPostgres({
    url: withDatabase(process.env.DATABASE_URL!, database),
    application_name: 'afc-test-binding',
  });
  await migratePostgres(sql);
  await createVhost(vhost);
  const amqp_url = withVhost(process.env.RABBITMQ_URL!, vhost);
  rabbit = new Connection(amqp_url);
  rabbit.on('error', () => {});
  await declareTopology(rabbit);
  publisher = rabbit.createPublisher({ confirm: true, maxAttempts: 1 });
  api = await startTestApi(
    {
      DATABASE_URL: withDatabase(process.env.DATABASE_URL!, database),
      RABBITMQ_URL: amqp_url,
      WEBHOOK_ALLOWED_CIDRS: RECEIVER_CIDR,
    },
    { webhook_lookup: mapLookup({ [HOST]: [RECEIVER_ADDRESS] }), log },
  );
  program = bearer(await apiKey(api, null));
  keeper = new DecisionBindingKeeper(sql, rabbit, QUEUE_WEBHOOKS, log);
});

afterAll(async () => {
  await keeper?.stop();
  await api?.close();
  await publisher?.close();
  await rabbit?.close();
  await deleteVhost(vhost).catch(() => {});
  await sql?.end();
  await admin?.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin?.end();
});

/** Whether a decision published now reaches afc.webhooks (confirmed, then read back). */
async function webhooksTakeDecisions(): Promise<boolean> {
  await rabbit.queuePurge({ queue: QUEUE_WEBHOOKS });
  // A decision that no queue takes is dropped (no mandatory flag): the question is the binding.
  await publisher.send(
    { exchange: EXCHANGE_EVENTS, routingKey: 'decision.business.approved', durable: true },
    { probe: true },
  );
  const channel = await rabbit.acquire();
  try {
    return (await channel.basicGet({ queue: QUEUE_WEBHOOKS, noAck: true })) !== undefined;
  } finally {
    await channel.close();
  }
}

async function createEndpoint(event_types: string[]): Promise<string> {
  const created = await callApi(api, 'POST', '/api/webhook-endpoints', program, {
    url: `https://${HOST}/afc`,
    event_types,
  });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

describe('the decision binding of afc.webhooks', () => {
  it('follows the active endpoints: bound by the API before it answers, unbound by the worker', async () => {
    await keeper.apply();
    expect(await webhooksTakeDecisions()).toBe(false);

    // Card events only: still no decision for the webhooks.
    const cards_only = await createEndpoint(['card.#']);
    expect(await webhooksTakeDecisions()).toBe(false);

    // The answer of the API comes after the binding, without the worker.
    const declines = await createEndpoint(['decision.*.declined']);
    expect(await webhooksTakeDecisions()).toBe(true);
    // A worker that applies the binding now keeps it.
    await keeper.apply();
    expect(await webhooksTakeDecisions()).toBe(true);

    // Deactivated through the API: no endpoint wants decisions any more, unbound at once.
    const patched = await callApi(api, 'PATCH', `/api/webhook-endpoints/${declines}`, program, {
      active: false,
    });
    expect(patched.status).toBe(200);
    expect(await webhooksTakeDecisions()).toBe(false);

    // Changed by hand (no API): the worker follows at its next application.
    await sql`UPDATE webhook_endpoints SET event_types = '{}' WHERE id = ${cards_only}`;
    expect(await webhooksTakeDecisions()).toBe(false);
    await keeper.apply();
    expect(await webhooksTakeDecisions()).toBe(true);

    // Deleted through the API: unbound again.
    expect((await callApi(api, 'DELETE', `/api/webhook-endpoints/${cards_only}`, program)).status).toBe(204);
    expect(await webhooksTakeDecisions()).toBe(false);
  });

  it('an endpoint change whose binding the broker refuses is rolled back and answered 503', async () => {
    // The exchange gone: binding to it fails, and the endpoint must not exist half-made.
    await rabbit.exchangeDelete({ exchange: EXCHANGE_EVENTS });
    try {
      const refused = await callApi(api, 'POST', '/api/webhook-endpoints', program, {
        url: `https://${HOST}/afc`,
        event_types: ['decision.#'],
      });
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('API_ERR_UNAVAILABLE');
      const [row] = await sql<Array<{ n: number }>>`
        SELECT count(*)::int AS n FROM webhook_endpoints WHERE active AND deleted_at IS NULL`;
      expect(row?.n).toBe(0);
    } finally {
      await declareTopology(rabbit);
    }
  });
});
