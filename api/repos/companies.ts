// Companies (PostgreSQL).

import { randomUUID } from 'node:crypto';
import type { PgSql } from '../../shared/stores/postgres.ts';

export interface CompanyRow {
  id: string;
  name: string;
  time_zone: string;
  created_at: Date;
  updated_at: Date;
  cursor_at: string;
}

export async function insertCompany(
  sql: PgSql,
  input: { id?: string; name: string; time_zone: string },
): Promise<CompanyRow> {
  const [row] = await sql<CompanyRow[]>`
    INSERT INTO companies (id, name, time_zone) VALUES (${input.id ?? randomUUID()}, ${input.name}, ${input.time_zone})
    RETURNING *, created_at::text AS cursor_at`;
  return row!;
}

export async function getCompany(sql: PgSql, id: string): Promise<CompanyRow | null> {
  const [row] = await sql<
    CompanyRow[]
  >`SELECT *, created_at::text AS cursor_at FROM companies WHERE id = ${id}`;
  return row ?? null;
}

export async function listCompanies(
  sql: PgSql,
  only_id: string | undefined,
  after: { at: string; id: string } | undefined,
  limit: number,
): Promise<CompanyRow[]> {
  return sql<CompanyRow[]>`
    SELECT *, created_at::text AS cursor_at FROM companies
     WHERE ${only_id === undefined ? sql`true` : sql`id = ${only_id}`}
       ${after === undefined ? sql`` : sql`AND (created_at, id) < (${after.at}::timestamptz, ${after.id}::uuid)`}
     ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`;
}
