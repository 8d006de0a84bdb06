// The statements the worker runs per batch, reconciliation per batch of cards and the API per
// request read the ledger by key whatever the statistics say: checked with EXPLAIN on a private
// database holding 200,000 transactions (half pending) whose statistics were taken when it was
// young, as autovacuum-off PostgreSQL keeps them (test/support/plan-ledger.ts), and again with
// none (a table never analyzed). Each statement is built by its own module; nothing here copies
// SQL text.
import { randomUUID } from 'node:crypto';
import type { Fragment } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  businessTransactionStatement,
  businessTransactionsStatement,
} from '../../api/repos/business-transactions.ts';
import type { TransactionFilter } from '../../api/services/transaction-model.ts';
import {
  addCategorySpend,
  addHolds,
  addSpend,
  insertFirstRevisions,
  insertVoids,
  type LedgerTx,
  type Settlement,
  authorizationsOf,
  pendingFollowers,
  settledGroups,
  settleRecords,
} from '../../worker/ledger/business-statements.ts';
import {
  businessCardsStatement,
  categorySpendStatement,
  spendStatement,
} from '../../worker/reconcile/durable-ledger.ts';
import { SCAN_BATCH } from '../../worker/reconcile/live-ledger.ts';
import {
  bookedTokensStatement,
  heldGroupsStatement,
  notificationsStatement,
} from '../../worker/reconcile/notification-checks.ts';
import { explain, growingReads, LEDGER_TABLES } from '../support/plan-check.ts';
import { createPlanDatabase, type PlanDatabase, planTokens } from '../support/plan-ledger.ts';

/** Decisions in one batch: the relay's default batch (RELAY_BATCH_MAX). */
const BATCH = 256;
const PERIODS = ['day', 'week', 'month', 'year', 'all'];

let db: PlanDatabase;
let card: { id: string; user_id: string; company_id: string };
let cards: { id: string; user_id: string; card_token: string }[];

beforeAll(async () => {
  db = await createPlanDatabase(process.env.DATABASE_URL!);
  cards = await db.sql<typeof cards>`SELECT id, user_id, card_token FROM cards ORDER BY card_token`;
  const [found] = await db.sql<(typeof card)[]>`
    SELECT c.id, c.user_id, u.company_id FROM cards c JOIN users u ON u.id = c.user_id
     WHERE c.card_token = ${planTokens.card(7)}`;
  card = found!;
}, 300_000);

afterAll(async () => {
  await db?.drop();
});

/** The growing reads in the plan of the statement `build` makes (on the given transaction). */
/**
 * Planned twice: on the stale statistics, and with none at all (a table never analyzed, as a
 * fresh database with autovacuum off: the planner then assumes 0.5% of the rows match any
 * equality, which made an index probe per batch key look dearer than one scan of the table).
 * The statistics are removed in a transaction that is rolled back. Each read is named with
 * the statistics it was planned on.
 */
async function readsOf(build: (tx: LedgerTx) => Fragment): Promise<string[]> {
  const stale = growingReads(await db.sql.begin((tx) => explain(tx, build(tx))));
  let none: string[] = [];
  await db.sql
    .begin(async (tx) => {
      await tx`DELETE FROM pg_statistic WHERE starelid = ANY(${[...LEDGER_TABLES]}::regclass[])`;
      none = growingReads(await explain(tx, build(tx)));
      throw ROLLBACK;
    })
    .catch((error: unknown) => {
      if (error !== ROLLBACK) throw error;
    });
  return [
    ...stale.map((read) => `stale statistics: ${read}`),
    ...none.map((read) => `no statistics: ${read}`),
  ];
}
const ROLLBACK = Symbol('rollback');

/** Pending authorizations of the loaded history (odd i, not incrementals), one per decision. */
function pendingGroups(): string[] {
  const tokens: string[] = [];
  for (let i = 150_001; tokens.length < BATCH; i += 2) if (i % 8 !== 7) tokens.push(planTokens.jit(i));
  return tokens;
}

function decisionRows(revision: 1 | 2) {
  return Array.from({ length: BATCH }, (_, i) => {
    const owner = cards[i % cards.length]!;
    return {
      id: randomUUID(),
      jit_token: `plan_new_${randomUUID()}`,
      transaction_token: `plan_new_t_${i}`,
      method: 'pgfs.authorization',
      card_id: owner.id,
      user_id: owner.user_id,
      card_token: owner.card_token,
      amount_minor: 1000n,
      approved_amount_minor: revision === 1 ? 1000n : 0n,
      currency_code: 'USD',
      status: revision === 1 ? 'pending' : 'declined',
      status_code: revision === 1 ? 0 : 14,
      memo: revision === 1 ? 'approved' : 'timeout',
      revision,
      applied_revisions: revision,
      day_window: '2026-04-01',
      month_window: '2026-04-01',
      decided_at: new Date('2026-04-01T12:00:00Z'),
    };
  });
}

