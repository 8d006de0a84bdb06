// The chaos program: a few hundred cards with tight money, so limits and balances are reached
// during a run and a fault that let an approval through twice would show as spend beyond them.
// Tokens are the bench simulator's (bench/simulator/cards.ts), so its traffic generator drives
// them: ordinary cards (every 4th personal) and the must-decline pools (over the per-transaction
// limit, blocked MCC, inactive).

import { randomUUID } from 'node:crypto';
import { type Db, ObjectId } from 'mongodb';
import { registerPersonalCardTokens } from '../shared/personal-card-tokens.ts';
import type { PgSql } from '../shared/stores/postgres.ts';
import {
  BLOCKED_MCC,
  OVER_LIMIT_PER_TRANSACTION_MINOR,
  ordinaryCard,
  type SimCard,
  SPECIAL_POOL_SIZE,
  specialCard,
} from '../bench/simulator/cards.ts';

/** Business cards: what a day may spend (the simulator's purchases are 1.00 .. 200.00). */
export const DAILY_LIMIT_MINOR = 40_000n;
export const MONTHLY_LIMIT_MINOR = 1_000_000n;
/** Personal cards: funds loaded. */
export const BALANCE_MINOR = 30_000n;

export interface SeededCard {
  readonly card: SimCard;
  readonly card_id: string;
  readonly kind: 'business' | 'personal';
}

interface CardSpec {
  readonly card: SimCard & { kind: 'business' | 'personal' };
  readonly status: 'active' | 'suspended';
  readonly per_transaction_limit_minor: bigint | null;
  readonly mcc_block: readonly string[];
}

function* specs(run_id: string, ordinary_count: number): Generator<CardSpec> {
  const plain = { status: 'active', per_transaction_limit_minor: null, mcc_block: [] } as const;
  for (let i = 0; i < ordinary_count; i++) {
    yield { ...plain, card: ordinaryCard(run_id, i) as CardSpec['card'] };
  }
  for (let i = 0; i < SPECIAL_POOL_SIZE; i++) {
    yield {
      ...plain,
      card: specialCard(run_id, 'over_limit', i) as CardSpec['card'],
      per_transaction_limit_minor: OVER_LIMIT_PER_TRANSACTION_MINOR,
    };
    yield {
      ...plain,
      card: specialCard(run_id, 'blocked_mcc', i) as CardSpec['card'],
      mcc_block: [BLOCKED_MCC],
    };
    yield { ...plain, card: specialCard(run_id, 'inactive', i) as CardSpec['card'], status: 'suspended' };
  }
}

async function seedBusiness(sql: PgSql, run_id: string, cards: readonly CardSpec[]): Promise<SeededCard[]> {
  const company_id = randomUUID();
  const rows = cards.map((spec) => ({ spec, user_id: randomUUID(), card_id: randomUUID() }));
  await sql.begin(async (tx) => {
    await tx`INSERT INTO companies (id, name) VALUES (${company_id}, ${`chaos ${run_id}`})`;
    await tx`INSERT INTO users ${tx(
      rows.map((r) => ({
        id: r.user_id,
        company_id,
        user_token: r.spec.card.user_token,
        email: `${r.spec.card.user_token}@chaos.test`,
        role: 'employee',
        status: 'active',
      })),
    )}`;
    await tx`INSERT INTO cards ${tx(
      rows.map((r) => ({
        id: r.card_id,
        user_id: r.user_id,
        card_token: r.spec.card.card_token,
        status: r.spec.status,
        currency_code: 'USD',
        per_transaction_limit_minor: r.spec.per_transaction_limit_minor,
        daily_limit_minor: DAILY_LIMIT_MINOR,
        monthly_limit_minor: MONTHLY_LIMIT_MINOR,
      })),
    )}`;
    await tx`INSERT INTO card_controls ${tx(
      rows.map((r) => ({ card_id: r.card_id, mcc_block: r.spec.mcc_block as string[] })),
    )}`;
  });
  return rows.map((r) => ({ card: r.spec.card, card_id: r.card_id, kind: 'business' }));
}

async function seedPersonal(db: Db, run_id: string, cards: readonly CardSpec[]): Promise<SeededCard[]> {
  const now = new Date();
  const rows = cards.map((spec) => ({ spec, user_id: new ObjectId(), card_id: new ObjectId() }));
  await db.collection('personal_users').insertMany(
    rows.map((r) => ({
      _id: r.user_id,
      user_token: r.spec.card.user_token,
      email: `${r.spec.card.user_token}@chaos.test`,
      status: 'active',
      kyc_status: 'verified',
      chaos_run: run_id,
      created_at: now,
      updated_at: now,
    })),
  );
  await registerPersonalCardTokens(
    db,
    rows.map((r) => ({ _id: r.card_id, card_token: r.spec.card.card_token })),
  );
  await db.collection('personal_cards').insertMany(
    rows.map((r) => ({
      _id: r.card_id,
      user_id: r.user_id,
      card_token: r.spec.card.card_token,
      status: r.spec.status,
      currency_code: 'USD',
      balance_minor: BALANCE_MINOR,
      held_minor: 0n,
      per_transaction_limit_minor: r.spec.per_transaction_limit_minor,
      mcc_block: r.spec.mcc_block,
      chaos_run: run_id,
      created_at: now,
      updated_at: now,
    })),
  );
  return rows.map((r) => ({ card: r.spec.card, card_id: r.card_id.toHexString(), kind: 'personal' }));
}

/** Seeds `ordinary_count` ordinary cards plus the must-decline pools; returns every card seeded. */
export async function seedChaosCards(
  sql: PgSql,
  db: Db,
  run_id: string,
  ordinary_count: number,
): Promise<SeededCard[]> {
  const all = [...specs(run_id, ordinary_count)];
  const [business, personal] = await Promise.all([
    seedBusiness(
      sql,
      run_id,
      all.filter((s) => s.card.kind === 'business'),
    ),
    seedPersonal(
      db,
      run_id,
      all.filter((s) => s.card.kind === 'personal'),
    ),
  ]);
  return [...business, ...personal];
}
