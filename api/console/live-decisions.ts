// Live decisions for the console: one exclusive, auto-delete queue of this API process bound to
// the decisions exchange (decision.#), consumed only while a console is watching. The gateway's
// hot path is untouched: it already publishes every decision batch to afc.events. Each console
// stream sees only the decisions on cards its API key sees (the card service's tenancy rule).

import { randomUUID } from 'node:crypto';
import type { Connection, Consumer } from 'rabbitmq-client';
import { EXCHANGE_EVENTS } from '../../shared/broker/topology.ts';
import { decisionEventOf, decodeBatch } from '../../shared/decision-batch.ts';
import type { Logger } from '../../shared/logger.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { statusName } from '../services/transaction-service.ts';

/** What one console row shows; the card token is masked (last four). */
export interface LiveDecision {
  readonly id: string;
  readonly decided_at_ms: number;
  readonly kind: DecisionEvent['kind'];
  readonly card_id: string | null;
  readonly card_masked: string;
  readonly amount_minor: string;
  readonly currency_code: string;
  readonly method: string;
  readonly approved: boolean;
  readonly status_name: string;
  readonly decline_reason: string | null;
  readonly memo: string;
  readonly merchant: string | null;
  /** From the JIT message's arrival at the gateway to its decision; null when not a JIT message. */
  readonly decision_ms: number | null;
}

/** Decisions the console queue holds at most: beyond, the oldest are dropped (a stalled console). */
const QUEUE_LENGTH_MAX = 10_000;
const PREFETCH = 50;

export function maskToken(token: string): string {
  return token.length <= 4 ? '••••' : `••••${token.slice(-4)}`;
}

export function liveDecisionOf(event: DecisionEvent): LiveDecision {
  return {
    id: event.outbox_id,
    decided_at_ms: event.decided_at_ms,
    kind: event.kind,
    card_id: event.card_id,
    card_masked: maskToken(event.request.card_token),
    amount_minor: event.request.amount_minor,
    currency_code: event.request.currency_code,
    method: event.request.method,
    approved: event.approved,
    status_name: statusName(event.status_code),
    decline_reason: event.decline_reason,
    memo: event.memo,
    merchant: event.request.merchant.name,
    decision_ms:
      event.request.received_at_ms === undefined
        ? null
        : Math.max(0, event.decided_at_ms - event.request.received_at_ms),
  };
}

type Listener = (decision: LiveDecision) => void;

export class DecisionFeed {
  readonly #rabbit: Connection;
  readonly #log: Logger;
  readonly #listeners = new Set<Listener>();
  #consumer: Consumer | null = null;

  constructor(rabbit: Connection, log: Logger) {
    this.#rabbit = rabbit;
    this.#log = log;
  }

  /** Starts the queue with the first listener and removes it after the last; returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    this.#consumer ??= this.#consume();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) void this.close();
    };
  }

  async close(): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = null;
    await consumer?.close();
  }

  #consume(): Consumer {
    const consumer = this.#rabbit.createConsumer(
      {
        queue: `afc.console.${randomUUID()}`,
        queueOptions: {
          exclusive: true,
          autoDelete: true,
          arguments: { 'x-max-length': QUEUE_LENGTH_MAX, 'x-overflow': 'drop-head' },
        },
        queueBindings: [{ exchange: EXCHANGE_EVENTS, routingKey: 'decision.#' }],
        qos: { prefetchCount: PREFETCH },
        noAck: true,
      },
      (message) => {
        for (const entry of decodeBatch(message.body as Buffer)) {
          let decision: LiveDecision;
          try {
            decision = liveDecisionOf(decisionEventOf(entry));
          } catch (error) {
            this.#log.warn(
              { err: error, outbox_id: entry.outbox_id },
              'console: undecodable decision skipped',
            );
            continue;
          }
          for (const listener of this.#listeners) listener(decision);
        }
      },
    );
    consumer.on('error', (error) => this.#log.warn({ err: error }, 'console decision feed error'));
    return consumer;
  }
}