describe('a business batch reads the ledger by its keys', () => {
  it('records the batch with upserts on unique keys', async () => {
    expect(await readsOf((tx) => insertFirstRevisions(tx, decisionRows(1)))).toEqual([]);
    expect(await readsOf((tx) => insertVoids(tx, decisionRows(2)))).toEqual([]);
  });

  it('adds spend, category spend and holds with upserts on primary keys', async () => {
    const spend = cards.slice(0, BATCH).flatMap((c) =>
      PERIODS.map((period) => ({
        card_id: c.id,
        period,
        window_start: '2026-04-01',
        spent_minor: 1000n,
        txn_count: 1,
      })),
    );
    expect(await readsOf((tx) => addSpend(tx, spend))).toEqual([]);
    const category = spend.map(({ txn_count: _, ...row }) => ({ ...row, mcc_group: 'dining' }));
    expect(await readsOf((tx) => addCategorySpend(tx, category))).toEqual([]);
    const holds = pendingGroups().map((group_token, i) => ({
      group_token,
      card_id: cards[i]!.id,
      card_token: cards[i]!.card_token,
      user_token: 'plan_u_0',
      currency_code: 'USD',
      held_minor: -1000n,
      state: 'cleared',
      state_decided_at_ms: Date.parse('2026-04-01T12:00:00Z'),
      created_at: new Date('2026-04-01T12:00:00Z'),
    }));
    expect(await readsOf((tx) => addHolds(tx, holds))).toEqual([]);
  });

  it('settles the records of its groups by JIT token and by original JIT token, never by scanning pending rows', async () => {
    const groups = pendingGroups();
    expect(await readsOf((tx) => settledGroups(tx, groups))).toEqual([]);
    const settlements: Settlement[] = groups.map((group_token) => ({ group_token, status: 'completed' }));
    expect(await readsOf((tx) => pendingFollowers(tx, settlements))).toEqual([]);
    const followers = settlements.map((s) => ({
      jit_token: `${s.group_token}_incremental`,
      status: s.status,
    }));
    expect(
      await readsOf((tx) => settleRecords(tx, [...authorizationsOf(settlements), ...followers])),
    ).toEqual([]);
  });
});

describe('reconciliation reads a batch of cards by key', () => {
  it('reads the cards, their pending holds and their spend windows by key', async () => {
    const batch = cards.slice(0, SCAN_BATCH);
    const tokens = batch.map((c) => c.card_token);
    expect(await readsOf(() => businessCardsStatement(db.sql, tokens))).toEqual([]);
    const spend_keys = batch.flatMap((c) =>
      PERIODS.map((period) => ({ card_id: c.id, period, start: '2026-04-01' })),
    );
    expect(await readsOf(() => spendStatement(db.sql, spend_keys))).toEqual([]);
    const group_keys = batch.flatMap((c) =>
      ['dining', 'travel', 'fuel'].flatMap((group) =>
        ['day', 'month'].map((period) => ({ card_id: c.id, group, period, start: '2026-04-01' })),
      ),
    );
    expect(await readsOf(() => categorySpendStatement(db.sql, group_keys))).toEqual([]);
  });

  it('checks notifications in keyset batches and looks their groups and bookings up by key', async () => {
    const tokens = cards.slice(0, SCAN_BATCH).map((c) => c.card_token);
    for (const scope of [null, tokens.slice(0, 1), tokens]) {
      expect(await readsOf(() => notificationsStatement(db.sql, 'plan_n_1', scope))).toEqual([]);
    }
    const groups = pendingGroups();
    expect(await readsOf(() => heldGroupsStatement(db.sql, groups))).toEqual([]);
    const standins = groups.map((g) => `standin:${g}`);
    expect(await readsOf(() => bookedTokensStatement(db.sql, standins))).toEqual([]);
  });
});

describe('the management API reads business transactions by key or a bounded ordered page', () => {
  it('gets one transaction by id', async () => {
    expect(await readsOf(() => businessTransactionStatement(db.sql, randomUUID()))).toEqual([]);
  });

  it('lists a page by card, by cardholder, by company or program-wide, first and next pages', async () => {
    const after = { at: '2026-02-01 00:00:00+00', id: randomUUID() };
    const filters: TransactionFilter[] = [
      { card_id: card.id },
      { user_id: card.user_id },
      { company_id: card.company_id },
      {},
      { card_id: card.id, from: new Date('2026-01-15T00:00:00Z'), to: new Date('2026-02-15T00:00:00Z') },
    ];
    for (const filter of filters) {
      for (const cursor of [undefined, after]) {
        const reads = await readsOf(() => businessTransactionsStatement(db.sql, filter, cursor, 50));
        expect({ filter, cursor, reads }).toEqual({ filter, cursor, reads: [] });
      }
    }
  });
});

describe('our PostgreSQL connections', () => {
  it('never JIT-compile a plan (shared/stores/postgres.ts): every statement reads a few rows by key', async () => {
    const [row] = await db.sql<{ jit: string }[]>`SHOW jit`;
    expect(row!.jit).toBe('off');
  });
});
