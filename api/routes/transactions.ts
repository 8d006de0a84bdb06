// /api/transactions: list by card, user or company (cursor, time window) and get one, each
// with its decision trace.

import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { COMMON_ERRORS } from '../schemas/common.ts';
import {
  ListTransactionsQuery,
  Transaction,
  TransactionIdParams,
  TransactionPage,
  transactionView,
} from '../schemas/transactions.ts';
import type { ApiServices } from '../services/services.ts';

export async function transactionRoutes(
  app: FastifyInstance,
  { services }: { services: ApiServices },
): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get(
    '/api/transactions',
    {
      schema: {
        tags: ['transactions'],
        summary:
          'List transactions newest first; personal ones when card_id/user_id is a personal id or kind=personal',
        querystring: ListTransactionsQuery,
        response: { 200: TransactionPage, ...COMMON_ERRORS },
      },
    },
    async (request) => {
      const page = await services.transactions.list(request.principal, request.query);
      return { data: page.data.map(transactionView), next_cursor: page.next_cursor };
    },
  );
  api.get(
    '/api/transactions/:id',
    {
      schema: {
        tags: ['transactions'],
        params: TransactionIdParams,
        response: { 200: Transaction, ...COMMON_ERRORS },
      },
    },
    async (request) => transactionView(await services.transactions.get(request.principal, request.params.id)),
  );
}
