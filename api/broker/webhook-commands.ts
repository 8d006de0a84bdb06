// Publishes events addressed to one webhook endpoint (test events, retries asked for) straight
// to the worker's webhook work queue, with publisher confirms; an unroutable message (returned
// by the broker) counts as not published.

import type { Connection, Publisher } from 'rabbitmq-client';
import { workQueueDeclarations } from '../../shared/broker/topology.ts';
import { ApiError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { type AddressedEvent, addressedDeliveryMessage } from '../../shared/webhooks/addressed-delivery.ts';

/** Returned messages not yet matched to their confirm; bounded. */
const RETURNED_MAX = 1_000;

export class WebhookCommandPublisher {
  readonly #publisher: Publisher;
  readonly #queue: string;
  readonly #returned = new Set<string>();
  readonly #log: Logger;

  constructor(rabbit: Connection, queue: string, log: Logger) {
    this.#queue = queue;
    this.#log = log;
    // The work queue as the worker declares it (the same arguments, or the broker refuses).
    const [work_queue] = workQueueDeclarations(queue, []);
    this.#publisher = rabbit.createPublisher({
      confirm: true,
      maxAttempts: 2,
      queues: [{ ...work_queue!, arguments: { ...work_queue!.arguments } }],
      onReturn: (message) => {
        if (message.messageId && this.#returned.size < RETURNED_MAX) this.#returned.add(message.messageId);
      },
    });
  }

  async publish(event: AddressedEvent): Promise<void> {
    const { envelope, body } = addressedDeliveryMessage(this.#queue, event);
    try {
      await this.#publisher.send(envelope, body);
    } catch (error) {
      this.#log.error(
        { err: error, endpoint_id: event.endpoint_id },
        'addressed webhook event not confirmed',
      );
      throw new ApiError('API_ERR_UNAVAILABLE', 'The event could not be queued for delivery; retry shortly.');
    }
    if (this.#returned.delete(event.event_id)) {
      this.#log.error({ endpoint_id: event.endpoint_id }, 'addressed webhook event unroutable');
      throw new ApiError('API_ERR_UNAVAILABLE', 'No queue took the event; retry shortly.');
    }
  }

  close(): Promise<void> {
    return this.#publisher.close();
  }
}
