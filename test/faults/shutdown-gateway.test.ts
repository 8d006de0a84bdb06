// Graceful shutdown of the gateway under load (seed property 10): SIGTERM while requests keep
// coming; readiness turns 503 while requests are still answered (the drain delay), the
// process exits 0 within 30 s, and every decision it answered reaches RabbitMQ before it
// exits (the outbox is drained): nothing answered is lost.
import { randomUUID } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withVhost } from '../../bench/runner/env.ts';
import { EXCHANGE_EVENTS } from '../../shared/broker/topology.ts';
import { connectPostgres } from '../../shared/stores/postgres.ts';
import { createBusinessCard } from '../support/cardholders.ts';
import { decisionsOf } from '../support/decision-batches.ts';
import { TEST_GATEWAY_ENV } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';
import { freePort, startNode, waitFor } from '../../shared/dev/processes.ts';

const CLIENTS = 32;
const LOAD_BEFORE_SIGTERM_MS = 2_000;
const EXIT_DEADLINE_MS = 30_000;

const vhost = `afc-shutdown-${randomUUID().slice(0, 8)}`;
const amqp_url = withVhost(process.env.RABBITMQ_URL!, vhost);
const sql = connectPostgres({ url: process.env.DATABASE_URL!, application_name: 'afc-test' });
const seen = new Set<string>();
let rabbit: Connection;
let consumer: ReturnType<Connection['createConsumer']>;

beforeAll(async () => {
  await createVhost(vhost);
  rabbit = new Connection(amqp_url);
  await rabbit.exchangeDeclare({ exchange: EXCHANGE_EVENTS, type: 'topic', durable: true });
  consumer = rabbit.createConsumer(
    {
      queue: 'test.shutdown.decisions',
      queueOptions: { exclusive: true, autoDelete: true },
      queueBindings: [{ exchange: EXCHANGE_EVENTS, routingKey: 'decision.#' }],
    },
    (message) => {
      for (const event of decisionsOf(message.body)) seen.add(event.request.jit_token);
    },
  );
  await new Promise((resolve) => consumer.once('ready', resolve));
});
afterAll(async () => {
  await consumer?.close();
  await rabbit?.close();
  await sql.end();
  await deleteVhost(vhost);
});

describe('gateway SIGTERM under load', () => {
  it('readiness turns 503 while requests are still answered, exit 0 within 30 s, every answered decision relayed', async () => {
    const card = await createBusinessCard(sql);
    const port = await freePort();
    const internal_port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    // Readiness is on the internal listener, which stays open until the process exits.
    const internal_origin = `http://127.0.0.1:${internal_port}`;
    const child = startNode('gateway/main.ts', {
      GATEWAY_PORT: String(port),
      GATEWAY_INTERNAL_PORT: String(internal_port),
      GATEWAY_HOST: '127.0.0.1',
      RABBITMQ_URL: amqp_url,
      REDIS_KEY_PREFIX: `sd${randomUUID().slice(0, 8)}`,
      REDIS_SHARDS: '4',
      SHUTDOWN_DRAIN_DELAY_MS: '2000',
      // Durability is under test, not the budget or shedding: a busy machine must not turn decisions into timeouts.
      ...TEST_GATEWAY_ENV,
      // info: the shutdown steps and their durations are logged; shown if the exit is late.
      LOG_LEVEL: 'info',
    });
    try {
      await waitFor(async () => (await fetch(`${internal_origin}/api/health/ready`)).ok, 'gateway ready');
      const pool = new Pool(origin, { connections: CLIENTS, pipelining: 1 });
      const answered: string[] = [];
      const mismatched: string[] = [];
      let stop = false;
      const client = async () => {
        while (!stop) {
          const body = jitRequest({ ...card, amount: 1 });
          const token = (body.gpa_order as { jit_funding: { token: string } }).jit_funding.token;
          try {
            const response = await pool.request({
              method: 'POST',
              path: '/api/transactions/authorize',
              headers: { authorization: basicAuth(), 'content-type': 'application/json' },
              body: JSON.stringify(body),
            });
            const text = await response.body.text();
            if (response.statusCode === 200 || response.statusCode === 402) {
              (JSON.parse(text).jit_funding.token === token ? answered : mismatched).push(token);
            }
          } catch {
            // The listener is closed: this client is done.
            return;
          }
        }
      };
      const clients = Array.from({ length: CLIENTS }, client);
      await new Promise((resolve) => setTimeout(resolve, LOAD_BEFORE_SIGTERM_MS));
      const answered_before = answered.length;
      const exited = Promise.race([
        child.exited,
        new Promise<'deadline'>((resolve) => setTimeout(() => resolve('deadline'), EXIT_DEADLINE_MS)),
      ]);
      child.process.kill('SIGTERM');

      // Readiness (own connection each time, as a load balancer probes) while the load goes on.
      let ready_503 = false;
      while (!ready_503) {
        const status = await fetch(`${internal_origin}/api/health/ready`).then(
          (r) => r.status,
          () => 0,
        );
        if (status === 503) ready_503 = true;
        if (status === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const answered_at_503 = answered.length;
      const exit_code = await exited;
      const shutdown_log = child
        .output()
        .split('\n')
        .filter((line) => !line.includes('refusing to accept new requests'))
        .slice(-40)
        .join('\n');
      expect(exit_code, shutdown_log).toBe(0);
      stop = true;
      await Promise.all(clients);
      await pool.close();

      expect(ready_503).toBe(true);
      expect(mismatched).toEqual([]);
      expect(answered_before).toBeGreaterThan(0);
      // Requests were still answered after readiness said 503 (the drain delay at work).
      expect(answered.length).toBeGreaterThan(answered_at_503);
      // Every decision the gateway answered was published before it exited.
      await waitFor(
        async () => answered.every((token) => seen.has(token)),
        'every answered decision relayed',
        10_000,
      ).catch(() => {});
      expect(answered.filter((token) => !seen.has(token))).toEqual([]);
      expect(child.output()).not.toMatch(/outbox not drained/);
    } finally {
      if (child.process.exitCode === null) child.process.kill('SIGKILL');
      await child.exited;
    }
  });
});
