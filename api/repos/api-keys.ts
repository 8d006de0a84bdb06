// api_keys rows (PostgreSQL). Plaintext keys never reach this module's storage.

import { randomUUID } from 'node:crypto';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { keySha256, parseKey, type Scope } from '../auth/api-keys.ts';

export interface ApiKeyRow {
  id: string;
  company_id: string | null;
  name: string;
  prefix: string;
  key_sha256: Buffer;
  scopes: Scope[];
  created_at: Date;
  revoked_at: Date | null;
}

export interface NewApiKey {
  readonly company_id: string | null;
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** The whole key; only its hash is stored. */
  readonly key: string;
}

export async function insertApiKey(sql: PgSql, input: NewApiKey): Promise<ApiKeyRow> {
  const parsed = parseKey(input.key);
  if (parsed === null) throw new Error('API key does not have the afc_<prefix>_<secret> format');
  const [row] = await sql<ApiKeyRow[]>`
    INSERT INTO api_keys (id, company_id, name, prefix, key_sha256, scopes)
    VALUES (${randomUUID()}, ${input.company_id}, ${input.name}, ${parsed.prefix}, ${keySha256(input.key)},
            ${[...input.scopes]})
    RETURNING *`;
  return row!;
}

export async function findApiKeyByPrefix(sql: PgSql, prefix: string): Promise<ApiKeyRow | null> {
  const [row] = await sql<ApiKeyRow[]>`SELECT * FROM api_keys WHERE prefix = ${prefix}`;
  return row ?? null;
}

export async function getApiKey(sql: PgSql, id: string): Promise<ApiKeyRow | null> {
  const [row] = await sql<ApiKeyRow[]>`SELECT * FROM api_keys WHERE id = ${id}`;
  return row ?? null;
}

/** Keys of one company, or every key when company_id is undefined; newest first, bounded. */
export async function listApiKeys(
  sql: PgSql,
  company_id: string | undefined,
  limit: number,
): Promise<ApiKeyRow[]> {
  return sql<ApiKeyRow[]>`
    SELECT * FROM api_keys
     WHERE ${company_id === undefined ? sql`true` : sql`company_id = ${company_id}`}
     ORDER BY created_at DESC, id DESC LIMIT ${limit}`;
}

export async function revokeApiKey(sql: PgSql, id: string): Promise<ApiKeyRow | null> {
  const [row] = await sql<ApiKeyRow[]>`
    UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = ${id} RETURNING *`;
  return row ?? null;
}
