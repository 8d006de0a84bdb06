// Builds the gateway's public Fastify instance from ready dependencies (no I/O here), so tests
// can drive it with inject() and main.ts only wires processes and signals. It serves only what
// Marqeta calls; health, readiness and /metrics are on the internal listener (internal-app.ts).

import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import type { OverloadConfig } from '../shared/config.ts';
import { errorBody } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { refuseOperatorKeys } from '../shared/http/operator-keys.ts';
import { installOverloadShedding } from '../shared/http/overload.ts';
import { installSecurityHeaders } from '../shared/http/security-headers.ts';
import type { Decider } from './decide/decider.ts';
import { installErrorHandler } from './http/error-handler.ts';
import { AUTHORIZE_ROUTE, authorizeRoute } from './routes/authorize.ts';
import { marqetaWebhookRoute, type MarqetaWebhookOptions } from './routes/marqeta-webhooks.ts';

export interface GatewayAppOptions {
  readonly log: Logger;
  readonly decider: Decider;
  readonly basic_auth_user: string;
  readonly basic_auth_password: string;
  readonly basic_auth_password_next: string | null;
  readonly program_time_zone: string;
  readonly partial_approval_enabled: boolean;
  readonly body_limit_bytes: number;
  readonly overload: OverloadConfig;
  readonly marqeta_webhooks: Omit<MarqetaWebhookOptions, 'decider' | 'program_time_zone'>;
}

export async function buildGatewayApp(options: GatewayAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.log as FastifyBaseLogger,
    // Decisions are logged once by the route; per-request access logs would double the I/O.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger on the JIT route: with wildcard redaction paths, pino runs the
    // redactor over every binding of a child (6 KB of garbage and ~2% of the gateway's CPU per
    // decision). Its lines carry the JIT token, and unexpected errors the request id
    // (shared/http/error-context.ts).
    childLoggerFactory: (logger, bindings, child_options, raw) =>
      raw.url === AUTHORIZE_ROUTE ? logger : logger.child(bindings, child_options),
    bodyLimit: options.body_limit_bytes,
    // Marqeta waits 3 s at most; nothing we answer may take longer than that.
    connectionTimeout: 10_000,
    requestTimeout: 3_000,
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
    requestIdHeader: 'x-request-id',
    // A URL that cannot be decoded never reaches the router: answered here, in our shape.
    frameworkErrors: (_error, request, reply) => {
      (reply as FastifyReply)
        .status(400)
        .send(errorBody('GW_ERR_BAD_REQUEST', request.id, 'The URL is not valid.'));
    },
    ajv: { customOptions: { allErrors: true, coerceTypes: false } },
  });
  installErrorHandler(app);
  // Before the routes, so their hooks include these.
  await installOverloadShedding(app, {
    config: options.overload,
    code: 'GW_ERR_UNAVAILABLE',
    // The same 503 in both UNDECIDED_ANSWER modes; a shed JIT request is counted as undecided.
    on_shed: (request) => {
      if (request.routeOptions.url === AUTHORIZE_ROUTE) options.decider.undecided.shed();
    },
  });
  installSecurityHeaders(app, { json_service_headers: true });
  refuseOperatorKeys(app, 'GW_ERR_BAD_REQUEST');
  await app.register(authorizeRoute, {
    decider: options.decider,
    basic_auth_user: options.basic_auth_user,
    basic_auth_password: options.basic_auth_password,
    basic_auth_password_next: options.basic_auth_password_next,
    program_time_zone: options.program_time_zone,
    partial_approval_enabled: options.partial_approval_enabled,
  });
  await app.register(marqetaWebhookRoute, {
    ...options.marqeta_webhooks,
    decider: options.decider,
    program_time_zone: options.program_time_zone,
  });
  return app;
}
