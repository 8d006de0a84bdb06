// webhook_endpoints rows (PostgreSQL) as the API sees them: the secret is written here (at
// creation and rotation) but never read back; deleted endpoints are invisible.

import type { PgSql, PgTx } from '../../shared/stores/postgres.ts';

export interface WebhookEndpointRow {
  id: string;
  company_id: string | null;
  url: string;
  description: string | null;
  event_types: string[];
  active: boolean;
  previous_secret_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
  /** created_at as PostgreSQL prints it (microseconds), for the cursor. */
  cursor_at: string;
}

export interface NewWebhookEndpoint {
  readonly id: string;
  readonly company_id: string | null;
  readonly url: string;
  readonly secret: string;
  readonly description: string | null;
  readonly event_types: readonly string[];
  readonly active: boolean;
}

export interface WebhookEndpointChanges {
  readonly url?: string;
  readonly description?: string | null;
  readonly event_types?: readonly string[];
  readonly active?: boolean;
}

const returned = (sql: PgSql | PgTx) =>
  sql`id, company_id, url, description, event_types, active, previous_secret_expires_at, created_at,
      updated_at, created_at::text AS cursor_at`;

export async function insertWebhookEndpoint(
  sql: PgSql | PgTx,
  input: NewWebhookEndpoint,
): Promise<WebhookEndpointRow> {
  const [row] = await sql<WebhookEndpointRow[]>`
    INSERT INTO webhook_endpoints (id, company_id, url, secret, description, event_types, active)
    VALUES (${input.id}, ${input.company_id}, ${input.url}, ${input.secret}, ${input.description},
            ${[...input.event_types]}, ${input.active})
    RETURNING ${returned(sql)}`;
  return row!;
}

export async function getWebhookEndpoint(sql: PgSql, id: string): Promise<WebhookEndpointRow | null> {
  const [row] = await sql<WebhookEndpointRow[]>`
    SELECT ${returned(sql)} FROM webhook_endpoints WHERE id = ${id} AND deleted_at IS NULL`;
  return row ?? null;
}

/** Endpoints not deleted: of one owner (company id, or null for program-wide ones) or all. */
export async function countWebhookEndpoints(sql: PgSql, company_id: string | null): Promise<number> {
  const [row] = await sql<Array<{ n: number }>>`
    SELECT count(*)::int AS n FROM webhook_endpoints
     WHERE deleted_at IS NULL AND company_id IS NOT DISTINCT FROM ${company_id}`;
  return row!.n;
}

/** Newest first; company_id undefined lists every owner's endpoints. */
export async function listWebhookEndpoints(
  sql: PgSql,
  company_id: string | undefined,
  after: { at: string; id: string } | undefined,
  limit: number,
): Promise<WebhookEndpointRow[]> {
  return sql<WebhookEndpointRow[]>`
    SELECT ${returned(sql)} FROM webhook_endpoints
     WHERE deleted_at IS NULL
       ${company_id === undefined ? sql`` : sql`AND company_id = ${company_id}`}
       ${after === undefined ? sql`` : sql`AND (created_at, id) < (${after.at}::timestamptz, ${after.id}::uuid)`}
     ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`;
}

export async function updateWebhookEndpoint(
  sql: PgSql | PgTx,
  id: string,
  changes: WebhookEndpointChanges,
): Promise<WebhookEndpointRow | null> {
  const [row] = await sql<WebhookEndpointRow[]>`
    UPDATE webhook_endpoints
       SET url = ${changes.url === undefined ? sql`url` : sql`${changes.url}`},
           description = ${changes.description === undefined ? sql`description` : sql`${changes.description}`},
           event_types = ${changes.event_types === undefined ? sql`event_types` : sql`${[...changes.event_types]}`},
           active = ${changes.active === undefined ? sql`active` : sql`${changes.active}`},
           updated_at = now()
     WHERE id = ${id} AND deleted_at IS NULL
    RETURNING ${returned(sql)}`;
  return row ?? null;
}

/**
 * The current secret becomes the previous one, valid for previous_valid_s more seconds (0: not
 * at all); a previous secret from an earlier rotation is dropped.
 */
export async function rotateWebhookSecret(
  sql: PgSql,
  id: string,
  secret: string,
  previous_valid_s: number,
): Promise<WebhookEndpointRow | null> {
  const [row] = await sql<WebhookEndpointRow[]>`
    UPDATE webhook_endpoints
       SET previous_secret = CASE WHEN ${previous_valid_s} > 0 THEN secret END,
           previous_secret_expires_at = CASE WHEN ${previous_valid_s} > 0
                                             THEN now() + make_interval(secs => ${previous_valid_s}) END,
           secret = ${secret},
           updated_at = now()
     WHERE id = ${id} AND deleted_at IS NULL
    RETURNING ${returned(sql)}`;
  return row ?? null;
}

/**
 * Deleted endpoints stay as rows (their deliveries reference them), inactive, hidden, and with
 * their secrets overwritten by random ones nobody knows.
 */
export async function deleteWebhookEndpoint(
  sql: PgSql | PgTx,
  id: string,
  unusable_secret: string,
): Promise<boolean> {
  const rows = await sql`
    UPDATE webhook_endpoints
       SET deleted_at = now(), active = false, secret = ${unusable_secret}, previous_secret = NULL,
           previous_secret_expires_at = NULL, updated_at = now()
     WHERE id = ${id} AND deleted_at IS NULL`;
  return rows.count === 1;
}
