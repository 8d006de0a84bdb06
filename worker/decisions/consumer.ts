// Consumer of a decisions queue (`afc.decisions` for business cards, `afc.decisions.personal` for
// personal ones; one consumer per queue, so each drains at its own store's pace): competing
// consumers (any number of worker replicas) with a bounded prefetch and concurrency. Each message is parsed, written in a micro-batch with
// others (decision-ledger.ts) and acked only after its batch committed; a failed write goes
// to the retry path (acked after the confirmed republish), an undecodable message straight
// to the DLQ, and a message hit by a store outage back to the queue without spending a retry.

import { type AsyncMessage, ConsumerStatus } from 'rabbitmq-client';
import {
  exchanges,
  QUEUE_DECISIONS,
  queueBindings,
  RETRY_DELAYS_MS,
  unbindObsolete,
  workQueueDeclarations,
} from '../../shared/broker/topology.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { Batcher } from '../batcher.ts';
import { RetryPath } from '../broker/retry-path.ts';
import type { ConsumerHandle, ConsumerStarter, WorkerDeps } from '../consumer.ts';
import { failureReason, WorkerError } from '../errors.ts';
import { BusinessLedger } from '../ledger/business-ledger.ts';
import { DecisionLedger, OUTAGE_DEFAULTS, type WriteOutcome } from '../ledger/decision-ledger.ts';
import { PersonalLedger } from '../ledger/personal-ledger.ts';
import { parseDecisionEvent } from './event-schema.ts';

const DECISION_RETRY_DELAYS_MS = RETRY_DELAYS_MS[QUEUE_DECISIONS]!;

/** Business decisions, or decisions of either kind when the queue is renamed (tests, replays). */
export const startDecisionConsumer: ConsumerStarter = (deps) =>
  startConsumerOf(deps, 'decisions', deps.config.decisions_queue);

export const startPersonalDecisionConsumer: ConsumerStarter = (deps) =>
  startConsumerOf(deps, 'personal-decisions', deps.config.personal_decisions_queue);

function startConsumerOf(deps: WorkerDeps, name: string, queue: string): ConsumerHandle {
  const { config, log, rabbit, metrics } = deps;
  const labels = { queue };
  const retry = new RetryPath(rabbit, queue, DECISION_RETRY_DELAYS_MS);
  const ledger = new DecisionLedger(
    new BusinessLedger(deps.sql, log),
    new PersonalLedger(deps.mongo.db(), deps.document_lock_sql),
    OUTAGE_DEFAULTS,
    log,
  );
  const batcher = new Batcher<DecisionEvent, WriteOutcome>((events) => ledger.write(events), {
    batch_max: config.batch_max,
    linger_ms: config.batch_linger_ms,
  });

  async function handle(message: AsyncMessage): Promise<ConsumerStatus> {
    let event: DecisionEvent;
    try {
      event = parseDecisionEvent(message.body);
    } catch (error) {
      await retry.fail(message, error, error instanceof WorkerError);
      metrics.dead_letters.inc(labels);
      log.error(
        { message_id: message.messageId, reason: failureReason(error) },
        'undecodable decision dead-lettered',
      );
      return ConsumerStatus.ACK;
    }
    const outcome = await batcher.submit(event);
    if (outcome.ok) {
      metrics.processed.inc(labels);
      metrics.consumer_lag.observe(labels, Math.max(0, Date.now() - event.decided_at_ms) / 1000);
      return ConsumerStatus.ACK;
    }
    if (outcome.requeue) return ConsumerStatus.REQUEUE;
    // Throws if the republish is not confirmed: the message is then requeued, never lost.
    const hop = await retry.fail(message, outcome.error);
    (hop.dead ? metrics.dead_letters : metrics.retries).inc(labels);
    log.warn(
      {
        message_id: message.messageId,
        jit_token: event.request.jit_token,
        attempt: hop.attempt,
        to: hop.queue,
        reason: failureReason(outcome.error),
      },
      hop.dead ? 'decision dead-lettered' : 'decision sent to retry',
    );
    return ConsumerStatus.ACK;
  }

  // The work queue is declared exactly as topology.ts says (on every reconnect); a queue of
  // another name (tests, replays) gets the same arguments and no binding to afc.events.
  const [declaration] = workQueueDeclarations(queue, DECISION_RETRY_DELAYS_MS);
  const bindings = queueBindings.filter((b) => b.queue === queue);
  let consuming = false;
  const consumer = rabbit.createConsumer(
    {
      queue,
      queueOptions: { ...declaration!, arguments: { ...declaration!.arguments } },
      exchanges: bindings.length > 0 ? exchanges.map((e) => ({ ...e })) : [],
      queueBindings: bindings.map((b) => ({ ...b })),
      qos: { prefetchCount: config.prefetch },
      concurrency: config.concurrency,
      requeue: true,
    },
    handle,
  );
  consumer.on('ready', () => {
    consuming = true;
    log.info({ queue, prefetch: config.prefetch, concurrency: config.concurrency }, 'consuming decisions');
    if (queue === QUEUE_DECISIONS) {
      unbindObsolete(rabbit).catch((error: unknown) =>
        log.warn({ err: error }, 'could not remove an obsolete binding'),
      );
    }
  });
  consumer.on('error', (error) => log.error({ err: error, queue }, 'decision consumer error'));

  return {
    name,
    isReady: () => consuming && rabbit.ready,
    async close() {
      consuming = false;
      // Outage waits end now (their messages are requeued); ordinary writes finish.
      ledger.stop();
      await consumer.close();
      await batcher.drain();
      await retry.close();
    },
  };
}
