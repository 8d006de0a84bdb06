// The operator console, served by the management API process under /console/:
//   /console/                  the page (Preact + htm, uPlot; served from node_modules, no build step)
//   /console/session           sign in with an API key (POST), who am I (GET), sign out (DELETE)
//   /console/api/...           the management API's own routes (cards, balances, transactions,
//                              cardholders), authenticated by the session instead of a bearer key
//   /console/search/cards      card search by token, cardholder or company (card-search.ts)
//   /console/live/decisions    server-sent events: decisions as they happen (live-decisions.ts)
//   /console/ops/...           health, decision times, queues, dead letters (operations.ts)
// The session cookie is HttpOnly, SameSite=Strict and Secure over TLS; every write also needs the
// session's CSRF token in the x-csrf-token header. Authorization is the API's own: the same
// scope hook (installAuthentication) and the same services decide what the key sees.

import { timingSafeEqual } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { Connection } from 'rabbitmq-client';
import Type from 'typebox';
import { ApiError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { parseKey, type Principal } from '../auth/api-keys.ts';
import { installAuthentication, isProgramKey, principalOf } from '../http/authenticate.ts';
import { installRateLimit } from '../http/rate-limit.ts';
import { findApiKeyByPrefix } from '../repos/api-keys.ts';
import { balanceRoutes } from '../routes/balances.ts';
import { cardRoutes } from '../routes/cards.ts';
import { cardholderRoutes } from '../routes/cardholders.ts';
import { transactionRoutes } from '../routes/transactions.ts';
import type { ApiServices } from '../services/services.ts';
import { cardSearchRoutes } from './card-search.ts';
import { DecisionFeed, type LiveDecision } from './live-decisions.ts';
import { operationsRoutes } from './operations.ts';
import { type ConsoleSession, SESSION_TTL_S, SessionStore } from './sessions.ts';

export interface ConsoleOptions {
  readonly log: Logger;
  readonly sql: PgSql;
  readonly redis: Redis;
  readonly rabbit: Connection;
  readonly services: ApiServices;
  readonly redis_key_prefix: string;
  readonly rate_limit_max: number;
  readonly rate_limit_window_ms: number;
  readonly gateway_internal_url: string;
  readonly worker_health_url: string;
}

const COOKIE = 'afc_console_session';
const CSRF_HEADER = 'x-csrf-token';
/** SSE comment sent this often so proxies and idle timers keep the stream open. */
const HEARTBEAT_MS = 15_000;
/** Cards whose visibility one stream remembers (a larger program re-asks the card service). */
const VISIBILITY_CACHE_MAX = 10_000;
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'";

const SignInBody = Type.Object(
  { api_key: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

declare module 'fastify' {
  interface FastifyRequest {
    console_session: ConsoleSession | null;
  }
}

const PUBLIC_ROOT = join(import.meta.dirname, 'public');
/** The front-end libraries come from node_modules (installed by npm ci), as their ESM builds. */
const PREACT_ROOT = dirname(fileURLToPath(import.meta.resolve('htm/preact/standalone')));
const UPLOT_ROOT = dirname(fileURLToPath(import.meta.resolve('uplot')));

function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  value: string,
  max_age_s: number,
): void {
  reply.setCookie(COOKIE, value, {
    path: '/console',
    httpOnly: true,
    sameSite: 'strict',
    secure: request.protocol === 'https',
    maxAge: max_age_s,
  });
}

export async function consolePlugin(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const sessions = new SessionStore(options.redis, options.redis_key_prefix);
  const feed = new DecisionFeed(options.rabbit, options.log);
  const streams = new Set<FastifyReply>();

  // The API's routes re-registered under /console stay out of the OpenAPI document.
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true };
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    return payload;
  });
  // Open streams would hold the listener open: they end before it closes.
  app.addHook('preClose', async () => {
    for (const reply of streams) reply.raw.end();
    await feed.close();
  });
  await app.register(cookie);
  await app.register(fastifyStatic, { root: PUBLIC_ROOT, prefix: '/console/', index: 'index.html' });
  await app.register(fastifyStatic, {
    root: PREACT_ROOT,
    prefix: '/console/vendor/htm/',
    decorateReply: false,
  });
  await app.register(fastifyStatic, {
    root: UPLOT_ROOT,
    prefix: '/console/vendor/uplot/',
    decorateReply: false,
  });
  app.get('/console', (_request, reply) => reply.redirect('/console/'));

  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.post('/console/session', { schema: { body: SignInBody } }, async (request, reply) => {
    const parsed = parseKey(request.body.api_key);
    const principal = await principalOf(options.sql, `Bearer ${request.body.api_key}`);
    const { id, session } = await sessions.create(principal.key_id, parsed!.prefix);
    setSessionCookie(request, reply, id, SESSION_TTL_S);
    return reply.status(201).send(whoAmI(principal, session));
  });

  /** The session's key, re-read on every request: a revoked key ends its sessions at once. */
  async function sessionPrincipal(request: FastifyRequest): Promise<Principal> {
    const session = await sessions.read(request.cookies[COOKIE]);
    const row = session === null ? null : await findApiKeyByPrefix(options.sql, session.key_prefix);
    if (session === null || row === null || row.id !== session.key_id || row.revoked_at !== null) {
      throw new ApiError('API_ERR_UNAUTHORIZED', 'Sign in again.');
    }
    const safe = request.method === 'GET' || request.method === 'HEAD';
    if (!safe && !sameToken(String(request.headers[CSRF_HEADER] ?? ''), session.csrf_token)) {
      throw new ApiError('API_ERR_FORBIDDEN', 'The request lacks the session CSRF token.');
    }
    request.console_session = session;
    return { key_id: row.id, company_id: row.company_id, scopes: row.scopes };
  }

  await app.register(async (secured) => {
    secured.decorateRequest('console_session', null);
    installAuthentication(secured, options.sql, sessionPrincipal);
    await installRateLimit(secured, {
      redis: options.redis,
      key_prefix: options.redis_key_prefix,
      max: options.rate_limit_max,
      window_ms: options.rate_limit_window_ms,
    });
    secured.get('/console/session', async (request) => whoAmI(request.principal, request.console_session!));
    // Signing out is a write: it needs the CSRF token too (hook above), and only then deletes.
    secured.delete('/console/session', async (request, reply) => {
      await sessions.delete(request.cookies[COOKIE]);
      setSessionCookie(request, reply, '', 0);
      return reply.status(204).send();
    });
    const routes = { services: options.services, prefix: '/console' };
    await secured.register(cardholderRoutes, routes);
    await secured.register(cardRoutes, routes);
    await secured.register(balanceRoutes, routes);
    await secured.register(transactionRoutes, routes);
    await secured.register(cardSearchRoutes, { sql: options.sql, services: options.services });
    await secured.register(operationsRoutes, {
      rabbit: options.rabbit,
      gateway_internal_url: options.gateway_internal_url,
      worker_health_url: options.worker_health_url,
    });
    secured.get('/console/live/decisions', (request, reply) => {
      const visible = visibility(request.principal, options.services);
      reply.hijack();
      request.raw.socket.setTimeout(0);
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      reply.raw.write(': connected\n\n');
      // One chain per stream keeps the decisions in their order while visibility is looked up.
      let chain = Promise.resolve();
      const unsubscribe = feed.subscribe((decision) => {
        chain = chain
          .then(async () => {
            if (await visible(decision)) reply.raw.write(`data: ${JSON.stringify(decision)}\n\n`);
          })
          .catch((error: unknown) => options.log.warn({ err: error }, 'console stream write failed'));
      });
      const heartbeat = setInterval(() => reply.raw.write(': heartbeat\n\n'), HEARTBEAT_MS);
      streams.add(reply);
      request.raw.on('close', () => {
        clearInterval(heartbeat);
        streams.delete(reply);
        unsubscribe();
      });
    });
  });
}

function whoAmI(principal: Principal, session: ConsoleSession) {
  return {
    company_id: principal.company_id,
    scopes: principal.scopes,
    program_wide: principal.company_id === null,
    csrf_token: session.csrf_token,
  };
}

/**
 * Whether a decision's card is one the key sees, as the card service answers it (a card of another
 * tenant answers 404 there); program-wide keys see every decision, including unknown cards.
 */
function visibility(
  principal: Principal,
  services: ApiServices,
): (decision: LiveDecision) => Promise<boolean> {
  const known = new Map<string, boolean>();
  return async (decision) => {
    if (isProgramKey(principal)) return true;
    if (decision.card_id === null || decision.kind !== 'business') return false;
    const cached = known.get(decision.card_id);
    if (cached !== undefined) return cached;
    const card = await services.cards.get(principal, decision.card_id).catch((error: unknown) => {
      if (error instanceof ApiError && error.code === 'API_ERR_NOT_FOUND') return null;
      throw error;
    });
    if (known.size >= VISIBILITY_CACHE_MAX) known.clear();
    known.set(decision.card_id, card !== null);
    return card !== null;
  };
}
