// Webhook endpoint and delivery schemas, and the views that render rows into them. The secret
// appears in two responses only: creation and rotation.

import Type, { type Static } from 'typebox';
import { PageQuery } from '../http/pagination.ts';
import { DELIVERY_STATUSES, type WebhookDeliveryRow } from '../repos/webhook-deliveries.ts';
import type { WebhookEndpointRow } from '../repos/webhook-endpoints.ts';
import { Timestamp, Uuid, pageOf } from './common.ts';

/** Previous-secret overlap after a rotation: default 24 h, at most 7 days. */
export const PREVIOUS_SECRET_VALID_S_DEFAULT = 24 * 3600;
export const PREVIOUS_SECRET_VALID_S_MAX = 7 * 24 * 3600;

const Url = Type.String({
  minLength: 1,
  maxLength: 2048,
  description:
    'https:// (http:// only where WEBHOOK_ALLOW_HTTP is set, in development). The host must resolve to ' +
    'public addresses only (or to WEBHOOK_ALLOWED_CIDRS); checked now and at every delivery.',
});
const EventTypes = Type.Array(
  Type.String({ minLength: 1, maxLength: 200, pattern: '^([a-z0-9_-]+|\\*|#)(\\.([a-z0-9_-]+|\\*|#))*$' }),
  {
    maxItems: 50,
    uniqueItems: true,
    description:
      'AMQP topic patterns over the event type: "decision.#", "decision.*.declined", "card.activated"; ' +
      'empty: every event.',
  },
);
const Description = Type.String({ maxLength: 500 });

export const WebhookEndpoint = Type.Object({
  id: Uuid,
  company_id: Type.Union([Uuid, Type.Null()], {
    description: "null: program-wide (every event); else that company's events only",
  }),
  url: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  event_types: Type.Array(Type.String()),
  active: Type.Boolean(),
  previous_secret_expires_at: Type.Union([Timestamp, Type.Null()], {
    description:
      'After a rotation: until then, deliveries also carry a v1 signature made with the previous secret',
  }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export const WebhookEndpointPage = pageOf(WebhookEndpoint);
export const WebhookEndpointWithSecret = Type.Object({
  ...WebhookEndpoint.properties,
  secret: Type.String({ description: 'HMAC-SHA256 key of X-AFC-Signature; shown in this response only' }),
});

export const CreateWebhookEndpointBody = Type.Object(
  {
    url: Url,
    company_id: Type.Optional(
      Type.Union([Uuid, Type.Null()], {
        description: "A company key's endpoints are its company's; a program key may name one, or null",
      }),
    ),
    description: Type.Optional(Description),
    event_types: Type.Optional(EventTypes),
    active: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);
export const PatchWebhookEndpointBody = Type.Object(
  {
    url: Type.Optional(Url),
    description: Type.Optional(Type.Union([Description, Type.Null()])),
    event_types: Type.Optional(EventTypes),
    active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const RotateSecretBody = Type.Object(
  {
    previous_secret_valid_s: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: PREVIOUS_SECRET_VALID_S_MAX,
        default: PREVIOUS_SECRET_VALID_S_DEFAULT,
        description: 'How long the previous secret still signs deliveries (0: not at all)',
      }),
    ),
  },
  { additionalProperties: false },
);
export const ListWebhookEndpointsQuery = Type.Object(
  { company_id: Type.Optional(Uuid), ...PageQuery },
  { additionalProperties: false },
);

export const WebhookEndpointParams = Type.Object({ id: Uuid });
export const WebhookDeliveryParams = Type.Object({
  id: Uuid,
  delivery_id: Type.String({ pattern: '^[1-9][0-9]{0,17}$' }),
});

export const WebhookDelivery = Type.Object({
  id: Type.String({ description: 'delivery id (digits)' }),
  event_id: Type.String(),
  event_type: Type.String(),
  status: Type.Enum(DELIVERY_STATUSES, {
    description:
      'pending: not tried yet; failed: last attempt failed (retries scheduled unless a test event); ' +
      'delivered: a 2xx answer; dead: retries stopped at the horizon',
  }),
  attempts: Type.Integer(),
  last_status_code: Type.Union([Type.Integer(), Type.Null()]),
  last_error: Type.Union([Type.String(), Type.Null()], {
    description: '"HTTP 503", "timeout after 5000 ms", "destination_refused: ...", ...',
  }),
  latency_ms: Type.Union([Type.Integer(), Type.Null()], { description: 'duration of the last attempt' }),
  created_at: Timestamp,
  last_attempt_at: Type.Union([Timestamp, Type.Null()]),
  delivered_at: Type.Union([Timestamp, Type.Null()]),
});
export const WebhookDeliveryPage = pageOf(WebhookDelivery);
export const ListWebhookDeliveriesQuery = Type.Object(
  { status: Type.Optional(Type.Enum(DELIVERY_STATUSES)), ...PageQuery },
  { additionalProperties: false },
);
export const TestEventAccepted = Type.Object({
  event_id: Type.String(),
  event_type: Type.String(),
});

const iso = (at: Date | null) => (at === null ? null : at.toISOString());

export function webhookEndpointView(row: WebhookEndpointRow): Static<typeof WebhookEndpoint> {
  return {
    id: row.id,
    company_id: row.company_id,
    url: row.url,
    description: row.description,
    event_types: row.event_types,
    active: row.active,
    previous_secret_expires_at: iso(row.previous_secret_expires_at),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function webhookDeliveryView(row: WebhookDeliveryRow): Static<typeof WebhookDelivery> {
  return {
    id: String(row.id),
    event_id: row.event_id,
    event_type: row.event_type,
    status: row.status,
    attempts: row.attempts,
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    latency_ms: row.last_duration_ms,
    created_at: row.created_at.toISOString(),
    last_attempt_at: iso(row.last_attempt_at),
    delivered_at: iso(row.delivered_at),
  };
}
