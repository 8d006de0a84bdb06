// A fake Marqeta Core API for tests and the demo: in memory, Basic auth checked, Marqeta-shaped
// JSON for users, cards, card transitions and transactions, idempotent creates by token, and
// failure injection. Routes under the base path (default /v3):
//   GET  /                              200 (the gateway's health check; no auth)
//   POST /users, GET /users/:token
//   POST /cards, GET /cards/:token
//   POST /cardtransitions, GET /cardtransitions/:token, GET /cardtransitions/card/:card_token
//   GET  /transactions/:token
// Control routes (no auth, never faulted; the fake only ever listens on a local port):
//   POST /__fake/faults  {path_prefix, method?, mode, count, delay_ms, retry_after_s, phase}
//   GET  /__fake/faults, POST /__fake/reset, POST /__fake/config {strict_duplicates}
//   POST /__fake/transactions (seed one), GET /__fake/requests (calls per route)
//   POST /__fake/commando {rule, gateway, webhook}: Commando Mode (commando.ts) for the JIT
//   requests sent through POST /__fake/jit (a JIT request body: sent to our gateway as Marqeta
//   would; stood in for when the gateway leaves it undecided, and notified); GET /__fake/commando

import { createHash, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { CommandoRoute } from './commando-route.ts';
import { type Fault, FaultPlan, FaultSchema } from './faults.ts';
import { FakeError, FakeMarqetaStore, type Json } from './store.ts';

export interface FakeMarqetaOptions {
  readonly app_token: string;
  readonly admin_token: string;
  readonly base_path?: string;
  /** pino level of the request log; off when absent. */
  readonly log_level?: string;
}

export interface FakeMarqeta {
  readonly app: FastifyInstance;
  readonly store: FakeMarqetaStore;
  readonly faults: FaultPlan;
  /** Calls per route ("POST /v3/cards"), faulted ones included. */
  readonly calls: Map<string, number>;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function bodyOf(request: FastifyRequest): Json {
  const body = request.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw new FakeError(400, '400000', 'Body must be a JSON object');
  return body as Json;
}

const FAULT_STATUS: Readonly<Record<Exclude<Fault['mode'], 'slow' | 'reset'>, number>> = {
  '429': 429,
  '500': 500,
  '503': 503,
};

function faultAnswer(fault: Fault, reply: FastifyReply): Json {
  const status = FAULT_STATUS[fault.mode as keyof typeof FAULT_STATUS];
  reply.code(status);
  if (fault.retry_after_s !== undefined) reply.header('retry-after', String(fault.retry_after_s));
  return { error_code: String(status), error_message: `Injected fault (${fault.mode})` };
}

export async function buildFakeMarqeta(options: FakeMarqetaOptions): Promise<FakeMarqeta> {
  const base_path = options.base_path ?? '/v3';
  const expected_auth = digest(
    `Basic ${Buffer.from(`${options.app_token}:${options.admin_token}`).toString('base64')}`,
  );
  const store = new FakeMarqetaStore();
  const faults = new FaultPlan();
  const commando = new CommandoRoute();
  const calls = new Map<string, number>();
  const app = Fastify({
    logger: options.log_level === undefined ? false : { level: options.log_level },
    bodyLimit: 256 * 1024,
    requestTimeout: 120_000,
  });

  const relativePath = (request: FastifyRequest): string | undefined => {
    const path = request.url.split('?')[0]!;
    return path === base_path || path.startsWith(`${base_path}/`)
      ? path.slice(base_path.length) || '/'
      : undefined;
  };

  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof FakeError) {
      return reply.code(error.status).send({ error_code: error.error_code, error_message: error.message });
    }
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    return reply.code(status).send({ error_code: String(status), error_message: (error as Error).message });
  });

  app.addHook('onRequest', async (request, reply) => {
    const relative = relativePath(request);
    if (relative === undefined) return;
    const route = `${request.method} ${request.routeOptions.url ?? request.url}`;
    calls.set(route, (calls.get(route) ?? 0) + 1);
    if (relative === '/') return;
    if (!timingSafeEqual(digest(request.headers.authorization ?? ''), expected_auth)) {
      return reply.code(401).send({ error_code: '401', error_message: 'Invalid credentials' });
    }
    const fault = faults.take(request.method, relative, 'before');
    if (fault === undefined) return;
    if (fault.delay_ms > 0) await sleep(fault.delay_ms);
    if (fault.mode === 'slow') return;
    if (fault.mode === 'reset') {
      request.raw.socket.destroy();
      return reply.hijack();
    }
    return reply.send(faultAnswer(fault, reply));
  });

  // Phase "after": the handler has run (a create is stored); the answer is then lost.
  app.addHook('onSend', async (request, reply, payload) => {
    const relative = relativePath(request);
    if (relative === undefined || relative === '/' || reply.statusCode === 401) return payload;
    const fault = faults.take(request.method, relative, 'after');
    if (fault === undefined) return payload;
    if (fault.delay_ms > 0) await sleep(fault.delay_ms);
    if (fault.mode === 'slow') return payload;
    if (fault.mode === 'reset') {
      request.raw.socket.destroy();
      return payload;
    }
    return JSON.stringify(faultAnswer(fault, reply));
  });

  await app.register(
    async (api) => {
      api.get('/', async () => ({ status: 'ok', service: 'fake-marqeta' }));
      api.post('/users', async (request, reply) => {
        const { object, replayed } = store.createUser(bodyOf(request));
        return reply.code(replayed ? 200 : 201).send(object);
      });
      api.get<{ Params: { token: string } }>('/users/:token', async (request) =>
        store.getUser(request.params.token),
      );
      api.post('/cards', async (request, reply) => {
        const { object, replayed } = store.createCard(bodyOf(request));
        return reply.code(replayed ? 200 : 201).send(object);
      });
      api.get<{ Params: { token: string } }>('/cards/:token', async (request) =>
        store.getCard(request.params.token),
      );
      api.post('/cardtransitions', async (request, reply) => {
        const { object, replayed } = store.createTransition(bodyOf(request));
        return reply.code(replayed ? 200 : 201).send(object);
      });
      api.get<{ Params: { token: string } }>('/cardtransitions/:token', async (request) =>
        store.getTransition(request.params.token),
      );
      api.get<{ Params: { card_token: string } }>('/cardtransitions/card/:card_token', async (request) => {
        const data = store.transitionsOf(request.params.card_token);
        return {
          count: data.length,
          start_index: 0,
          end_index: Math.max(0, data.length - 1),
          is_more: false,
          data,
        };
      });
      api.get<{ Params: { token: string } }>('/transactions/:token', async (request) =>
        store.getTransaction(request.params.token),
      );
    },
    { prefix: base_path },
  );

  await app.register(
    async (control) => {
      const typed = control.withTypeProvider<TypeBoxTypeProvider>();
      typed.post('/faults', { schema: { body: FaultSchema } }, async (request, reply) => {
        faults.add(request.body);
        return reply.code(201).send({ faults: faults.pending() });
      });
      typed.get('/faults', async () => ({ faults: faults.pending() }));
      typed.post('/reset', async () => {
        store.reset();
        faults.clear();
        calls.clear();
        return { reset: true };
      });
      typed.post(
        '/config',
        {
          schema: {
            body: Type.Object({ strict_duplicates: Type.Boolean() }, { additionalProperties: false }),
          },
        },
        async (request) => {
          store.strict_duplicates = request.body.strict_duplicates;
          return { strict_duplicates: store.strict_duplicates };
        },
      );
      typed.post('/transactions', async (request, reply) =>
        reply.code(201).send(store.putTransaction(bodyOf(request))),
      );
      typed.get('/requests', async () => ({ calls: Object.fromEntries(calls) }));
      commando.register(control);
    },
    { prefix: '/__fake' },
  );

  return { app, store, faults, calls };
}

/** Starts a fake on 127.0.0.1 (port 0 picks a free one) and returns its base URL. */
export async function startFakeMarqeta(
  options: FakeMarqetaOptions & { readonly port?: number; readonly host?: string },
): Promise<FakeMarqeta & { readonly base_url: string; close(): Promise<void> }> {
  const fake = await buildFakeMarqeta(options);
  const address = await fake.app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  return { ...fake, base_url: `${address}${options.base_path ?? '/v3'}`, close: () => fake.app.close() };
}
