// GET /api/health: every dependency's status. GET /api/health/ready: 200 while PostgreSQL
// answers and the process is not shutting down. On the internal listener only (no API key).

import type { FastifyInstance } from 'fastify';
import { runChecks, type Check } from '../../shared/health.ts';

export interface HealthOptions {
  readonly checks: Readonly<Record<string, Check>>;
  readonly readiness: Readonly<Record<string, Check>>;
  readonly isShuttingDown: () => boolean;
}

export async function healthRoutes(app: FastifyInstance, options: HealthOptions): Promise<void> {
  app.get('/api/health', async () => runChecks(options.checks));
  app.get('/api/health/ready', async (_request, reply) => {
    if (options.isShuttingDown()) return reply.status(503).send({ status: 'shutting_down', checks: {} });
    const report = await runChecks(options.readiness);
    return reply.status(report.status === 'ok' ? 200 : 503).send(report);
  });
}
