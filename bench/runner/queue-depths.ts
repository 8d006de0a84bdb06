// Ready messages in each decision queue apart (business and personal drain at their own store's
// pace), for the persisted-rate measurement, and their dead letters for the ledger check. The
// broker probe (broker.ts) gives their sum.

import { Connection } from 'rabbitmq-client';
import {
  deadLetterQueueName,
  QUEUE_DECISIONS,
  QUEUE_PERSONAL_DECISIONS,
} from '../../shared/broker/topology.ts';

export interface DecisionQueueDepths {
  readonly business: number;
  readonly personal: number;
}

export class QueueDepths {
  readonly #rabbit: Connection;

  constructor(amqp_url: string) {
    this.#rabbit = new Connection({ url: amqp_url, connectionName: 'afc-bench-depths', retryHigh: 2_000 });
    this.#rabbit.on('error', () => {});
  }

  async read(): Promise<DecisionQueueDepths> {
    const [business, personal] = await Promise.all(
      [QUEUE_DECISIONS, QUEUE_PERSONAL_DECISIONS].map(
        async (queue) => (await this.#rabbit.queueDeclare({ queue, passive: true })).messageCount,
      ),
    );
    return { business: business!, personal: personal! };
  }

  /** Decisions the worker gave up on (its dead-letter queues): a decision missing from the ledger may be there. */
  async deadLetters(): Promise<number> {
    const counts = await Promise.all(
      [QUEUE_DECISIONS, QUEUE_PERSONAL_DECISIONS].map(
        async (queue) =>
          (await this.#rabbit.queueDeclare({ queue: deadLetterQueueName(queue), passive: true }))
            .messageCount,
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    await this.#rabbit.close();
  }
}
