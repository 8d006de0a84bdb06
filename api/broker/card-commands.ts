// Publishes `command.card.issue` to afc.events with publisher confirms. A command nobody
// routes (returned by the broker as unroutable) counts as not published.

import type { Connection, Publisher } from 'rabbitmq-client';
import { EXCHANGE_EVENTS, exchanges, queueBindings, queues } from '../../shared/broker/topology.ts';
import { ApiError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { CARD_ISSUE_ROUTING_KEY, type CardIssueCommand } from '../../shared/messages.ts';

/** Returned messages we have not yet matched to their confirm; bounded. */
const RETURNED_MAX = 1_000;

export class CardCommandPublisher {
  readonly #publisher: Publisher;
  readonly #returned = new Set<string>();
  readonly #log: Logger;

  constructor(rabbit: Connection, log: Logger) {
    this.#log = log;
    this.#publisher = rabbit.createPublisher({
      confirm: true,
      maxAttempts: 2,
      // Declared on every (re)connect, so the worker's queue exists before our first command.
      exchanges: exchanges.map((e) => ({ ...e })),
      queues: queues.map((q) => ({ ...q, arguments: { ...q.arguments } })),
      queueBindings: queueBindings.map((b) => ({ ...b })),
      onReturn: (message) => {
        if (message.messageId && this.#returned.size < RETURNED_MAX) this.#returned.add(message.messageId);
      },
    });
  }

  async publishIssue(command: CardIssueCommand): Promise<void> {
    const message_id = `card.issue:${command.card_id}:${command.requested_at_ms}`;
    try {
      await this.#publisher.send(
        {
          exchange: EXCHANGE_EVENTS,
          routingKey: CARD_ISSUE_ROUTING_KEY,
          durable: true,
          mandatory: true,
          contentType: 'application/json',
          messageId: message_id,
          timestamp: Math.floor(command.requested_at_ms / 1000),
        },
        command,
      );
    } catch (error) {
      this.#log.error({ err: error, card_id: command.card_id }, 'card issue command not confirmed');
      throw new ApiError(
        'API_ERR_UNAVAILABLE',
        `Card ${command.card_id} was saved as pending but its issue command was not published; retry with POST /api/cards/${command.card_id}/issue.`,
      );
    }
    if (this.#returned.delete(message_id)) {
      this.#log.error({ card_id: command.card_id }, 'card issue command unroutable');
      throw new ApiError(
        'API_ERR_UNAVAILABLE',
        `Card ${command.card_id} was saved as pending but no queue took its issue command; retry with POST /api/cards/${command.card_id}/issue.`,
      );
    }
  }

  close(): Promise<void> {
    return this.#publisher.close();
  }
}
