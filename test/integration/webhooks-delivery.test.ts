import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Connection, type Publisher } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterQueueName, retryQueueName } from '../../shared/broker/topology.ts';
import { CONTENT_TYPE_DECISION_BATCH, encodeBatch } from '../../shared/decision-batch.ts';
import { createLogger } from '../../shared/logger.ts';
import { connectPostgres, type PgSql } from '../../shared/stores/postgres.ts';
import { HEADER_ORIGINAL_ROUTING_KEY } from '../../worker/broker/retry-path.ts';
import { HEADER_ENDPOINT_ID, WebhookConsumer } from '../../worker/webhooks/consumer.ts';
import { verifyWebhookSignature } from '../../worker/webhooks/signature.ts';
import { createBusinessCard } from '../support/cardholders.ts';
import { outboxLine } from '../support/decision-batches.ts';
import { decisionEvent } from '../support/worker-harness.ts';

// Each test gets its own work queue with short retry delays, fed directly (never through
// afc.events), and endpoints whose filter is a unique event type: no other consumer on this
// machine can deliver these events, and these endpoints never match anyone else's events.

const RETRY_DELAYS_MS = [50, 100, 200] as const;
const SECRET = 'whsec_test_0123456789abcdef';
const log = createLogger('webhooks-test', process.env.LOG_LEVEL ?? 'silent');

let sql: PgSql;
let rabbit: Connection;
let publisher: Publisher;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  sql = connectPostgres({
    url: process.env.DATABASE_URL!,
    application_name: 'afc-webhooks-test',
    max_connections: 4,
  });
  rabbit = new Connection({ url: process.env.RABBITMQ_URL!, connectionName: 'afc-webhooks-test' });
  publisher = rabbit.createPublisher({ confirm: true, maxAttempts: 2 });
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await publisher.close();
  await rabbit.close();
  await sql.end();
});

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly raw_body: string;
}

