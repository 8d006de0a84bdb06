// /api/cards: issue, read, list, change status, set limits and controls.

import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { ifMatchVersion, setEtag } from '../http/etag.ts';
import { COMMON_ERRORS, ErrorResponse, IdParams, WRITE_ERRORS } from '../schemas/common.ts';
import { controlsRouteDescription } from '../schemas/enforced-controls.ts';
import {
  Card,
  CardPage,
  IssueCardBody,
  ListCardsQuery,
  PatchCardBody,
  StatusChangeBody,
  cardView,
} from '../schemas/cards.ts';
import type { ApiServices } from '../services/services.ts';

const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({ description: 'ETag of the version this change applies to, e.g. "3"' }),
  ),
});

export async function cardRoutes(
  app: FastifyInstance,
  { services }: { services: ApiServices },
): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { cards } = services;

  api.post(
    '/api/cards',
    {
      schema: {
        tags: ['cards'],
        summary: 'Issue a card: saved pending, activated by the worker once Marqeta created it',
        body: IssueCardBody,
        response: { 201: Card, ...WRITE_ERRORS, 503: ErrorResponse },
      },
    },
    async (request, reply) => {
      const card = await cards.issue(request.principal, request.body);
      setEtag(reply, card.version);
      return reply.status(201).send(cardView(card));
    },
  );

  api.get(
    '/api/cards',
    {
      schema: {
        tags: ['cards'],
        summary: 'List cards, newest first (kind from user_id, else the kind parameter)',
        querystring: ListCardsQuery,
        response: { 200: CardPage, ...COMMON_ERRORS },
      },
    },
    async (request) => {
      const page = await cards.list(request.principal, request.query);
      return { data: page.data.map(cardView), next_cursor: page.next_cursor };
    },
  );

  api.get(
    '/api/cards/:id',
    { schema: { tags: ['cards'], params: IdParams, response: { 200: Card, ...COMMON_ERRORS } } },
    async (request, reply) => {
      const card = await cards.get(request.principal, request.params.id);
      setEtag(reply, card.version);
      return cardView(card);
    },
  );

  api.patch(
    '/api/cards/:id',
    {
      schema: {
        tags: ['cards'],
        summary: 'Change limits and merchant controls (absent fields unchanged, null removes a limit)',
        description: controlsRouteDescription(),
        params: IdParams,
        headers: IfMatchHeaders,
        body: PatchCardBody,
        response: { 200: Card, ...WRITE_ERRORS },
      },
    },
    async (request, reply) => {
      const card = await cards.patch(
        request.principal,
        request.params.id,
        request.body,
        ifMatchVersion(request.headers['if-match']),
      );
      setEtag(reply, card.version);
      return cardView(card);
    },
  );

  api.post(
    '/api/cards/:id/status',
    {
      schema: {
        tags: ['cards'],
        summary: 'activate (suspended -> active), suspend (active -> suspended), close (-> closed, final)',
        params: IdParams,
        headers: IfMatchHeaders,
        body: StatusChangeBody,
        response: { 200: Card, ...WRITE_ERRORS },
      },
    },
    async (request, reply) => {
      const card = await cards.changeStatus(
        request.principal,
        request.params.id,
        request.body.action,
        ifMatchVersion(request.headers['if-match']),
      );
      setEtag(reply, card.version);
      return cardView(card);
    },
  );

  api.post(
    '/api/cards/:id/issue',
    {
      schema: {
        tags: ['cards'],
        summary: 'Publish the issue command again for a card still pending',
        params: IdParams,
        response: { 202: Card, ...WRITE_ERRORS, 503: ErrorResponse },
      },
    },
    async (request, reply) =>
      reply.status(202).send(cardView(await cards.reissue(request.principal, request.params.id))),
  );
}
