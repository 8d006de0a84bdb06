// Builds the management API's public Fastify instance from ready dependencies (no I/O here),
// so tests drive it with inject() and main.ts only wires the process. Health, readiness and
// /metrics are on the internal listener (internal-app.ts).

import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TypeBoxValidatorCompiler, registerAjvFormats } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import pkg from '../package.json' with { type: 'json' };
import type { OverloadConfig } from '../shared/config.ts';
import { errorBody } from '../shared/errors.ts';
import { refuseOperatorKeys } from '../shared/http/operator-keys.ts';
import { installOverloadShedding } from '../shared/http/overload.ts';
import { installSecurityHeaders } from '../shared/http/security-headers.ts';
import type { Logger } from '../shared/logger.ts';
import type { PgSql } from '../shared/stores/postgres.ts';
import { type ConsoleOptions, consolePlugin } from './console/console.ts';
import { installAuthentication } from './http/authenticate.ts';
import { installErrorHandler } from './http/error-handler.ts';
import { installRateLimit } from './http/rate-limit.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { balanceRoutes } from './routes/balances.ts';
import { cardRoutes } from './routes/cards.ts';
import { cardholderRoutes } from './routes/cardholders.ts';
import { transactionRoutes } from './routes/transactions.ts';
import { webhookEndpointRoutes } from './routes/webhook-endpoints.ts';
import type { ApiServices } from './services/services.ts';

export interface ApiAppOptions {
  readonly log: Logger;
  readonly sql: PgSql;
  readonly redis: Redis;
  readonly services: ApiServices;
  readonly body_limit_bytes: number;
  readonly overload: OverloadConfig;
  readonly redis_key_prefix: string;
  readonly rate_limit_max: number;
  readonly rate_limit_window_ms: number;
  /** The operator console under /console/ (api/console/); absent, no console is served. */
  readonly console?: Pick<ConsoleOptions, 'rabbit' | 'gateway_internal_url' | 'worker_health_url'>;
}

registerAjvFormats();

export async function buildApiApp(options: ApiAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.log as FastifyBaseLogger,
    bodyLimit: options.body_limit_bytes,
    connectionTimeout: 10_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
    requestIdHeader: 'x-request-id',
    // A URL that cannot be decoded never reaches the router: answered here, in our shape.
    frameworkErrors: (_error, request, reply) => {
      (reply as FastifyReply)
        .status(400)
        .send(errorBody('API_ERR_BAD_REQUEST', request.id, 'The URL is not valid.'));
    },
  });
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  installErrorHandler(app);
  await installOverloadShedding(app, {
    config: options.overload,
    code: 'API_ERR_UNAVAILABLE',
  });
  installSecurityHeaders(app, { json_service_headers: false });
  refuseOperatorKeys(app, 'API_ERR_BAD_REQUEST', 'body');
  // JSON only: the Swagger UI sets its own CSP on its static files (staticCSP below).
  await app.register(helmet, { contentSecurityPolicy: false });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Atlanticfrewaycard management API',
        version: pkg.version,
        description:
          'Companies, cardholders, cards, limits, balances, transactions and webhook endpoints. Bearer API keys; ' +
          'amounts are integer minor units of the currency next to them. Errors: {error: {code, message, fields?}, request_id}.',
      },
      components: { securitySchemes: { api_key: { type: 'http', scheme: 'bearer' } } },
      security: [{ api_key: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  await app.register(async (secured) => {
    installAuthentication(secured, options.sql);
    await installRateLimit(secured, {
      redis: options.redis,
      key_prefix: options.redis_key_prefix,
      max: options.rate_limit_max,
      window_ms: options.rate_limit_window_ms,
    });
    const routes = { services: options.services };
    await secured.register(cardholderRoutes, routes);
    await secured.register(cardRoutes, routes);
    await secured.register(balanceRoutes, routes);
    await secured.register(transactionRoutes, routes);
    await secured.register(apiKeyRoutes, routes);
    await secured.register(webhookEndpointRoutes, routes);
  });
  if (options.console !== undefined) {
    await app.register(consolePlugin, {
      ...options.console,
      log: options.log,
      sql: options.sql,
      redis: options.redis,
      services: options.services,
      redis_key_prefix: options.redis_key_prefix,
      rate_limit_max: options.rate_limit_max,
      rate_limit_window_ms: options.rate_limit_window_ms,
    });
  }
  return app;
}
