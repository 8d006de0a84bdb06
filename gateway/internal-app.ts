// The gateway's internal listener (GATEWAY_INTERNAL_PORT): health, liveness, readiness and
// /metrics for probes and Prometheus. The public listener (app.ts) serves only what Marqeta
// calls; these answer 404 there (test/integration/internal-listeners.test.ts).

import type { FastifyInstance } from 'fastify';
import { createInternalApp } from '../shared/http/internal-app.ts';
import { metricsRoute, type MetricsRouteOptions } from '../shared/http/metrics-route.ts';
import type { Logger } from '../shared/logger.ts';
import { installErrorHandler } from './http/error-handler.ts';
import { type HealthRouteOptions, healthRoutes } from './routes/health.ts';

export interface GatewayInternalAppOptions {
  readonly log: Logger;
  readonly health: HealthRouteOptions;
  readonly metrics: Omit<MetricsRouteOptions, 'log'>;
}

export async function buildGatewayInternalApp(options: GatewayInternalAppOptions): Promise<FastifyInstance> {
  const app = createInternalApp(options.log);
  installErrorHandler(app);
  await app.register(healthRoutes, options.health);
  await app.register(metricsRoute, { ...options.metrics, log: options.log });
  return app;
}
