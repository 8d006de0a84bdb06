// webhook_deliveries rows (written by the worker), read by the API's delivery log.

import type { PgSql } from '../../shared/stores/postgres.ts';

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'dead'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface WebhookDeliveryRow {
  id: bigint;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  last_duration_ms: number | null;
  created_at: Date;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
  cursor_at: string;
}

const returned = (sql: PgSql) =>
  sql`id, endpoint_id, event_id, event_type, status, attempts, last_status_code, last_error,
      last_duration_ms, created_at, last_attempt_at, delivered_at, created_at::text AS cursor_at`;

/** An endpoint's deliveries, newest first. */
export async function listWebhookDeliveries(
  sql: PgSql,
  endpoint_id: string,
  status: DeliveryStatus | undefined,
  after: { at: string; id: string } | undefined,
  limit: number,
): Promise<WebhookDeliveryRow[]> {
  return sql<WebhookDeliveryRow[]>`
    SELECT ${returned(sql)} FROM webhook_deliveries
     WHERE endpoint_id = ${endpoint_id}
       ${status === undefined ? sql`` : sql`AND status = ${status}`}
       ${after === undefined ? sql`` : sql`AND (created_at, id) < (${after.at}::timestamptz, ${after.id}::bigint)`}
     ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`;
}

/** One delivery of one endpoint, with the body receivers got (null for deliveries before it was kept). */
export async function getWebhookDelivery(
  sql: PgSql,
  endpoint_id: string,
  delivery_id: string,
): Promise<(WebhookDeliveryRow & { payload: string | null }) | null> {
  const [row] = await sql<Array<WebhookDeliveryRow & { payload: string | null }>>`
    SELECT ${returned(sql)}, payload FROM webhook_deliveries
     WHERE id = ${delivery_id} AND endpoint_id = ${endpoint_id}`;
  return row ?? null;
}
