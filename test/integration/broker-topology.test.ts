// The decisions topology on a real RabbitMQ (a vhost of this test's own): business (and unknown-card)
// and personal decisions reach one queue each, and the binding of earlier versions (every decision into
// afc.decisions) is removed, so no decision is delivered twice.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withVhost } from '../../bench/runner/env.ts';
import { connectRabbit } from '../../shared/broker/connection.ts';
import {
  declareTopology,
  EXCHANGE_EVENTS,
  QUEUE_DECISIONS,
  QUEUE_PERSONAL_DECISIONS,
} from '../../shared/broker/topology.ts';
import { createLogger } from '../../shared/logger.ts';
import { decisionRoutingKey } from '../../shared/messages.ts';

const vhost = `afc-topology-${randomUUID().slice(0, 8)}`;
let rabbit: ReturnType<typeof connectRabbit>;

beforeAll(async () => {
  await createVhost(vhost);
  rabbit = connectRabbit(
    withVhost(process.env.RABBITMQ_URL!, vhost),
    'afc-test-topology',
    createLogger('topology-test', 'silent'),
  );
});
afterAll(async () => {
  await rabbit?.close();
  await deleteVhost(vhost);
});

async function depth(queue: string): Promise<number> {
  return (await rabbit.queueDeclare({ queue, passive: true })).messageCount;
}

describe('decisions topology', () => {
  it('routes business and personal decisions to their own queues and removes the old catch-all binding', async () => {
    await rabbit.exchangeDeclare({ exchange: EXCHANGE_EVENTS, type: 'topic', durable: true });
    await rabbit.queueDeclare({
      queue: QUEUE_DECISIONS,
      durable: true,
      arguments: { 'x-queue-type': 'quorum' },
    });
    // As an earlier version left it.
    await rabbit.queueBind({ queue: QUEUE_DECISIONS, exchange: EXCHANGE_EVENTS, routingKey: 'decision.#' });
    await declareTopology(rabbit);

    const publisher = rabbit.createPublisher({ confirm: true });
    try {
      for (const kind of ['business', 'personal', 'unknown'] as const) {
        for (const approved of [true, false]) {
          await publisher.send(
            {
              exchange: EXCHANGE_EVENTS,
              routingKey: decisionRoutingKey({ kind, approved }),
              durable: true,
              mandatory: true,
            },
            { kind, approved },
          );
        }
      }
    } finally {
      await publisher.close();
    }
    // Quorum queues count a confirmed message at once.
    expect(await depth(QUEUE_DECISIONS)).toBe(4);
    expect(await depth(QUEUE_PERSONAL_DECISIONS)).toBe(2);
  });

  it('tells a publisher of a message no queue took (mandatory), through onReturn', async () => {
    await declareTopology(rabbit);
    const returned: string[] = [];
    const publisher = rabbit.createPublisher({
      confirm: true,
      onReturn: (message) => returned.push(String(message.messageId)),
    });
    try {
      const envelope = { exchange: EXCHANGE_EVENTS, durable: true, mandatory: true };
      await publisher.send({ ...envelope, routingKey: 'nowhere.bound', messageId: 'unroutable' }, {});
      await publisher.send(
        {
          ...envelope,
          routingKey: decisionRoutingKey({ kind: 'business', approved: true }),
          messageId: 'routed',
        },
        {},
      );
    } finally {
      await publisher.close();
    }
    // The broker sends basic.return before the confirm of the same message.
    expect(returned).toEqual(['unroutable']);
  });
});
