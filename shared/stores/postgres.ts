// PostgreSQL client (postgres.js, tagged-template SQL): at most 20 connections (design card),
// 30 s statement timeout, idle connections closed after 30 s. postgres.js opens connections
// lazily, so the seed's minimum of 5 is reached under load rather than held idle.
// JIT compilation off: every statement of ours reads a few rows by key, and PostgreSQL compiles
// any plan estimated above 100,000 (jit_above_cost), which a table without statistics reaches
// at once: 28 ms of compiling for a 1 ms batch statement, measured.

import type { TransactionSql } from 'postgres';
import postgres from 'postgres';
import type { Logger } from '../logger.ts';

export interface PostgresOptions {
  readonly url: string;
  readonly application_name: string;
  readonly max_connections?: number;
  readonly statement_timeout_ms?: number;
}

export const SLOW_QUERY_MS = 100;

export function connectPostgres(options: PostgresOptions) {
  return postgres(options.url, {
    max: options.max_connections ?? 20,
    idle_timeout: 30,
    connect_timeout: 5,
    max_lifetime: 30 * 60,
    onnotice: () => {},
    connection: {
      application_name: options.application_name,
      statement_timeout: options.statement_timeout_ms ?? 30_000,
      jit: 'off',
    },
    types: { bigint: postgres.BigInt },
  });
}

/** Runs one query and logs it, by label and never with its parameters, when slower than 100 ms. */
export async function timed<T>(log: Logger, label: string, run: () => Promise<T>): Promise<T> {
  const started_ms = performance.now();
  try {
    return await run();
  } finally {
    const duration_ms = performance.now() - started_ms;
    if (duration_ms > SLOW_QUERY_MS) log.warn({ query: label, duration_ms }, 'slow query');
  }
}

/** The client type, with bigint columns and parameters as JS bigint. */
export type PgSql = ReturnType<typeof connectPostgres>;
/** A transaction of that client (sql.begin). */
export type PgTx = TransactionSql<{ bigint: bigint }>;
