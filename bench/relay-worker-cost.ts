// Relay and worker cost per decision, without the load generator: N business approvals are written
// into an outbox stream of its own (the fields decide-10.lua writes), relayed to RabbitMQ in a
// vhost of its own, then persisted by a decision consumer. Reports wall time and CPU per decision
// of the relay (this process), of RabbitMQ (its beam.smp, from /proc) and of the worker (this
// process, relay stopped), once per message size given: `--sizes 1,256` compares one decision
// per message with batches. The machine is shared: CPU figures include whatever else ran.
//
//   node bench/relay-worker-cost.ts [--decisions 10000] [--sizes 1,256] [--cards 50] [--rabbit-pid <pid>]
// Environment as for the worker (source scripts/dev-env.sh).

import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Connection } from 'rabbitmq-client';
import { Registry } from 'prom-client';
import { OutboxRelay, RELAY_DEFAULTS } from '../gateway/outbox/relay.ts';
import { loadWorkerConfig } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { gatewayMetrics, workerMetrics } from '../shared/metrics.ts';
import { connectRedis } from '../shared/stores/redis.ts';
import type { ConsumerHandle } from '../worker/consumer-handle.ts';
import { startDecisionConsumer } from '../worker/decisions/consumer.ts';
import { createWorker } from '../worker/worker.ts';
import { createBusinessCard } from '../test/support/cardholders.ts';
import { outboxFields } from '../test/support/decision-batches.ts';
import { decisionEvent } from '../test/support/worker-harness.ts';
import { createVhost, deleteVhost } from './runner/broker.ts';
import { withVhost } from './runner/env.ts';

const CLOCK_TICKS_PER_S = 100;
const POLL_MS = 250;
const XADD_CHUNK = 1_000;

const { values } = parseArgs({
  options: {
    decisions: { type: 'string', default: '10000' },
    sizes: { type: 'string', default: '1,256' },
    cards: { type: 'string', default: '50' },
    'rabbit-pid': { type: 'string' },
  },
});
const decisions = Number(values.decisions);
const sizes = values.sizes.split(',').map(Number);
const rabbit_pid = Number(
  values['rabbit-pid'] ?? execFileSync('pgrep', ['-o', 'beam.smp']).toString().trim(),
);
const log = createLogger('relay-worker-cost', 'error');

function rabbitCpuS(): number {
  const stat = readFileSync(`/proc/${rabbit_pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

function ownCpuS(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

async function phase<T>(label: string, run: () => Promise<T>): Promise<void> {
  const [wall0, own0, rabbit0] = [performance.now(), ownCpuS(), rabbitCpuS()];
  await run();
  const wall_s = (performance.now() - wall0) / 1000;
  const per_us = (s: number) => ((s * 1e6) / decisions).toFixed(0);
  console.log(
    `  ${label}: ${(decisions / wall_s).toFixed(0)} decisions/s; CPU per decision: this process ${per_us(ownCpuS() - own0)} us, RabbitMQ ${per_us(rabbitCpuS() - rabbit0)} us`,
  );
}

async function measure(size: number): Promise<void> {
  const run_id = randomUUID().slice(0, 8);
  const vhost = `afc-cost-${run_id}`;
  await createVhost(vhost);
  const amqp_url = withVhost(process.env.RABBITMQ_URL!, vhost);
  const config = loadWorkerConfig({ ...process.env, RABBITMQ_URL: amqp_url, WORKER_HEALTH_PORT: '0' });
  const redis = connectRedis({ url: process.env.REDIS_URL!, connection_name: 'afc-cost' });
  await redis.connect();
  const stream = `cost${run_id}:{0}:outbox`;
  const rabbit = new Connection(amqp_url);
  rabbit.on('error', () => {});
  const worker = await createWorker(config, log, { consumers: [] });
  let consumer: ConsumerHandle | undefined;
  try {
    const cards = [];
    for (let i = 0; i < Number(values.cards); i++)
      cards.push(await createBusinessCard(worker.sql, { daily_limit_minor: 10n ** 12n }));
    for (let at = 0; at < decisions; at += XADD_CHUNK) {
      const pipeline = redis.pipeline();
      for (let i = at; i < Math.min(decisions, at + XADD_CHUNK); i++) {
        const jit_token = `cost_${run_id}_${i}`;
        const event = decisionEvent({
          card: cards[i % cards.length]!,
          kind: 'business',
          amount_minor: 100n,
          jit_token,
        });
        pipeline.xadd(stream, '*', ...outboxFields(event));
      }
      await pipeline.exec();
    }
    console.log(`${decisions} decisions, ${size} per message:`);
    const relay_redis = connectRedis({ url: process.env.REDIS_URL!, connection_name: 'afc-cost-relay' });
    await relay_redis.connect();
    const relay = new OutboxRelay(
      relay_redis,
      rabbit,
      {
        streams: [stream],
        consumer_name: 'cost',
        batch_max: 512,
        message_decisions_max: size,
        message_bytes_max: 256 * 1024,
        claim_idle_ms: 30_000,
        linger_ms: 2,
        ...RELAY_DEFAULTS,
      },
      log,
      gatewayMetrics(new Registry()),
    );
    await phase('relay (outbox -> RabbitMQ, confirmed)', async () => {
      relay.start();
      while ((await redis.xlen(stream)) > 0) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    });
    await relay.stop();
    relay_redis.disconnect();
    const card_ids = cards.map((c) => c.card_id);
    const persisted = async () =>
      Number(
        (await worker.sql`SELECT count(*) AS n FROM transactions WHERE card_id = ANY(${card_ids})`)[0]!.n,
      );
    await phase('worker (RabbitMQ -> PostgreSQL, acked)', async () => {
      consumer = startDecisionConsumer({
        config,
        log,
        rabbit: worker.rabbit,
        sql: worker.sql,
        document_lock_sql: worker.document_lock_sql,
        mongo: worker.mongo,
        metrics: workerMetrics(new Registry()),
      });
      while ((await persisted()) < decisions) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    });
    await worker.sql`DELETE FROM transactions WHERE card_id = ANY(${card_ids})`;
    await worker.sql`DELETE FROM spending_controls WHERE card_id = ANY(${card_ids})`;
    await worker.sql`DELETE FROM authorization_holds WHERE card_id = ANY(${card_ids})`;
  } finally {
    await consumer?.close();
    await worker.close();
    await rabbit.close();
    await redis.del(stream);
    redis.disconnect();
    await deleteVhost(vhost);
  }
}

for (const size of sizes) await measure(size);
