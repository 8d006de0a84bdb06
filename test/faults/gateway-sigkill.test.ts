// The gateway is killed with SIGKILL right after answering: every decision it answered still
// reaches RabbitMQ once a gateway runs again (the outbox was written in the decision call).
import { randomUUID } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXCHANGE_EVENTS } from '../../shared/broker/topology.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { connectPostgres } from '../../shared/stores/postgres.ts';
import { createBusinessCard } from '../support/cardholders.ts';
import { decisionsOf } from '../support/decision-batches.ts';
import { TEST_GATEWAY_ENV } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';
import { type Child, freePort, startNode, waitFor } from '../../shared/dev/processes.ts';

const sql = connectPostgres({ url: process.env.DATABASE_URL!, application_name: 'afc-test' });
const rabbit = new Connection(process.env.RABBITMQ_URL!);
const queue = `test.sigkill.${randomUUID().slice(0, 8)}`;
const seen = new Map<string, DecisionEvent>();
const prefix = `k${randomUUID().slice(0, 8)}`;
let consumer: ReturnType<Connection['createConsumer']>;

beforeAll(async () => {
  // A private queue bound to every decision: a copy of what the worker would receive.
  await rabbit.exchangeDeclare({ exchange: EXCHANGE_EVENTS, type: 'topic', durable: true });
  consumer = rabbit.createConsumer(
    {
      queue,
      queueOptions: { exclusive: true, autoDelete: true },
      queueBindings: [{ exchange: EXCHANGE_EVENTS, routingKey: 'decision.#' }],
    },
    (message) => {
      for (const event of decisionsOf(message.body)) seen.set(event.request.jit_token, event);
    },
  );
  await new Promise((resolve) => consumer.once('ready', resolve));
});
afterAll(async () => {
  await consumer.close();
  await rabbit.close();
  await sql.end();
});

function gatewayEnv(
  port: number,
  internal_port: number,
  relay: boolean,
  consumer_name: string,
): Record<string, string> {
  return {
    GATEWAY_PORT: String(port),
    GATEWAY_INTERNAL_PORT: String(internal_port),
    GATEWAY_HOST: '127.0.0.1',
    REDIS_KEY_PREFIX: prefix,
    REDIS_SHARDS: '4',
    OUTBOX_RELAY_ENABLED: String(relay),
    RELAY_CONSUMER_NAME: consumer_name,
    OUTBOX_CLAIM_IDLE_MS: '1000',
    // Durability is under test here, not the budget or shedding: a cold child on a busy machine may be slow.
    ...TEST_GATEWAY_ENV,
    LOG_LEVEL: 'warn',
  };
}

async function startGateway(port: number, relay: boolean, consumer_name: string): Promise<Child> {
  const internal_port = await freePort();
  const child = startNode('gateway/main.ts', gatewayEnv(port, internal_port, relay, consumer_name));
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${internal_port}/api/health/ready`)).ok,
    'gateway ready',
  );
  return child;
}

/**
 * Sends every body at once; returns the decided ones (200) and the tokens of those shed (503, no
 * decision made). A cold child sheds its first burst now and then: under-pressure counts an
 * interval without event-loop samples (startup work blocked the loop) as overload. Anything else
 * fails the test.
 */
async function authorizeAll(port: number, bodies: Record<string, unknown>[]) {
  const answers = await Promise.all(
    bodies.map(async (body) => {
      const response = await fetch(`http://127.0.0.1:${port}/api/transactions/authorize`, {
        method: 'POST',
        headers: { authorization: basicAuth(), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await response.body?.cancel();
      return {
        status: response.status,
        token: (body.gpa_order as { jit_funding: { token: string } }).jit_funding.token,
      };
    }),
  );
  expect(answers.filter((a) => a.status !== 200 && a.status !== 503)).toEqual([]);
  const decided = answers.filter((a) => a.status === 200).map((a) => a.token);
  expect(decided.length).toBeGreaterThan(0);
  return { decided, shed: answers.filter((a) => a.status === 503).map((a) => a.token) };
}

/** Every decided token reached RabbitMQ; no shed one did (nothing was decided for it). */
async function expectRelayed(answers: { decided: string[]; shed: string[] }, gateway: Child): Promise<void> {
  await waitFor(
    async () => answers.decided.every((token) => seen.has(token)),
    'all decisions relayed',
    30_000,
  ).catch((error) => {
    console.error(
      answers.decided.filter((token) => !seen.has(token)).slice(0, 5),
      gateway.output().slice(-3000),
    );
    throw error;
  });
  expect(answers.shed.filter((token) => seen.has(token))).toEqual([]);
}

describe('gateway SIGKILL right after answering', () => {
  it('decisions answered before the kill reach RabbitMQ after a restart (relay was off)', async () => {
    const card = await createBusinessCard(sql, { daily_limit_minor: 100_000n });
    const port = await freePort();
    const first = await startGateway(port, false, 'relay-a');
    const answers = await authorizeAll(
      port,
      Array.from({ length: 100 }, () => jitRequest({ ...card, amount: 7 })),
    );
    first.process.kill('SIGKILL');
    await first.exited;
    const second = await startGateway(port, true, 'relay-b');
    try {
      await expectRelayed(answers, second);
      for (const token of answers.decided)
        expect(seen.get(token)).toMatchObject({ approved: true, approved_amount_minor: '700' });
    } finally {
      second.process.kill('SIGKILL');
      await second.exited;
    }
  });

  it('entries read but not confirmed by a killed relay are claimed by the next one', async () => {
    const card = await createBusinessCard(sql);
    const port = await freePort();
    const first = await startGateway(port, true, 'relay-c');
    const answers = await authorizeAll(
      port,
      Array.from({ length: 300 }, () => jitRequest({ ...card, amount: 1 })),
    );
    first.process.kill('SIGKILL');
    await first.exited;
    const second = await startGateway(port, true, 'relay-d');
    try {
      await expectRelayed(answers, second);
    } finally {
      second.process.kill('SIGKILL');
      await second.exited;
    }
  });
});
