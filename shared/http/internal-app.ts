// The internal listener of an HTTP process (GATEWAY_INTERNAL_PORT, API_INTERNAL_PORT): health,
// readiness and /metrics for probes and Prometheus, on a port of its own that no ingress routes
// to, so the public listener serves only what its callers call (approval counts, decline
// reasons and dependency states are not for the internet). Each process registers its routes
// and its error handler (its own error codes) on the instance returned here.

import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from '../logger.ts';
import { installSecurityHeaders } from './security-headers.ts';

/** A probe or a scrape never needs longer; a stuck client is cut. */
const REQUEST_TIMEOUT_MS = 10_000;

export function createInternalApp(log: Logger): FastifyInstance {
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
