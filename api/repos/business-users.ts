// Business users (PostgreSQL `users`), each of one company.

import { randomUUID } from 'node:crypto';
import type { PgSql } from '../../shared/stores/postgres.ts';

export const BUSINESS_USER_STATUSES = ['active', 'suspended', 'closed'] as const;
export type BusinessUserStatus = (typeof BUSINESS_USER_STATUSES)[number];

export interface BusinessUserRow {
  id: string;
  company_id: string;
  user_token: string;
  email: string;
  role: string;
  status: BusinessUserStatus;
  created_at: Date;
  updated_at: Date;
  cursor_at: string;
}

export interface NewBusinessUser {
  readonly company_id: string;
  readonly user_token: string;
  readonly email: string;
  readonly role: string;
  readonly status: BusinessUserStatus;
}

export async function insertBusinessUser(sql: PgSql, input: NewBusinessUser): Promise<BusinessUserRow> {
  const [row] = await sql<BusinessUserRow[]>`
    INSERT INTO users (id, company_id, user_token, email, role, status)
    VALUES (${randomUUID()}, ${input.company_id}, ${input.user_token}, ${input.email}, ${input.role}, ${input.status})
    RETURNING *, created_at::text AS cursor_at`;
  return row!;
}

export async function getBusinessUser(sql: PgSql, id: string): Promise<BusinessUserRow | null> {
  const [row] = await sql<
    BusinessUserRow[]
  >`SELECT *, created_at::text AS cursor_at FROM users WHERE id = ${id}`;
  return row ?? null;
}

export async function findBusinessUserByToken(
  sql: PgSql,
  user_token: string,
): Promise<BusinessUserRow | null> {
  const [row] = await sql<
    BusinessUserRow[]
  >`SELECT *, created_at::text AS cursor_at FROM users WHERE user_token = ${user_token}`;
  return row ?? null;
}

export async function listBusinessUsers(
  sql: PgSql,
  company_id: string,
  after: { at: string; id: string } | undefined,
  limit: number,
): Promise<BusinessUserRow[]> {
  return sql<BusinessUserRow[]>`
    SELECT *, created_at::text AS cursor_at FROM users
     WHERE company_id = ${company_id}
       ${after === undefined ? sql`` : sql`AND (created_at, id) < (${after.at}::timestamptz, ${after.id}::uuid)`}
     ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`;
}

export async function updateBusinessUser(
  sql: PgSql,
  id: string,
  change: { status?: BusinessUserStatus; role?: string },
): Promise<BusinessUserRow | null> {
  const [row] = await sql<BusinessUserRow[]>`
    UPDATE users SET status = coalesce(${change.status ?? null}, status), role = coalesce(${change.role ?? null}, role),
           updated_at = now()
     WHERE id = ${id}
    RETURNING *, created_at::text AS cursor_at`;
  return row ?? null;
}
