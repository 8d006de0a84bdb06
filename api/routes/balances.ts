// Personal card balance: read, and load (credit) idempotently by Idempotency-Key.

import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { BalanceView, LoadResult } from '../services/balance-service.ts';
import { COMMON_ERRORS, IdParams, WRITE_ERRORS } from '../schemas/common.ts';
import { Balance, BalanceLoad, BalanceLoadBody, IdempotencyHeaders } from '../schemas/cards.ts';
import type { ApiServices } from '../services/services.ts';

function balanceView(balance: BalanceView) {
  return {
    card_id: balance.card_id,
    currency_code: balance.currency_code,
    posted_minor: balance.posted_minor.toString(),
    held_minor: balance.held_minor.toString(),
    available_minor: balance.available_minor.toString(),
    held_source: balance.held_source,
  };
}

function loadView(result: LoadResult) {
  return {
    load_id: String(result.load._id),
    card_id: String(result.load.card_id),
    idempotency_key: result.load.idempotency_key,
    amount_minor: result.load.amount_minor.toString(),
    currency_code: result.load.currency_code,
    created_at: result.load.created_at.toISOString(),
    balance: balanceView(result.balance),
  };
}

export async function balanceRoutes(
  app: FastifyInstance,
  { services }: { services: ApiServices },
): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();

  api.get(
    '/api/cards/:id/balance',
    {
      schema: {
        tags: ['balances'],
        summary: 'Posted balance, held amount and available balance of a personal card',
        params: IdParams,
        response: { 200: Balance, ...COMMON_ERRORS },
      },
    },
    async (request) => balanceView(await services.balances.read(request.principal, request.params.id)),
  );

  api.post(
    '/api/cards/:id/balance/loads',
    {
      schema: {
        tags: ['balances'],
        summary: 'Credit a personal card; a repeated Idempotency-Key returns the first load (200)',
        params: IdParams,
        headers: IdempotencyHeaders,
        body: BalanceLoadBody,
        response: { 201: BalanceLoad, 200: BalanceLoad, ...WRITE_ERRORS },
      },
    },
    async (request, reply) => {
      const result = await services.balances.load(
        request.principal,
        request.params.id,
        request.headers['idempotency-key'],
        request.body.amount_minor,
        request.body.currency_code,
      );
      return reply.status(result.replayed ? 200 : 201).send(loadView(result));
    },
  );
}
