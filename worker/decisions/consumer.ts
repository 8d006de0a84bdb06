// Consumer of a decisions queue (`afc.decisions` for business cards, `afc.decisions.personal` for
// personal ones; one consumer per queue, so each drains at its own store's pace): competing
// consumers (any number of worker replicas) with a bounded prefetch and concurrency. Each
// message is a decision batch (shared/decision-batch.ts): its decisions are written together
// (one transaction per message; small messages are combined by the Batcher up to batch_max
// decisions) and the message is acked only after that committed. A decision whose write failed
// alone (decision-ledger.ts bisects a failed batch) goes to the retry path as a single-decision
// batch, an undecodable one straight to the DLQ; a message hit by a store outage goes back to
// the queue whole without spending a retry (its committed decisions are idempotent no-ops).

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
import { CONNECTION_LOST, ConnectionLoss } from '../broker/connection-loss.ts';
import { RetryPath } from '../broker/retry-path.ts';
import type { ConsumerHandle, ConsumerStarter, WorkerDeps } from '../consumer-handle.ts';
import { failureReason, WorkerError } from '../errors.ts';
import { BusinessLedger } from '../ledger/business-ledger.ts';
import { DecisionLedger, OUTAGE_DEFAULTS, type WriteOutcome } from '../ledger/decision-ledger.ts';
import { PersonalLedger } from '../ledger/personal-ledger.ts';
import { type ReadDecision, readDecisionBatch, singleDecision } from './read-batch.ts';

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
  const connection = new ConnectionLoss(rabbit);
  const ledger = new DecisionLedger(
    new BusinessLedger(deps.sql, log),
    new PersonalLedger(deps.mongo.db(), deps.document_lock_sql, (rounds) =>
      metrics.personal_extra_write_rounds.inc(rounds),
    ),
    OUTAGE_DEFAULTS,
    log,
  );
  // Items are messages (their valid decisions); a batch is written as one ledger write.
  const batcher = new Batcher<readonly DecisionEvent[], readonly WriteOutcome[]>(
    async (messages) => {
      const outcomes = await ledger.write(messages.flat());
      let at = 0;
      return messages.map((events) => {
        at += events.length;
        return outcomes.slice(at - events.length, at);
      });
    },
    { batch_max: config.batch_max, linger_ms: config.batch_linger_ms, size: (events) => events.length },
  );

  async function handle(message: AsyncMessage): Promise<ConsumerStatus> {
    let decisions: ReadDecision[];
    try {
      decisions = readDecisionBatch(message.body);
    } catch (error) {
      await retry.fail(message, error, error instanceof WorkerError);
      metrics.dead_letters.inc(labels);
      log.error(
        { message_id: message.messageId, reason: failureReason(error) },
        'undecodable decision message dead-lettered',
      );
      return ConsumerStatus.ACK;
    }
    const valid = decisions.filter((d) => d.event !== null);
    const events = valid.map((d) => d.event!);
    // Not held past a broker drop, or the consumer could not subscribe again until the write ends.
    const outcomes = events.length > 0 ? await connection.whileConnected(batcher.submit(events)) : [];
    if (outcomes === CONNECTION_LOST) return ConsumerStatus.REQUEUE;
    if (outcomes.some((outcome) => !outcome.ok && outcome.requeue)) return ConsumerStatus.REQUEUE;
    const now_ms = Date.now();
    for (const event of events) {
      metrics.consumer_lag.observe(labels, Math.max(0, now_ms - event.decided_at_ms) / 1000);
    }
    const failed: Array<{ read: ReadDecision; error: unknown; permanent: boolean }> = [];
    for (const read of decisions)
      if (read.error !== null) failed.push({ read, error: read.error, permanent: true });
    for (const [i, outcome] of outcomes.entries()) {
      if (!outcome.ok) failed.push({ read: valid[i]!, error: outcome.error, permanent: false });
    }
    // Throws if a republish is not confirmed: the message is then requeued, never lost.
    for (const { read, error, permanent } of failed) {
      const hop = await retry.fail(message, error, permanent, singleDecision(read));
      (hop.dead ? metrics.dead_letters : metrics.retries).inc(labels);
      log.warn(
        {
          message_id: message.messageId,
          outbox_id: read.outbox_id,
          jit_token: read.event?.request.jit_token,
          attempt: hop.attempt,
          to: hop.queue,
          reason: failureReason(error),
        },
        hop.dead ? 'decision dead-lettered' : 'decision sent to retry',
      );
    }
    if (failed.length < decisions.length) metrics.processed.inc(labels);
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
