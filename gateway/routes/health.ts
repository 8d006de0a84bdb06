// GET /api/health: every dependency's status (2 s timeout each).
// GET /api/health/ready: 200 only while this gateway can decide (Redis answers) and is not
// shutting down; load balancers stop sending traffic otherwise. The body also reports the
// dependencies a gateway can decide without (PostgreSQL and MongoDB fill cold caches, RabbitMQ drains
// the outbox) from a background monitor, so an outage of one shows within 2 s as `degraded`
// without taking healthy gateways out of rotation. `undecided` says what a request this gateway
// cannot decide is answered (UNDECIDED_ANSWER) and how many went each way since start.
// `warnings` names what an operator must fix although the gateway can decide (a Redis
// maxmemory policy that is not the documented one, gateway/decide/redis-memory.ts): loud in
// the body and the logs, never a 503, so a development Redis without a limit still serves.
// GET /api/health/live: 200 while the process answers at all (liveness probe): no dependency
// is checked, so an outage elsewhere never gets healthy gateways restarted.

import type { FastifyInstance } from 'fastify';
import { type Check, type CheckResult, runChecks } from '../../shared/health.ts';
import type { UndecidedReport } from '../http/undecided-answer.ts';

export interface HealthRouteOptions {
  readonly checks: Readonly<Record<string, Check>>;
  /** The checks without which no decision can be made. */
  readonly readiness: Readonly<Record<string, Check>>;
  /** The latest results of the dependencies this gateway can decide without. */
  readonly reported: () => Readonly<Record<string, CheckResult>>;
  readonly isShuttingDown: () => boolean;
  /** What an operator must fix although this gateway can decide; never gates readiness. */
  readonly warnings: () => readonly string[];
  /** UNDECIDED_ANSWER in force and how many undecided requests went each way. */
  readonly undecided: () => Promise<UndecidedReport>;
}

export async function healthRoutes(app: FastifyInstance, options: HealthRouteOptions): Promise<void> {
  app.get('/api/health', async (_request, reply) => {
    const report = await runChecks(options.checks);
    return reply.status(200).send(report);
  });
  app.get('/api/health/live', async () => ({ status: 'alive' }));
  app.get('/api/health/ready', async (_request, reply) => {
    if (options.isShuttingDown()) return reply.status(503).send({ status: 'shutting_down', checks: {} });
    const [required, undecided] = await Promise.all([runChecks(options.readiness), options.undecided()]);
    const checks = { ...required.checks, ...options.reported() };
    const all_up = Object.values(checks).every((c) => c.status === 'up');
    const warnings = options.warnings();
    return reply.status(required.status === 'ok' ? 200 : 503).send({
      status: all_up ? 'ok' : 'degraded',
      checks,
      undecided,
      ...(warnings.length > 0 ? { warnings } : {}),
    });
  });
}
