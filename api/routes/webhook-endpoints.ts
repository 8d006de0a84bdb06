// /api/webhook-endpoints: where the worker POSTs a program's (or a company's) events, signed.
// GET needs read, everything else write (the secret is shown at creation and rotation only).

import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { COMMON_ERRORS, ErrorResponse, WRITE_ERRORS } from '../schemas/common.ts';
import {
  CreateWebhookEndpointBody,
  ListWebhookDeliveriesQuery,
  ListWebhookEndpointsQuery,
  PatchWebhookEndpointBody,
  PREVIOUS_SECRET_VALID_S_DEFAULT,
  RotateSecretBody,
  TestEventAccepted,
  WebhookDelivery,
  WebhookDeliveryPage,
  WebhookDeliveryParams,
  WebhookEndpoint,
  WebhookEndpointPage,
  WebhookEndpointParams,
  WebhookEndpointWithSecret,
  webhookDeliveryView,
  webhookEndpointView,
} from '../schemas/webhook-endpoints.ts';
import type { ApiServices } from '../services/services.ts';

const tags = ['webhook endpoints'];

export async function webhookEndpointRoutes(
  app: FastifyInstance,
  { services }: { services: ApiServices },
): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { webhook_endpoints } = services;

  api.post(
    '/api/webhook-endpoints',
    {
      schema: {
        tags,
        summary: 'Register an endpoint; its signing secret is in this response only',
        body: CreateWebhookEndpointBody,
        response: { 201: WebhookEndpointWithSecret, ...WRITE_ERRORS, 503: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { row, secret } = await webhook_endpoints.create(request.principal, request.body);
      return reply.status(201).send({ ...webhookEndpointView(row), secret });
    },
  );

  api.get(
    '/api/webhook-endpoints',
    {
      schema: {
        tags,
        summary: 'List endpoints, newest first',
        querystring: ListWebhookEndpointsQuery,
        response: { 200: WebhookEndpointPage, ...COMMON_ERRORS },
      },
    },
    async (request) => {
      const page = await webhook_endpoints.list(request.principal, request.query);
      return { data: page.data.map(webhookEndpointView), next_cursor: page.next_cursor };
    },
  );

  api.get(
    '/api/webhook-endpoints/:id',
    { schema: { tags, params: WebhookEndpointParams, response: { 200: WebhookEndpoint, ...COMMON_ERRORS } } },
    async (request) => webhookEndpointView(await webhook_endpoints.get(request.principal, request.params.id)),
  );

  api.patch(
    '/api/webhook-endpoints/:id',
    {
      schema: {
        tags,
        summary: 'Change the URL (checked again), description, event types or active flag',
        params: WebhookEndpointParams,
        body: PatchWebhookEndpointBody,
        response: { 200: WebhookEndpoint, ...WRITE_ERRORS, 503: ErrorResponse },
      },
    },
    async (request) =>
      webhookEndpointView(await webhook_endpoints.update(request.principal, request.params.id, request.body)),
  );

  api.delete(
    '/api/webhook-endpoints/:id',
    {
      schema: {
        tags,
        summary: 'Delete an endpoint: nothing more is sent to it, scheduled retries are dropped',
        params: WebhookEndpointParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...COMMON_ERRORS },
      },
    },
    async (request, reply) => {
      await webhook_endpoints.remove(request.principal, request.params.id);
      return reply.status(204).send(null);
    },
  );

  api.post(
    '/api/webhook-endpoints/:id/secret/rotate',
    {
      schema: {
        tags,
        summary: 'Replace the signing secret; the new one is in this response only',
        description:
          'The previous secret keeps signing for previous_secret_valid_s (default 24 h): meanwhile every ' +
          'delivery carries two v1 signatures, one per secret, so receivers can switch at any moment.',
        params: WebhookEndpointParams,
        body: RotateSecretBody,
        response: { 200: WebhookEndpointWithSecret, ...WRITE_ERRORS },
      },
    },
    async (request) => {
      const { row, secret } = await webhook_endpoints.rotateSecret(
        request.principal,
        request.params.id,
        request.body.previous_secret_valid_s ?? PREVIOUS_SECRET_VALID_S_DEFAULT,
      );
      return { ...webhookEndpointView(row), secret };
    },
  );

  api.post(
    '/api/webhook-endpoints/:id/test',
    {
      schema: {
        tags,
        summary: 'Send a signed webhook.test event now (one attempt; the outcome is in the delivery log)',
        params: WebhookEndpointParams,
        response: { 202: TestEventAccepted, ...WRITE_ERRORS, 503: ErrorResponse },
      },
    },
    async (request, reply) =>
      reply.status(202).send(await webhook_endpoints.sendTest(request.principal, request.params.id)),
  );

  api.get(
    '/api/webhook-endpoints/:id/deliveries',
    {
      schema: {
        tags,
        summary: 'Recent deliveries to this endpoint, newest first (status, attempts, last answer, latency)',
        params: WebhookEndpointParams,
        querystring: ListWebhookDeliveriesQuery,
        response: { 200: WebhookDeliveryPage, ...COMMON_ERRORS },
      },
    },
    async (request) => {
      const page = await webhook_endpoints.listDeliveries(
        request.principal,
        request.params.id,
        request.query,
      );
      return { data: page.data.map(webhookDeliveryView), next_cursor: page.next_cursor };
    },
  );

  api.post(
    '/api/webhook-endpoints/:id/deliveries/:delivery_id/retry',
    {
      schema: {
        tags,
        summary:
          'Send a delivery again now, same body (dead: a fresh retry window; failed: one extra attempt)',
        params: WebhookDeliveryParams,
        response: { 202: WebhookDelivery, ...WRITE_ERRORS, 503: ErrorResponse },
      },
    },
    async (request, reply) =>
      reply
        .status(202)
        .send(
          webhookDeliveryView(
            await webhook_endpoints.retryDelivery(
              request.principal,
              request.params.id,
              request.params.delivery_id,
            ),
          ),
        ),
  );
}
