// RabbitMQ side of a bench run: a vhost of its own (so bench decisions never reach another
// engineer's consumers, and everything goes with the vhost afterwards), the depth of the
// decision queue over time (worker backlog), and a tap: an exclusive queue bound like the
// decision queue, timing every decision from its `decided_at_ms` (Redis TIME, same machine)
// to its delivery here, i.e. outbox -> relay -> RabbitMQ -> a consumer.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Connection, type Consumer } from 'rabbitmq-client';
import {
  declareTopology,
  EXCHANGE_EVENTS,
  QUEUE_DECISIONS,
  QUEUE_PERSONAL_DECISIONS,
} from '../../shared/broker/topology.ts';
import { decisionEventOf, decodeBatch } from '../../shared/decision-batch.ts';
import { type Histogram, newHistogram, recordMs } from '../simulator/latency.ts';

const run = promisify(execFile);
const RABBITMQCTL_TIMEOUT_MS = 60_000;
const TAP_PREFETCH = 2_000;

export async function createVhost(vhost: string): Promise<void> {
  await run('rabbitmqctl', ['-q', 'add_vhost', vhost], { timeout: RABBITMQCTL_TIMEOUT_MS });
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*'], {
    timeout: RABBITMQCTL_TIMEOUT_MS,
  });
}

export async function deleteVhost(vhost: string): Promise<void> {
  await run('rabbitmqctl', ['-q', 'delete_vhost', vhost], { timeout: RABBITMQCTL_TIMEOUT_MS });
}

export interface DepthSample {
  readonly t_s: number;
  readonly decisions_queue: number;
  readonly outbox: number;
}

export class BrokerProbe {
  readonly #rabbit: Connection;
  readonly #run_id: string;
  #tap: Consumer | undefined;
  /** Decision (Redis) -> delivered to the tap, per phase; the runner swaps it between phases. */
  tap_latency: Histogram = newHistogram();
  tapped = 0;

  constructor(amqp_url: string, run_id: string) {
    this.#rabbit = new Connection({
      url: amqp_url,
      connectionName: 'afc-bench',
      connectionTimeout: 5_000,
      retryHigh: 2_000,
    });
    this.#rabbit.on('error', () => {});
    this.#run_id = run_id;
  }

  async startTap(): Promise<void> {
    await declareTopology(this.#rabbit);
    this.#tap = this.#rabbit.createConsumer(
      {
        queue: `bench.tap.${this.#run_id}`,
        queueOptions: { exclusive: true, autoDelete: true, durable: false },
        queueBindings: [{ exchange: EXCHANGE_EVENTS, routingKey: 'decision.#' }],
        noAck: true,
        qos: { prefetchCount: TAP_PREFETCH },
      },
      (message) => {
        // Decision batches (shared/decision-batch.ts): every decision of a message arrived now.
        const now_ms = Date.now();
        for (const entry of decodeBatch(message.body as Buffer)) {
          const event = decisionEventOf(entry);
          if (event.revision === 1 && event.request.jit_token.startsWith(this.#run_id)) {
            recordMs(this.tap_latency, now_ms - event.decided_at_ms);
            this.tapped++;
          }
        }
      },
    );
  }

  /**
   * Messages waiting in both decision queues (business and personal): decision batches, so
   * decisions waiting are up to RELAY_BATCH_MAX times more.
   */
  async decisionQueueDepth(): Promise<number> {
    let depth = 0;
    for (const queue of [QUEUE_DECISIONS, QUEUE_PERSONAL_DECISIONS]) {
      depth += (await this.#rabbit.queueDeclare({ queue, passive: true })).messageCount;
    }
    return depth;
  }

  async close(): Promise<void> {
    await this.#tap?.close();
    await this.#rabbit.close();
  }
}
