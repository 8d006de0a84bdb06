// A webhook event addressed to one endpoint, published straight to the webhook work queue:
// the management API's test events and retries, and the worker's own scheduled retries. The
// worker's fan-out messages (routed from afc.events) carry none of these headers. The API
// builds these messages and the worker reads them, so the format lives here only.

import type { Envelope } from 'rabbitmq-client';
import { HEADER_ORIGINAL_ROUTING_KEY } from '../broker/topology.ts';

/** The endpoint the message is for (no fan-out). */
export const HEADER_ENDPOINT_ID = 'x-endpoint-id';
/** The event's created_at (ISO 8601), kept so a retried event has the same body as the first. */
export const HEADER_EVENT_CREATED_AT = 'x-event-created-at';
/**
 * One attempt only: a retry asked for while the delivery's own retries are still scheduled, so
 * a failure here starts no second retry chain.
 */
export const HEADER_ATTEMPT_ONLY = 'x-attempt-only';

/** The event type of a test event sent through the API; delivered whatever the endpoint's filter. */
export const TEST_EVENT_TYPE = 'webhook.test';

export interface AddressedEvent {
  readonly endpoint_id: string;
  readonly event_id: string;
  readonly event_type: string;
  readonly created_at: string;
  readonly data: Record<string, unknown>;
  readonly attempt_only: boolean;
}

export function addressedDeliveryMessage(
  queue: string,
  event: AddressedEvent,
): { readonly envelope: Envelope; readonly body: Record<string, unknown> } {
  return {
    envelope: {
      exchange: '',
      routingKey: queue,
      durable: true,
      mandatory: true,
      contentType: 'application/json',
      messageId: event.event_id,
      timestamp: Math.floor(Date.parse(event.created_at) / 1000),
      headers: {
        [HEADER_ENDPOINT_ID]: event.endpoint_id,
        [HEADER_ORIGINAL_ROUTING_KEY]: event.event_type,
        [HEADER_EVENT_CREATED_AT]: event.created_at,
        ...(event.attempt_only ? { [HEADER_ATTEMPT_ONLY]: true } : {}),
      },
    },
    body: event.data,
  };
}

/** The receivers' body: {id, type, created_at, data}, serialized once and signed as is. */
export function eventBody(id: string, type: string, created_at: string, data: unknown): string {
  return JSON.stringify({ id, type, created_at, data });
}

/** Reads back a stored body (the delivery log keeps what receivers got), or null if unreadable. */
export function parseEventBody(
  raw_body: string,
): { id: string; type: string; created_at: string; data: Record<string, unknown> } | null {
  try {
    const value = JSON.parse(raw_body) as Record<string, unknown>;
    const { id, type, created_at, data } = value;
    if (
      typeof id === 'string' &&
      typeof type === 'string' &&
      typeof created_at === 'string' &&
      data !== null &&
      typeof data === 'object' &&
      !Array.isArray(data)
    ) {
      return { id, type, created_at, data: data as Record<string, unknown> };
    }
  } catch {
    // Falls through: not ours.
  }
  return null;
}
