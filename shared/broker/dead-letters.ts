// Operations on the dead-letter queue of a work queue, for the `dlq` CLI and the operator console: list, show, replay
// (republish to the work queue with publisher confirms, then remove from the DLQ) and purge.
// Messages are read with basic.get on a channel of our own; whatever is not removed goes back
// to the DLQ when the channel closes, in its order.

import type { Connection, SyncMessage } from 'rabbitmq-client';
import {
  deadLetterQueueName,
  HEADER_ATTEMPT,
  HEADER_FAILED_AT,
  HEADER_LAST_ERROR,
  HEADER_ORIGINAL_ROUTING_KEY,
} from './topology.ts';
import { CONTENT_TYPE_DECISION_BATCH, decodeBatch, entryFields } from '../decision-batch.ts';

/** Messages read from a DLQ in one command: a DLQ larger than this is handled in rounds. */
export const DEAD_LETTERS_READ_MAX = 10_000;

/** Headers that describe one failed life of a message; a replay starts a fresh one. */
const FAILURE_HEADERS = [HEADER_ATTEMPT, HEADER_LAST_ERROR, HEADER_FAILED_AT];

export interface DeadLetter {
  /** 1-based position in the DLQ, as `show <n>` and `replay <n>` take it. */
  readonly position: number;
  readonly message_id: string | null;
  readonly routing_key: string | null;
  readonly reason: string | null;
  readonly attempts: number | null;
  readonly failed_at: string | null;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly body: unknown;
}

function describe(message: SyncMessage, position: number): DeadLetter {
  const headers = (message.headers ?? {}) as Record<string, unknown>;
  const text = (name: string) => (headers[name] === undefined ? null : String(headers[name]));
  return {
    position,
    message_id: message.messageId ?? null,
    routing_key: text(HEADER_ORIGINAL_ROUTING_KEY),
    reason: text(HEADER_LAST_ERROR),
    attempts: headers[HEADER_ATTEMPT] === undefined ? null : Number(headers[HEADER_ATTEMPT]),
    failed_at: text(HEADER_FAILED_AT),
    headers,
    body: readableBody(message),
  };
}

/** A decision batch as its outbox entries (fields by name), anything else as it came. */
function readableBody(message: SyncMessage): unknown {
  const text = Buffer.isBuffer(message.body) ? message.body.toString('utf8') : message.body;
  if (message.contentType !== CONTENT_TYPE_DECISION_BATCH) return text;
  try {
    return decodeBatch(text as string).map((entry) => ({
      outbox_id: entry.outbox_id,
      ...entryFields(entry),
    }));
  } catch {
    return text;
  }
}

/** Reads up to `limit` messages (unacked) on a fresh channel and runs `use`; the rest go back on close. */
async function withDeadLetters<T>(
  rabbit: Connection,
  queue: string,
  limit: number,
  use: (channel: Awaited<ReturnType<Connection['acquire']>>, messages: SyncMessage[]) => Promise<T>,
): Promise<T> {
  const channel = await rabbit.acquire();
  try {
    // Passive: a missing queue is an operator typo, not something to create. The work queue
    // must exist too, or a replay into it would be confirmed and dropped.
    await channel.queueDeclare({ queue, passive: true });
    await channel.queueDeclare({ queue: deadLetterQueueName(queue), passive: true });
    await channel.confirmSelect();
    const messages: SyncMessage[] = [];
    while (messages.length < Math.min(limit, DEAD_LETTERS_READ_MAX)) {
      const message = await channel.basicGet({ queue: deadLetterQueueName(queue) });
      if (message === undefined) break;
      messages.push(message);
    }
    return await use(channel, messages);
  } finally {
    await channel.close();
  }
}

export function listDeadLetters(
  rabbit: Connection,
  queue: string,
  limit = DEAD_LETTERS_READ_MAX,
): Promise<DeadLetter[]> {
  return withDeadLetters(rabbit, queue, limit, async (_channel, messages) =>
    messages.map((m, i) => describe(m, i + 1)),
  );
}

export async function showDeadLetter(
  rabbit: Connection,
  queue: string,
  position: number,
): Promise<DeadLetter | null> {
  return withDeadLetters(rabbit, queue, position, async (_channel, messages) => {
    const message = messages[position - 1];
    return message === undefined ? null : describe(message, position);
  });
}

/** Replays one message (by position) or all; returns how many went back to the work queue. */
export async function replayDeadLetters(
  rabbit: Connection,
  queue: string,
  which: 'all' | number,
): Promise<number> {
  const limit = which === 'all' ? DEAD_LETTERS_READ_MAX : which;
  return withDeadLetters(rabbit, queue, limit, async (channel, messages) => {
    const chosen = which === 'all' ? messages : messages.slice(which - 1, which);
    for (const message of chosen) {
      const headers: Record<string, unknown> = {
        ...message.headers,
        'x-replayed-at': new Date().toISOString(),
      };
      for (const name of FAILURE_HEADERS) delete headers[name];
      // Confirmed by the broker before the DLQ copy is removed: a crash here duplicates, never loses.
      await channel.basicPublish(
        {
          exchange: '',
          routingKey: queue,
          durable: true,
          headers,
          messageId: message.messageId,
          contentType: message.contentType,
          timestamp: message.timestamp,
        },
        message.body,
      );
      channel.basicAck({ deliveryTag: message.deliveryTag });
    }
    return chosen.length;
  });
}

export async function purgeDeadLetters(rabbit: Connection, queue: string): Promise<number> {
  const channel = await rabbit.acquire();
  try {
    const { messageCount } = await channel.queuePurge({ queue: deadLetterQueueName(queue) });
    return messageCount;
  } finally {
    await channel.close();
  }
}
