// /api/api-keys: admin scope. Company admins manage their company's keys; program admins all.

import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { requireScope } from '../http/authenticate.ts';
import { ApiKey, ApiKeyList, CreateApiKeyBody, CreatedApiKey, apiKeyView } from '../schemas/api-keys.ts';
import { COMMON_ERRORS, Uuid, WRITE_ERRORS } from '../schemas/common.ts';
import type { ApiServices } from '../services/services.ts';

export async function apiKeyRoutes(
  app: FastifyInstance,
  { services }: { services: ApiServices },
): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.addHook('onRequest', async (request) => requireScope(request, 'admin'));

  api.post(
    '/api/api-keys',
    {
      schema: {
        tags: ['api keys'],
        summary: 'Create a key; its value is in this response only',
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKey, ...WRITE_ERRORS },
      },
    },
    async (request, reply) => {
      const { row, key } = await services.api_keys.create(request.principal, request.body);
      return reply.status(201).send({ ...apiKeyView(row), key });
    },
  );
  api.get(
    '/api/api-keys',
    { schema: { tags: ['api keys'], response: { 200: ApiKeyList, ...COMMON_ERRORS } } },
    async (request) => ({ data: (await services.api_keys.list(request.principal)).map(apiKeyView) }),
  );
  api.delete(
    '/api/api-keys/:id',
    {
      schema: {
        tags: ['api keys'],
        summary: 'Revoke a key',
        params: Type.Object({ id: Uuid }),
        response: { 200: ApiKey, ...COMMON_ERRORS },
      },
    },
    async (request) => apiKeyView(await services.api_keys.revoke(request.principal, request.params.id)),
  );
}
