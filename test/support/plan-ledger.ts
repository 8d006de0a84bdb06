// A private database holding a big business ledger whose statistics are stale, for checking
// the plans of the ledger statements (test/integration/sql-plans.test.ts). The statistics are
// taken while the ledger is young (a small history, nothing pending), then the history grows
// to TRANSACTIONS_LOADED rows, half of them pending, with no ANALYZE after: how a fast-growing
// table looks to the planner with autovacuum off (or before autovacuum catches up).

import { randomBytes } from 'node:crypto';
import { migratePostgres } from '../../migrations/migrate.ts';
import { connectPostgres, type PgSql } from '../../shared/stores/postgres.ts';

export const TRANSACTIONS_LOADED = 200_000;
const CARDS = 1_000;
const USERS = 500;
const SPEND_DAYS = 100;
const NOTIFICATIONS = 20_000;

/** Tokens of the loaded ledger, for realistic statement parameters. */
export const planTokens = {
  card: (i: number) => `plan_c_${i % CARDS}`,
  /** Odd i: a pending authorization (its own group); i % 4 = 0: a cleared one. */
  jit: (i: number) => `plan_j_${i}`,
};

export interface PlanDatabase {
  readonly sql: PgSql;
  readonly name: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Creates `afc_plans_<random>`, migrates it and loads the young history, then ANALYZE. */
export async function createPlanDatabase(admin_url: string): Promise<PlanDatabase> {
  const name = `afc_plans_${randomBytes(6).toString('hex')}`;
  const admin = connectPostgres({ url: admin_url, application_name: 'afc-test-plans', max_connections: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const sql = connectPostgres({
    url: withDatabase(admin_url, name),
    application_name: 'afc-test-plans',
    max_connections: 2,
    statement_timeout_ms: 300_000,
  });
  const drop = async () => {
    await sql.end();
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  };
  try {
    await migratePostgres(sql);
    await loadCardholders(sql);
    // The young ledger: 1% of the final size, every authorization settled.
    await loadHistory(sql, 1, TRANSACTIONS_LOADED / 100, false);
    await sql`ANALYZE`;
    await loadHistory(sql, TRANSACTIONS_LOADED / 100 + 1, TRANSACTIONS_LOADED, true);
  } catch (error) {
    await drop();
    throw error;
  }
  return { sql, name, drop };
}

async function loadCardholders(sql: PgSql): Promise<void> {
  await sql`INSERT INTO companies (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'plans')`;
  await sql`
    INSERT INTO users (id, company_id, user_token, email, role, status)
    SELECT gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 'plan_u_' || i, 'plan_u_' || i || '@example.com',
           'employee', 'active'
      FROM generate_series(0, ${USERS - 1}) i`;
  await sql`
    INSERT INTO cards (id, user_id, card_token, status, currency_code)
    SELECT gen_random_uuid(), u.id, 'plan_c_' || i, 'active', 'USD'
      FROM generate_series(0, ${CARDS - 1}) i JOIN users u ON u.user_token = 'plan_u_' || (i % ${USERS})`;
}

/**
 * Transactions first..last (i): odd i a pending authorization of its own group (i % 8 = 7: an
 * incremental of authorization i - 2 instead) when `pending`, else a cleared one; i % 4 = 0 a
 * cleared authorization; i % 4 = 2 the clearing of authorization i - 2. One hold per
 * authorization, spend rows per card and day, category spend and notifications in proportion.
 */
async function loadHistory(sql: PgSql, first: number, last: number, pending: boolean): Promise<void> {
  await sql`
    INSERT INTO transactions (id, jit_token, transaction_token, method, card_id, user_id, card_token,
                              amount_minor, approved_amount_minor, currency_code, status, status_code, memo,
                              mode, original_jit_token, held_amount_minor, posted_amount_minor,
                              day_window, week_window, month_window, year_window, decided_at, created_at)
    SELECT gen_random_uuid(), 'plan_j_' || i, 'plan_t_' || i, m.method, c.id, c.user_id, c.card_token,
           1000, 1000, 'USD', m.status, 0, 'approved', m.mode, m.original, m.held, m.posted,
           d::date, date_trunc('week', d)::date, date_trunc('month', d)::date, date_trunc('year', d)::date, d, d
      FROM generate_series(${first}::int, ${last}::int) i
      JOIN cards c ON c.card_token = 'plan_c_' || (i % ${CARDS})
     CROSS JOIN LATERAL (SELECT timestamptz '2026-01-01' + (i * interval '40 seconds') AS d) t
     CROSS JOIN LATERAL (
       SELECT CASE WHEN i % 2 = 1 AND ${pending} THEN 'pending' WHEN i % 4 = 2 THEN 'posted' ELSE 'completed' END AS status,
              CASE WHEN i % 8 = 7 THEN 'incremental' WHEN i % 4 = 2 THEN 'clearing' ELSE 'auth' END AS mode,
              CASE WHEN i % 8 = 7 THEN 'pgfs.authorization.incremental' WHEN i % 4 = 2 THEN 'pgfs.authorization.clearing'
                   ELSE 'pgfs.authorization' END AS method,
              CASE WHEN i % 8 = 7 OR i % 4 = 2 THEN 'plan_j_' || (i - 2) END AS original,
              CASE WHEN i % 4 = 2 THEN 0 ELSE 1000 END AS held,
              CASE WHEN i % 4 = 2 THEN 1000 ELSE 0 END AS posted) m`;
  await sql`
    INSERT INTO authorization_holds (group_token, card_id, card_token, user_token, currency_code, held_minor, state, created_at)
    SELECT 'plan_j_' || i, c.id, c.card_token, u.user_token, 'USD',
           CASE WHEN i % 2 = 1 AND ${pending} THEN 1000 ELSE 0 END,
           CASE WHEN i % 2 = 1 AND ${pending} THEN 'pending' WHEN i % 3 = 0 THEN 'reversed' ELSE 'cleared' END,
           timestamptz '2026-01-01' + (i * interval '40 seconds')
      FROM generate_series(${first}::int, ${last}::int) i
      JOIN cards c ON c.card_token = 'plan_c_' || (i % ${CARDS})
      JOIN users u ON u.id = c.user_id
     WHERE i % 2 = 1 AND i % 8 <> 7 OR i % 4 = 0`;
  const scale = (n: number) => Math.max(1, Math.round((n * (last - first + 1)) / TRANSACTIONS_LOADED));
  const day_first = Math.round((SPEND_DAYS * (first - 1)) / TRANSACTIONS_LOADED);
  const day_last = day_first + scale(SPEND_DAYS) - 1;
  await sql`
    INSERT INTO spending_controls (card_id, period, window_start, spent_minor, txn_count)
    SELECT c.id, p.period, date_trunc(p.period, date '2026-01-01' + day)::date AS w, 1000 * count(*), count(*)
      FROM cards c CROSS JOIN generate_series(${day_first}::int, ${day_last}::int) day
     CROSS JOIN (VALUES ('day'), ('week'), ('month'), ('year')) p(period)
     GROUP BY c.id, p.period, w
    ON CONFLICT (card_id, period, window_start) DO UPDATE SET spent_minor = spending_controls.spent_minor + excluded.spent_minor`;
  await sql`
    INSERT INTO category_spend (card_id, mcc_group, period, window_start, spent_minor)
    SELECT c.id, g.mcc_group, p.period, date_trunc(p.period, date '2026-01-01' + day)::date AS w, 1000 * count(*)
      FROM cards c CROSS JOIN generate_series(${day_first}::int, ${day_last}::int) day
     CROSS JOIN (VALUES ('dining'), ('travel'), ('fuel')) g(mcc_group)
     CROSS JOIN (VALUES ('day'), ('month')) p(period)
     GROUP BY c.id, g.mcc_group, p.period, w
    ON CONFLICT (card_id, mcc_group, period, window_start) DO UPDATE SET spent_minor = category_spend.spent_minor + excluded.spent_minor`;
  await sql`
    INSERT INTO marqeta_notifications (event_token, transaction_token, jit_token, original_jit_token, type, state,
                                       card_token, amount_minor, currency_code, payload, received_at)
    SELECT 'plan_n_' || i, 'plan_t_' || i, 'plan_j_' || i, NULL, 'authorization.clearing', 'CLEARED',
           'plan_c_' || (i % ${CARDS}), 1000, 'USD', '{}', now()
      FROM generate_series(${first}::int, ${last}::int) i
     WHERE i % ${TRANSACTIONS_LOADED / NOTIFICATIONS} = 0`;
}
