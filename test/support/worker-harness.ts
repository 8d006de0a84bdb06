// An in-process worker on the real services, synthetic decision events, and helpers to
// publish them and wait for their rows. Tests that need isolation consume a queue of their
// own (WORKER_DECISIONS_QUEUE: its one consumer takes both card kinds) and delete it afterwards;
// without one, the worker consumes the real afc.decisions and afc.decisions.personal.
import { randomUUID } from 'node:crypto';
import type { Connection } from 'rabbitmq-client';
import {
  deadLetterQueueName,
  QUEUE_DECISIONS,
  RETRY_DELAYS_MS,
  retryQueueName,
  workQueueDeclarations,
} from '../../shared/broker/topology.ts';
import { loadWorkerConfig, type WorkerConfig } from '../../shared/config.ts';
import { CONTENT_TYPE_DECISION_BATCH, encodeBatch } from '../../shared/decision-batch.ts';
import { DecisionStatus, statusInfo } from '../../shared/decision-status.ts';
import { effectsToJson, type LedgerEffects, NO_EFFECTS } from '../../shared/ledger-effects.ts';
import { createLogger } from '../../shared/logger.ts';
import type { CardKind, DecisionEvent } from '../../shared/messages.ts';
import { windowIds } from '../../shared/spend-windows.ts';
import { startDecisionConsumer, startPersonalDecisionConsumer } from '../../worker/decisions/consumer.ts';
import { createWorker, type Worker } from '../../worker/worker.ts';
import { type CreatedCard, uniqueToken } from './cardholders.ts';
import { outboxLine } from './decision-batches.ts';

export function uniqueQueue(): string {
  return `afc.decisions.t${randomUUID().slice(0, 8)}`;
}

export function testWorkerConfig(overrides: Record<string, string> = {}): WorkerConfig {
  return loadWorkerConfig({ ...process.env, WORKER_HEALTH_PORT: '0', ...overrides });
}

export async function startTestWorker(
  overrides: Record<string, string> = {},
): Promise<Worker & { config: WorkerConfig }> {
  const config = testWorkerConfig(overrides);
  const worker = await createWorker(config, createLogger('worker-test', process.env.LOG_LEVEL ?? 'silent'), {
    consumers:
      overrides.WORKER_DECISIONS_QUEUE === undefined
        ? [startDecisionConsumer, startPersonalDecisionConsumer]
        : [startDecisionConsumer],
  });
  await waitUntil(async () => worker.consumers.every((consumer) => consumer.isReady()), 20);
  // The retry path declares the retry queues and the DLQ on its own connection, maybe later: declared
  // here too (same arguments), so a test may publish and list dead letters at once.
  for (const declaration of workQueueDeclarations(
    config.decisions_queue,
    RETRY_DELAYS_MS[QUEUE_DECISIONS]!,
  )) {
    await worker.rabbit.queueDeclare({ ...declaration, arguments: { ...declaration.arguments } });
  }
  return Object.assign(worker, { config });
}

/** Declares a test's work queue before any worker runs (the default exchange drops messages for a missing queue). */
export async function declareWorkQueue(rabbit: Connection, queue: string): Promise<void> {
  const [declaration] = workQueueDeclarations(queue, RETRY_DELAYS_MS[QUEUE_DECISIONS]!);
  await rabbit.queueDeclare({ ...declaration!, arguments: { ...declaration!.arguments } });
}

/** Deletes a test's work queue with its retry queues and DLQ. */
export async function deleteWorkQueue(rabbit: Connection, queue: string): Promise<void> {
  const delays = RETRY_DELAYS_MS[QUEUE_DECISIONS]!;
  const names = [queue, deadLetterQueueName(queue), ...delays.map((_, i) => retryQueueName(queue, i + 1))];
  for (const name of names) await rabbit.queueDelete({ queue: name });
}

export interface EventOptions {
  readonly card: CreatedCard | null;
  readonly kind: CardKind;
  readonly amount_minor: bigint;
  readonly approved?: boolean;
  readonly status_code?: number;
  readonly jit_token?: string;
  readonly revision?: number;
  readonly at_ms?: number;
}

/** What the decision script applies for an authorization of `amount_minor` (sign -1: its void). */
function authorizationEffects(
  ids: ReturnType<typeof windowIds>,
  amount_minor: bigint,
  sign: 1n | -1n,
): LedgerEffects {
  const delta_minor = amount_minor * sign;
  const windows = [
    ['day', ids.day_id],
    ['week', ids.week_id],
    ['month', ids.month_id],
    ['year', ids.year_id],
    ['all', 'all'],
  ] as const;
  return {
    held_delta_minor: delta_minor,
    posted_delta_minor: 0n,
    hold_delta_minor: delta_minor,
    hold_state: null,
    spend: windows.map(([period, window_id]) => ({
      period,
      window_id,
      delta_minor,
      delta_count: Number(sign),
    })),
    group_spend: [],
  };
}

