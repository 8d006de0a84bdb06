// The retry path of a work queue (shared/broker/topology.ts): a message whose processing
// failed is republished, with publisher confirms, to `<queue>.retry.<n>` (whose TTL sends it
// back to `<queue>` after the delay) or, once its retries are spent, to `<queue>.dlq` with
// the reason and the attempt count in its headers. The caller acks the original only after
// this resolves; if the republish fails it throws and the original is requeued instead.
// Any consumer of a work queue (decisions, webhooks) can use it.

import type { AsyncMessage, Connection, Envelope, Publisher } from 'rabbitmq-client';
import {
  deadLetterQueueName,
  HEADER_ATTEMPT,
  HEADER_FAILED_AT,
  HEADER_LAST_ERROR,
  HEADER_ORIGINAL_ROUTING_KEY,
  retryQueueName,
  workQueueDeclarations,
} from '../../shared/broker/topology.ts';
import { failureReason } from '../errors.ts';

export { HEADER_ORIGINAL_ROUTING_KEY };

/** Headers RabbitMQ adds on dead-lettering; they describe the last hop only, so they are dropped. */
const BROKER_DEATH_HEADERS = [
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
];

/** Publish attempts for one republish (rabbitmq-client waits for a connection between them). */
const REPUBLISH_ATTEMPTS_MAX = 3;

/** What to republish instead of the whole message. */
export interface MessagePart {
  readonly body: unknown;
  readonly message_id: string;
}

export interface Hop {
  readonly queue: string;
  /** Failed processing attempts including this one. */
  readonly attempt: number;
  readonly dead: boolean;
}

/** Failed attempts recorded on a message so far (0 for a first delivery or a replay). */
export function attemptsOf(headers: Readonly<Record<string, unknown>> | undefined): number {
  const value = Number(headers?.[HEADER_ATTEMPT] ?? 0);
  return Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/** Next queue after one more failure; `permanent` failures skip the retries. */
export function nextHop(
  queue: string,
  retry_delays_ms: readonly number[],
  failed_before: number,
  permanent = false,
): Hop {
  const attempt = failed_before + 1;
  if (!permanent && attempt <= retry_delays_ms.length)
    return { queue: retryQueueName(queue, attempt), attempt, dead: false };
  return { queue: deadLetterQueueName(queue), attempt, dead: true };
}

export class RetryPath {
  readonly #queue: string;
  readonly #retry_delays_ms: readonly number[];
  readonly #publisher: Publisher;

  constructor(rabbit: Connection, queue: string, retry_delays_ms: readonly number[]) {
    this.#queue = queue;
    this.#retry_delays_ms = retry_delays_ms;
    // The retry queues and the DLQ are declared before the first publish and on every reconnect.
    this.#publisher = rabbit.createPublisher({
      confirm: true,
      maxAttempts: REPUBLISH_ATTEMPTS_MAX,
      queues: workQueueDeclarations(queue, retry_delays_ms).map((q) => ({
        ...q,
        arguments: { ...q.arguments },
      })),
    });
  }

  /**
   * Republishes a failed message to its next hop (confirmed) and says where it went; with
   * `part`, only that part of it (one decision of a batch), under its own message id.
   */
  async fail(message: AsyncMessage, error: unknown, permanent = false, part?: MessagePart): Promise<Hop> {
    const hop = nextHop(this.#queue, this.#retry_delays_ms, attemptsOf(message.headers), permanent);
    const headers: Record<string, unknown> = { ...message.headers };
    for (const name of BROKER_DEATH_HEADERS) delete headers[name];
    headers[HEADER_ATTEMPT] = hop.attempt;
    headers[HEADER_LAST_ERROR] = failureReason(error);
    headers[HEADER_FAILED_AT] = new Date().toISOString();
    headers[HEADER_ORIGINAL_ROUTING_KEY] ??= message.routingKey;
    const envelope: Envelope = {
      exchange: '',
      routingKey: hop.queue,
      durable: true,
      headers,
      messageId: part?.message_id ?? message.messageId,
      contentType: message.contentType,
      timestamp: message.timestamp,
    };
    await this.#publisher.send(envelope, part === undefined ? message.body : part.body);
    return hop;
  }

  async close(): Promise<void> {
    await this.#publisher.close();
  }
}
