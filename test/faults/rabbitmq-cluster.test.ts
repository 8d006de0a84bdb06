// RabbitMQ beyond one node: a private 3-node cluster of local rabbitmq-server nodes (never the
// shared node), a quorum queue replicated on all three, and our broker client given every node
// (RABBITMQ_HOSTS). Under a steady stream of confirmed publishes and a consumer, the node both
// clients are connected to is SIGKILLed: they reconnect to a live node, publishing resumes, and
// every message the broker confirmed is delivered (at least once; consumers dedupe on the id).
import { randomUUID } from 'node:crypto';
import type { Connection } from 'rabbitmq-client';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { connectRabbit } from '../../shared/broker/connection.ts';
import { waitFor } from '../../shared/dev/processes.ts';
import { type RabbitCluster, startRabbitCluster } from '../../shared/dev/rabbitmq-cluster.ts';
import { createLogger } from '../../shared/logger.ts';

const QUEUE = `test.cluster.${randomUUID().slice(0, 8)}`;
/** AFC_RABBITMQ_CLUSTER=0 skips it (three Erlang VMs). */
const ENABLED = process.env.AFC_RABBITMQ_CLUSTER !== '0';
const TEST_TIMEOUT_MS = 180_000;
const log = createLogger('rabbit-cluster-test', process.env.LOG_LEVEL ?? 'silent');
let cluster: RabbitCluster;
let publishing: Connection;
let consuming: Connection;

beforeAll(async () => {
  if (!ENABLED) return;
  cluster = await startRabbitCluster(3);
  const address = { rabbitmq_url: cluster.url, rabbitmq_hosts: cluster.hosts };
  publishing = connectRabbit(address, 'afc-test-cluster-publisher', log);
  consuming = connectRabbit(address, 'afc-test-cluster-consumer', log);
  await publishing.queueDeclare({ queue: QUEUE, durable: true, arguments: { 'x-queue-type': 'quorum' } });
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  if (!ENABLED) return;
  await Promise.allSettled([publishing?.close(), consuming?.close()]);
  await cluster?.destroy();
}, TEST_TIMEOUT_MS);

describe.runIf(ENABLED)('a 3-node RabbitMQ cluster', () => {
  it(
    'loses no confirmed message when the connected node is killed under load',
    async () => {
      const received = new Set<string>();
      const consumer = consuming.createConsumer(
        {
          queue: QUEUE,
          queueOptions: { durable: true, arguments: { 'x-queue-type': 'quorum' } },
          qos: { prefetchCount: 100 },
        },
        (message) => {
          received.add(String(message.messageId));
        },
      );
      const publisher = publishing.createPublisher({ confirm: true, maxAttempts: 1 });
      // Closed on failure too: the connections' close() in afterAll waits for every channel, and
      // the cluster would be left running.
      onTestFinished(async () => {
        await consumer.close();
        await publisher.close();
      });
      const confirmed: string[] = [];
      let failed = 0;
      let running = true;
      const publish = async () => {
        for (let n = 0; running; n++) {
          const id = `m${n}`;
          try {
            await publisher.send({ routingKey: QUEUE, messageId: id, durable: true }, { n });
            confirmed.push(id);
          } catch {
            // Not confirmed (the node went away mid-publish): the sender would retry; not counted.
            failed++;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      };
      const publishing_done = publish();
      try {
        await waitFor(async () => confirmed.length >= 300, 'publishing under way', 60_000);
        await cluster.kill(0);
        const killed_at = confirmed.length;
        expect(await cluster.isRunning(0)).toBe(false);
        // Publishing resumes through a live node.
        await waitFor(async () => confirmed.length >= killed_at + 300, 'publishing resumed', 90_000);
      } finally {
        running = false;
        await publishing_done;
      }
      await waitFor(
        async () => confirmed.every((id) => received.has(id)),
        'every confirmed message delivered',
        60_000,
      ).catch(() => {});
      expect(confirmed.filter((id) => !received.has(id))).toEqual([]);
      console.info(
        `rabbitmq node loss: ${confirmed.length} confirmed, ${failed} publishes failed and not confirmed`,
      );
    },
    TEST_TIMEOUT_MS,
  );
});