/** A real HTTP receiver on port 0; `answer` picks the status of the n-th request (0-based). */
async function receiver(answer: (n: number) => number = () => 200) {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const n = received.length;
      received.push({ headers: request.headers, raw_body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(answer(n), { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received };
}

async function endpoint(
  url: string,
  event_types: string[],
  company_id: string | null = null,
): Promise<string> {
  const id = randomUUID();
  await sql`INSERT INTO webhook_endpoints (id, company_id, url, secret, event_types)
            VALUES (${id}, ${company_id}, ${url}, ${SECRET}, ${event_types})`;
  cleanups.push(() => sql`UPDATE webhook_endpoints SET active = false WHERE id = ${id}`);
  return id;
}

async function startConsumer(overrides: { retry_horizon_ms?: number; concurrency?: number } = {}) {
  const queue = `t.webhooks.${randomUUID().slice(0, 8)}`;
  const consumer = new WebhookConsumer(
    { rabbit, sql, log },
    {
      queue,
      retry_delays_ms: RETRY_DELAYS_MS,
      timeout_ms: 2_000,
      retry_horizon_ms: overrides.retry_horizon_ms ?? 60_000,
      concurrency: overrides.concurrency ?? 4,
      endpoints_ttl_ms: 0,
      // These receivers are plain HTTP on loopback: allowed here only (webhook-destinations.test.ts).
      destination: { allow_http: true, allowed_cidrs: ['127.0.0.1/32'] },
    },
  );
  cleanups.push(async () => {
    await consumer.close();
    for (const name of [
      queue,
      deadLetterQueueName(queue),
      ...RETRY_DELAYS_MS.map((_, i) => retryQueueName(queue, i + 1)),
    ]) {
      await rabbit.queueDelete({ queue: name });
    }
  });
  await consumer.ready;
  return { queue, consumer };
}

/** Publishes an event into a test queue as if afc.events had routed it with `event_type`. */
async function publishEvent(
  queue: string,
  event_type: string,
  data: Record<string, unknown>,
  message_id = randomUUID(),
) {
  await publisher.send(
    {
      exchange: '',
      routingKey: queue,
      durable: true,
      messageId: message_id,
      contentType: 'application/json',
      headers: { [HEADER_ORIGINAL_ROUTING_KEY]: event_type },
    },
    data,
  );
  return message_id;
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

function uniqueType(): string {
  return `card.t${randomUUID().slice(0, 8)}.activated`;
}

async function delivery(endpoint_id: string, event_id: string) {
  const rows = await sql<
    Array<{ id: bigint; status: string; attempts: number; last_status_code: number | null }>
  >`
    SELECT id, status, attempts, last_status_code FROM webhook_deliveries
     WHERE endpoint_id = ${endpoint_id} AND event_id = ${event_id}`;
  return rows[0];
}

describe('outbound webhooks', () => {
  it('POSTs a signed event to each endpoint that wants it, and the receiver verifies it', async () => {
    const { url, received } = await receiver();
    const other = await receiver();
    const type = uniqueType();
    const wanted = await endpoint(url, [type]);
    await endpoint(other.url, [`${type}.never`]);
    const { queue } = await startConsumer();
    const event_id = await publishEvent(queue, type, {
      v: 1,
      kind: 'personal',
      card_id: 'c1',
      last_four: '4242',
    });

    await waitFor(
      () => received.length,
      (n) => n === 1,
    );
    const [request] = received;
    const header = request!.headers['x-afc-signature'] as string;
    expect(verifyWebhookSignature(request!.raw_body, header, SECRET, 300)).toMatchObject({ valid: true });
    expect(request!.headers['x-afc-event-id']).toBe(event_id);
    expect(request!.headers['x-afc-event-type']).toBe(type);
    expect(JSON.parse(request!.raw_body)).toMatchObject({
      id: event_id,
      type,
      data: { card_id: 'c1', last_four: '4242' },
    });
    expect(
      await waitFor(
        () => delivery(wanted, event_id),
        (d) => d?.status === 'delivered',
      ),
    ).toMatchObject({
      attempts: 1,
      last_status_code: 200,
    });
    expect(other.received).toHaveLength(0);

    // What a receiver must refuse: the same request replayed later, or a changed body.
    const t = Number(/t=(\d+)/.exec(header)![1]);
    expect(verifyWebhookSignature(request!.raw_body, header, SECRET, 300, t + 301)).toEqual({
      valid: false,
      reason: 'timestamp_outside_tolerance',
    });
    expect(verifyWebhookSignature(request!.raw_body.replace('4242', '4243'), header, SECRET, 300, t)).toEqual(
      {
        valid: false,
        reason: 'signature_mismatch',
      },
    );
    expect(
      verifyWebhookSignature(request!.raw_body, header, 'another-secret-0123456789', 300, t),
    ).toMatchObject({ valid: false });
  });

  it('a company endpoint receives its own business cards’ decisions only', async () => {
    const { url, received } = await receiver();
    const mine = await createBusinessCard(sql);
    const theirs = await createBusinessCard(sql);
    const [owner] = await sql<
      Array<{ company_id: string }>
    >`SELECT company_id FROM users WHERE id = ${mine.user_id}`;
    const company_id = owner!.company_id;
    const tag = `t${randomUUID().slice(0, 8)}`;
    const type = `decision.${tag}.approved`;
    await endpoint(url, [`decision.${tag}.*`], company_id);
    // One message at a time: when the second is delivered, the first was handled.
    const { queue } = await startConsumer({ concurrency: 1 });
    const theirs_id = await publishEvent(queue, type, { v: 1, kind: 'business', card_id: theirs.card_id });
    const mine_id = await publishEvent(queue, type, { v: 1, kind: 'business', card_id: mine.card_id });

    await waitFor(
      () => sql`SELECT 1 FROM webhook_deliveries WHERE event_id = ${mine_id} AND status = 'delivered'`,
      (rows) => rows.length === 1,
    );
    expect(received.map((r) => r.headers['x-afc-event-id'])).toEqual([mine_id]);
    expect(await sql`SELECT 1 FROM webhook_deliveries WHERE event_id = ${theirs_id}`).toHaveLength(0);
  });

  it('a receiver that fails (503) and then succeeds gets the event again, and both attempts are recorded', async () => {
    const { url, received } = await receiver((n) => (n === 0 ? 503 : 200));
    const type = uniqueType();
    const id = await endpoint(url, [type]);
    const { queue } = await startConsumer();
    const event_id = await publishEvent(queue, type, { v: 1, kind: 'personal', card_id: 'c2' });

    const done = await waitFor(
      () => delivery(id, event_id),
      (d) => d?.status === 'delivered',
    );
    expect(done).toMatchObject({ attempts: 2, last_status_code: 200 });
    const attempts = await sql<Array<{ attempt: number; status_code: number; error: string | null }>>`
      SELECT attempt, status_code, error FROM webhook_delivery_attempts WHERE delivery_id = ${done!.id} ORDER BY attempt`;
    expect(attempts).toEqual([
      { attempt: 1, status_code: 503, error: 'HTTP 503' },
      { attempt: 2, status_code: 200, error: null },
    ]);
    expect(received.map((r) => r.headers['x-afc-event-id'])).toEqual([event_id, event_id]);
    // Each attempt is signed afresh, and each signature verifies.
    for (const r of received) {
      expect(verifyWebhookSignature(r.raw_body, r.headers['x-afc-signature'] as string, SECRET).valid).toBe(
        true,
      );
    }
  });

  it('a decision batch is one event per decision; a failed one is retried alone, under its own id', async () => {
    const { url, received } = await receiver((n) => (n === 0 ? 503 : 200));
    const type = `decision.t${randomUUID().slice(0, 8)}.approved`;
    const id = await endpoint(url, [type]);
    const { queue } = await startConsumer();
    const events = [1n, 2n, 3n].map((amount_minor) =>
      decisionEvent({ card: null, kind: 'unknown', amount_minor }),
    );
    await publisher.send(
      {
        exchange: '',
        routingKey: queue,
        durable: true,
        messageId: 'batch:1-0..1-2:3',
        contentType: CONTENT_TYPE_DECISION_BATCH,
        headers: { [HEADER_ORIGINAL_ROUTING_KEY]: type },
      },
      encodeBatch(events.map(outboxLine)),
    );

    const event_ids = events.map((e) => `${e.request.jit_token}:1`);
    for (const event_id of event_ids) {
      await waitFor(
        () => delivery(id, event_id),
        (d) => d?.status === 'delivered',
      );
    }
    // Three events, the first attempt failed and went round the retry path alone.
    expect(received).toHaveLength(4);
    expect(new Set(received.map((r) => r.headers['x-afc-event-id']))).toEqual(new Set(event_ids));
    const bodies = received.map((r) => JSON.parse(r.raw_body));
    expect(bodies.map((b) => b.type)).toEqual([type, type, type, type]);
    for (const body of bodies) expect(body.data.request.jit_token).toBe(body.id.replace(/:1$/, ''));
  });

  it('a redelivered event is not sent again once delivered', async () => {
    const { url, received } = await receiver();
    const type = uniqueType();
    const id = await endpoint(url, [type]);
    const { queue } = await startConsumer();
    const event_id = await publishEvent(queue, type, { v: 1, kind: 'personal', card_id: 'c3' });
    await waitFor(
      () => delivery(id, event_id),
      (d) => d?.status === 'delivered',
    );
    await publishEvent(queue, type, { v: 1, kind: 'personal', card_id: 'c3' }, event_id);
    // A later event proves the redelivery was consumed before it.
    const later_id = await publishEvent(queue, type, { v: 1, kind: 'personal', card_id: 'c4' });
    await waitFor(
      () => delivery(id, later_id),
      (d) => d?.status === 'delivered',
    );
    expect(received.map((r) => r.headers['x-afc-event-id'])).toEqual([event_id, later_id]);
  });

  it('a delivery that keeps failing goes to the DLQ at the retry horizon, marked dead', async () => {
    const { url, received } = await receiver(() => 500);
    const type = uniqueType();
    const id = await endpoint(url, [type]);
    const { queue } = await startConsumer({ retry_horizon_ms: 400 });
    const event_id = await publishEvent(queue, type, { v: 1, kind: 'personal', card_id: 'c5' });

    const dead = await waitFor(
      () => delivery(id, event_id),
      (d) => d?.status === 'dead',
    );
    expect(dead!.attempts).toBeGreaterThanOrEqual(2);
    expect(received.length).toBe(dead!.attempts);
    const channel = await rabbit.acquire();
    try {
      const message = await waitFor(
        () => channel.basicGet({ queue: deadLetterQueueName(queue), noAck: true }),
        (m) => m !== undefined,
      );
      expect(message!.messageId).toBe(event_id);
      expect(message!.headers).toMatchObject({
        [HEADER_ENDPOINT_ID]: id,
        [HEADER_ORIGINAL_ROUTING_KEY]: type,
        'x-attempt': dead!.attempts,
        'x-last-error': 'webhook HTTP 500',
      });
    } finally {
      await channel.close();
    }
  });
});
