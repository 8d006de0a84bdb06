// The internal listener of an HTTP process (GATEWAY_INTERNAL_PORT, API_INTERNAL_PORT): health,
// readiness and /metrics for probes and Prometheus, on a port of its own that no ingress routes
// to, so the public listener serves only what its callers call (approval counts, decline
// reasons and dependency states are not for the internet). Each process registers its routes
// and its error handler (its own error codes) on the instance returned here.

import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginOptions,
  LogController,
} from 'fastify';
import type { Logger } from '../logger.ts';
import { metricsRoute, type MetricsRouteOptions } from './metrics-route.ts';
import { installSecurityHeaders } from './security-headers.ts';

/** A probe or a scrape never needs longer; a stuck client is cut. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface InternalAppOptions<HealthOptions extends FastifyPluginOptions> {
  readonly log: Logger;
  /** The process's own error handler (its error codes). */
  readonly installErrorHandler: (app: FastifyInstance) => void;
  readonly healthRoutes: (app: FastifyInstance, options: HealthOptions) => Promise<void>;
  readonly health: HealthOptions;
  readonly metrics: Omit<MetricsRouteOptions, 'log'>;
}

/** The internal listener's app: the process's health routes and /metrics, nothing else. */
export async function buildInternalApp<HealthOptions extends FastifyPluginOptions>(
  options: InternalAppOptions<HealthOptions>,
): Promise<FastifyInstance> {
  const app = createInternalApp(options.log);
  options.installErrorHandler(app);
  await app.register(options.healthRoutes, options.health);
  await app.register(metricsRoute, { ...options.metrics, log: options.log });
  return app;
}

function createInternalApp(log: Logger): FastifyInstance {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Probes and scrapes every few seconds would drown the logs.
    logController: new LogController({ disableRequestLogging: true }),
    connectionTimeout: REQUEST_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: 65_000,
    // No request body is ever read here.
    bodyLimit: 1024,
  });
  installSecurityHeaders(app, { json_service_headers: true });
  return app;
}
