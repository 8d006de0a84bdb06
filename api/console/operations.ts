// The console's operations page: dependency health as the gateway and the worker report it
// (their internal listeners), the gateway's decision-time histogram, the reconciliation
// differences that stand (the worker's /reconcile), queue depths and dead letters with
// show/replay through the same module as `npm run dlq`. Program-wide keys only:
// queues and dead letters carry every tenant's decisions.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Connection } from 'rabbitmq-client';
import Type from 'typebox';
import { listDeadLetters, replayDeadLetters, showDeadLetter } from '../../shared/broker/dead-letters.ts';
import { deadLetterQueueName, WORK_QUEUES } from '../../shared/broker/topology.ts';
import { ApiError } from '../../shared/errors.ts';
import { requireProgramKey } from '../http/authenticate.ts';
import { maskToken } from './live-decisions.ts';

export interface OperationsOptions {
  readonly rabbit: Connection;
  readonly gateway_internal_url: string;
  readonly worker_health_url: string;
}

/** A dependency that does not answer within this is shown as unreachable. */
const PROBE_TIMEOUT_MS = 2_000;
/** The worker compares every card, then the differing ones again 3 s later. */
const RECONCILE_TIMEOUT_MS = 60_000;
/** Dead letters listed on the page (the CLI lists more with --limit). */
const DEAD_LETTERS_LISTED_MAX = 100;
const DECISION_BUCKET = /^afc_decision_duration_seconds_bucket\{(?:[^}]*,)?le="([^"]+)"[^}]*\} (\S+)$/;

const QueueParams = Type.Object({ queue: Type.Union(WORK_QUEUES.map((q) => Type.Literal(q))) });
const LetterParams = Type.Object({
  queue: Type.Union(WORK_QUEUES.map((q) => Type.Literal(q))),
  position: Type.Integer({ minimum: 1, maximum: DEAD_LETTERS_LISTED_MAX }),
});

async function probe(
  url: string,
  timeout_ms = PROBE_TIMEOUT_MS,
): Promise<{ reachable: boolean; status: number | null; body: unknown }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeout_ms) });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: shown as text.
    }
    return { reachable: true, status: response.status, body };
  } catch (error) {
    return { reachable: false, status: null, body: (error as Error).message };
  }
}

/** Cumulative bucket counts [upper bound s, count] of the gateway's decision-time histogram. */
export function decisionBuckets(metrics_text: string): Array<[number, number]> {
  const totals = new Map<number, number>();
  for (const line of metrics_text.split('\n')) {
    const match = DECISION_BUCKET.exec(line);
    if (match === null) continue;
    const le = match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]);
    totals.set(le, (totals.get(le) ?? 0) + Number(match[2]));
  }
  return [...totals].sort((a, b) => a[0] - b[0]);
}

export async function operationsRoutes(app: FastifyInstance, options: OperationsOptions): Promise<void> {
  // The decision-time histogram is program-wide but names no tenant: every key sees it.
  app.get('/console/ops/decision-times', async () => {
    const metrics = await probe(`${options.gateway_internal_url}/metrics`);
    if (!metrics.reachable || typeof metrics.body !== 'string') return { reachable: false, buckets: [] };
    // +Inf as a string: JSON has no infinity.
    return {
      reachable: true,
      buckets: decisionBuckets(metrics.body).map(([le, count]) => [Number.isFinite(le) ? le : '+Inf', count]),
    };
  });
  await app.register(async (program) => {
    program.addHook('onRequest', async (request) => requireProgramKey(request.principal));
    await programRoutes(program, options);
  });
}

async function programRoutes(app: FastifyInstance, options: OperationsOptions): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { rabbit } = options;

  api.get('/console/ops/health', async () => {
    const [gateway, worker] = await Promise.all([
      probe(`${options.gateway_internal_url}/api/health`),
      probe(`${options.worker_health_url}/health`),
    ]);
    return { gateway, worker };
  });

  // What the worker's reconciliation found standing (worker/reconcile/standing-differences.ts),
  // card tokens masked as everywhere in the console.
  api.get('/console/ops/reconcile', async () => {
    const answer = await probe(`${options.worker_health_url}/reconcile`, RECONCILE_TIMEOUT_MS);
    const report = answer.body as { differences?: Array<{ card_token: string }> } | null;
    if (answer.status !== 200 || !Array.isArray(report?.differences)) return { ...answer, body: null };
    const differences = report.differences.map(({ card_token, ...rest }) => ({
      card_masked: maskToken(card_token),
      ...rest,
    }));
    return { ...answer, body: { ...report, differences } };
  });

  api.get('/console/ops/queues', async () => {
    const rows = [];
    for (const queue of WORK_QUEUES) {
      const work = await rabbit.queueDeclare({ queue, passive: true });
      const dead = await rabbit.queueDeclare({ queue: deadLetterQueueName(queue), passive: true });
      rows.push({
        queue,
        messages: work.messageCount,
        consumers: work.consumerCount,
        dead_letters: dead.messageCount,
      });
    }
    return { data: rows };
  });

  api.get('/console/ops/dead-letters/:queue', { schema: { params: QueueParams } }, async (request) => {
    const letters = await listDeadLetters(rabbit, request.params.queue, DEAD_LETTERS_LISTED_MAX);
    return { data: letters.map(({ body: _body, headers: _headers, ...summary }) => summary) };
  });

  api.get(
    '/console/ops/dead-letters/:queue/:position',
    { schema: { params: LetterParams } },
    async (request) => {
      const letter = await showDeadLetter(rabbit, request.params.queue, request.params.position);
      if (letter === null) throw new ApiError('API_ERR_NOT_FOUND', 'No dead letter at that position.');
      return JSON.parse(
        JSON.stringify(letter, (_key, value) => (typeof value === 'bigint' ? value.toString() : value)),
      ) as unknown;
    },
  );

  api.post(
    '/console/ops/dead-letters/:queue/:position/replay',
    { schema: { params: LetterParams } },
    async (request) => {
      const replayed = await replayDeadLetters(rabbit, request.params.queue, request.params.position);
      if (replayed === 0) throw new ApiError('API_ERR_NOT_FOUND', 'No dead letter at that position.');
      return { replayed };
    },
  );
}