/** A decision event as the gateway's relay would publish it (an authorization, or its revision-2 void). */
export function decisionEvent(options: EventOptions): DecisionEvent {
  const approved = options.approved ?? true;
  const status_code =
    options.revision === 2
      ? DecisionStatus.TIMEOUT
      : (options.status_code ?? (approved ? 0 : DecisionStatus.INSUFFICIENT_BALANCE));
  const info = statusInfo(status_code);
  const at_ms = options.at_ms ?? Date.now();
  const ids = windowIds(at_ms, 'UTC');
  const { day_id, week_id, month_id, year_id } = ids;
  const card_token = options.card?.card_token ?? uniqueToken('nocard');
  const jit_token = options.jit_token ?? uniqueToken('jit');
  const user_token = options.card?.user_token ?? uniqueToken('nouser');
  return {
    v: 1,
    request: {
      jit_token,
      method: 'pgfs.authorization',
      transaction_token: uniqueToken('txn'),
      card_token,
      user_token,
      acting_user_token: user_token,
      amount_minor: options.amount_minor.toString(),
      currency_code: 'USD',
      network: 'VISA',
      merchant: { mid: '000000000011111', mcc: '5411', name: 'Test Grocer', country_code: 'USA' },
      day_id,
      week_id,
      month_id,
      year_id,
      original_jit_token: null,
      mode: 'auth',
      mcc_group: '',
      received_at_ms: at_ms - 4,
    },
    kind: options.kind,
    card_id: options.card?.card_id ?? null,
    user_id: options.card?.user_id ?? null,
    status_code,
    approved: options.revision === 2 ? false : approved,
    memo: info.memo,
    decline_reason: info.decline_reason ?? null,
    approved_amount_minor: approved && options.revision !== 2 ? options.amount_minor.toString() : '0',
    released_amount_minor: options.revision === 2 ? options.amount_minor.toString() : '0',
    available_minor: '0',
    group_token: jit_token,
    effects: effectsToJson(
      options.revision === 2
        ? authorizationEffects(ids, options.amount_minor, -1n)
        : approved
          ? authorizationEffects(ids, options.amount_minor, 1n)
          : NO_EFFECTS,
    ),
    revision: options.revision ?? 1,
    decided_at_ms: at_ms,
    state_order_ms: at_ms,
    limits_seen: null,
    outbox_id: `${at_ms}-0`,
  };
}

/**
 * Publishes each event as a single-decision batch (message id `<jit token>:<revision>`), and
 * anything else as a JSON message (undecodable for the worker), straight to a queue, confirmed,
 * in bounded chunks.
 */
export async function publishEvents(
  rabbit: Connection,
  queue: string,
  events: readonly unknown[],
  chunk = 500,
): Promise<void> {
  const publisher = rabbit.createPublisher({ confirm: true, maxAttempts: 3 });
  try {
    for (let at = 0; at < events.length; at += chunk) {
      await Promise.all(
        events.slice(at, at + chunk).map((item) => {
          const event = item as Partial<DecisionEvent>;
          if (event.request === undefined) {
            return publisher.send(
              { exchange: '', routingKey: queue, durable: true, messageId: randomUUID() },
              item,
            );
          }
          return publisher.send(
            {
              exchange: '',
              routingKey: queue,
              durable: true,
              contentType: CONTENT_TYPE_DECISION_BATCH,
              messageId: `${event.request.jit_token}:${event.revision}`,
            },
            encodeBatch([outboxLine(item as DecisionEvent)]),
          );
        }),
      );
    }
  } finally {
    await publisher.close();
  }
}

/** Polls until `check` returns true (a test timeout bounds it). */
export async function waitUntil(check: () => Promise<boolean>, poll_ms = 100): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, poll_ms));
}

/** Messages the worker committed and acked on `queue` (afc_messages_processed_total). */
export async function processedCount(worker: Worker, queue: string): Promise<number> {
  const metric = worker.registry.getSingleMetric('afc_messages_processed_total');
  const values = (await metric?.get())?.values ?? [];
  return values.filter((v) => v.labels.queue === queue).reduce((sum, v) => sum + v.value, 0);
}
