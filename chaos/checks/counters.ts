// Redis holds and spend counters == the durable ledger, card by card: what the gateway decides
// on must be what the worker persisted, once every decision is drained. Compares the live
// ledger hash of each card used in the run with PostgreSQL (`spending_controls` day and month,
// `authorization_holds`) or the MongoDB card document (held, day and month spend).

import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { ObjectId } from 'mongodb';
import { decisionKeys, type KeyLayout } from '../../shared/redis-keys.ts';
import { periodStartDate } from '../../shared/spend-windows.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { SeededCard } from '../cards.ts';
import type { Findings } from './findings.ts';

interface LiveLedger {
  readonly held: bigint;
  readonly day_window: string;
  readonly day_minor: bigint;
  readonly day_count: number;
  readonly month_window: string;
  readonly month_minor: bigint;
}

interface DurableLedger {
  readonly held: bigint;
  readonly day_minor: bigint;
  /** null where the store keeps no count (personal cards). */
  readonly day_count: number | null;
  readonly month_minor: bigint;
}

async function liveLedgers(redis: Redis, layout: KeyLayout, cards: readonly SeededCard[]) {
  const pipeline = redis.pipeline();
  for (const seeded of cards) {
    const keys = decisionKeys(layout, seeded.card.user_token, seeded.card.card_token, 'counters-check');
    pipeline.hmget(keys.ledger, 'held', 'dw', 'ds', 'dn', 'mw', 'ms');
  }
  const replies = (await pipeline.exec()) ?? [];
  const live = new Map<string, LiveLedger>();
  for (const [i, seeded] of cards.entries()) {
    const [held, dw, ds, dn, mw, ms] = (replies[i]?.[1] ?? []) as Array<string | null>;
    // No live hash: the card was never decided on in this run.
    if (held === null || held === undefined) continue;
    live.set(seeded.card_id, {
      held: BigInt(held),
      day_window: dw ?? '',
      day_minor: BigInt(ds ?? '0'),
      day_count: Number(dn ?? '0'),
      month_window: mw ?? '',
      month_minor: BigInt(ms ?? '0'),
    });
  }
  return live;
}

async function businessLedgers(sql: PgSql, card_ids: string[], day_start: string, month_start: string) {
  const rows = await sql<
    { card_id: string; held: bigint; day_minor: bigint; day_count: number; month_minor: bigint }[]
  >`
    SELECT c.id AS card_id,
           -- Every group's remaining hold, whatever its state: Redis's card total counts an
           -- incremental made after a full reversal too (its group stays 'reversed').
           (SELECT coalesce(sum(held_minor), 0)::bigint FROM authorization_holds h
             WHERE h.card_id = c.id) AS held,
           coalesce(d.spent_minor, 0)::bigint AS day_minor, coalesce(d.txn_count, 0)::int AS day_count,
           coalesce(m.spent_minor, 0)::bigint AS month_minor
      FROM cards c
      LEFT JOIN spending_controls d ON d.card_id = c.id AND d.period = 'day' AND d.window_start = ${day_start}::date
      LEFT JOIN spending_controls m ON m.card_id = c.id AND m.period = 'month' AND m.window_start = ${month_start}::date
     WHERE c.id = ANY(${card_ids}::uuid[])`;
  return new Map<string, DurableLedger>(rows.map((r) => [r.card_id, r]));
}

interface PersonalCardLedger {
  _id: ObjectId;
  held_minor?: bigint | number;
  spend_day_window?: string;
  spend_day_minor?: bigint | number;
  spend_month_window?: string;
  spend_month_minor?: bigint | number;
}

async function personalLedgers(db: Db, card_ids: string[], day_id: string, month_id: string) {
  const docs = await db
    .collection<PersonalCardLedger>('personal_cards')
    .find(
      { _id: { $in: card_ids.map((id) => new ObjectId(id)) } },
      { projection: { held_minor: 1, spend_day_window: 1, spend_day_minor: 1, spend_month_window: 1, spend_month_minor: 1 } },
    )
    .toArray();
  return new Map<string, DurableLedger>(
    docs.map((d) => [
      d._id.toHexString(),
      {
        held: BigInt(d.held_minor ?? 0),
        day_minor: d.spend_day_window === day_id ? BigInt(d.spend_day_minor ?? 0) : 0n,
        day_count: null,
        month_minor: d.spend_month_window === month_id ? BigInt(d.spend_month_minor ?? 0) : 0n,
      },
    ]),
  );
}

export async function checkCounters(
  redis: Redis,
  sql: PgSql,
  db: Db,
  layout: KeyLayout,
  cards: readonly SeededCard[],
  findings: Findings,
): Promise<number> {
  const live = await liveLedgers(redis, layout, cards);
  const used = cards.filter((c) => live.has(c.card_id));
  // Every live hash of the run carries the same windows (a run is seconds long).
  const any = live.values().next().value;
  if (any === undefined) return 0;
  const durable = new Map([
    ...(await businessLedgers(
      sql,
      used.filter((c) => c.kind === 'business').map((c) => c.card_id),
      periodStartDate('day', any.day_window),
      periodStartDate('month', any.month_window),
    )),
    ...(await personalLedgers(
      db,
      used.filter((c) => c.kind === 'personal').map((c) => c.card_id),
      any.day_window,
      any.month_window,
    )),
  ]);
  for (const seeded of used) {
    const redis_side = live.get(seeded.card_id)!;
    const ledger = durable.get(seeded.card_id);
    const token = seeded.card.card_token;
    if (ledger === undefined) {
      findings.fail('card missing from the durable ledger', token);
      continue;
    }
    const differences: string[] = [];
    if (redis_side.held !== ledger.held) differences.push(`held ${redis_side.held} vs ${ledger.held}`);
    if (redis_side.day_minor !== ledger.day_minor) differences.push(`day ${redis_side.day_minor} vs ${ledger.day_minor}`);
    if (ledger.day_count !== null && redis_side.day_count !== ledger.day_count)
      differences.push(`day count ${redis_side.day_count} vs ${ledger.day_count}`);
    if (redis_side.month_minor !== ledger.month_minor)
      differences.push(`month ${redis_side.month_minor} vs ${ledger.month_minor}`);
    if (differences.length > 0)
      findings.fail(`Redis != ledger (${seeded.kind})`, `${token}: ${differences.join(', ')} (Redis vs ledger)`);
  }
  return used.length;
}
