// Creates business and personal cardholders with unique tokens in the real databases.
import { randomUUID } from 'node:crypto';
import { type Db, ObjectId } from 'mongodb';
import { registerPersonalCardTokens } from '../../shared/personal-card-tokens.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';

export function uniqueToken(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
}

export interface BusinessCardOptions {
  readonly card_status?: string;
  readonly user_status?: string;
  readonly currency_code?: string;
  readonly per_transaction_limit_minor?: bigint | null;
  readonly daily_limit_minor?: bigint | null;
  readonly monthly_limit_minor?: bigint | null;
  readonly mcc_allow?: string[];
  readonly mcc_block?: string[];
  readonly merchant_allow?: string[];
  readonly merchant_block?: string[];
}

export interface CreatedCard {
  readonly card_token: string;
  readonly user_token: string;
  readonly card_id: string;
  readonly user_id: string;
}

export async function createBusinessCard(
  sql: PgSql,
  options: BusinessCardOptions = {},
): Promise<CreatedCard> {
  const company_id = randomUUID();
  const user_id = randomUUID();
  const card_id = randomUUID();
  const user_token = uniqueToken('user');
  const card_token = uniqueToken('card');
  await sql.begin(async (tx) => {
    await tx`INSERT INTO companies (id, name) VALUES (${company_id}, ${`Test Co ${company_id.slice(0, 8)}`})`;
    await tx`INSERT INTO users (id, company_id, user_token, email, role, status)
             VALUES (${user_id}, ${company_id}, ${user_token}, ${`${user_token}@example.test`}, 'employee',
                     ${options.user_status ?? 'active'})`;
    await tx`INSERT INTO cards (id, user_id, card_token, status, currency_code,
                                per_transaction_limit_minor, daily_limit_minor, monthly_limit_minor)
             VALUES (${card_id}, ${user_id}, ${card_token}, ${options.card_status ?? 'active'},
                     ${options.currency_code ?? 'USD'}, ${options.per_transaction_limit_minor ?? null},
                     ${options.daily_limit_minor ?? null}, ${options.monthly_limit_minor ?? null})`;
    await tx`INSERT INTO card_controls (card_id, mcc_allow, mcc_block, merchant_allow, merchant_block)
             VALUES (${card_id}, ${options.mcc_allow ?? []}, ${options.mcc_block ?? []},
                     ${options.merchant_allow ?? []}, ${options.merchant_block ?? []})`;
  });
  return { card_token, user_token, card_id, user_id };
}

export interface PersonalCardOptions {
  readonly balance_minor: bigint;
  readonly card_status?: string;
  readonly user_status?: string;
  readonly kyc_status?: string;
  readonly currency_code?: string;
  readonly daily_limit_minor?: bigint | null;
}

export async function createPersonalCard(db: Db, options: PersonalCardOptions): Promise<CreatedCard> {
  const user_token = uniqueToken('puser');
  const card_token = uniqueToken('pcard');
  const now = new Date();
  const user = await db.collection('personal_users').insertOne({
    user_token,
    email: `${user_token}@example.test`,
    status: options.user_status ?? 'active',
    kyc_status: options.kyc_status ?? 'verified',
    created_at: now,
    updated_at: now,
  });
  const card_id = new ObjectId();
  await registerPersonalCardTokens(db, [{ _id: card_id, card_token }]);
  const card = await db.collection('personal_cards').insertOne({
    _id: card_id,
    user_id: user.insertedId,
    card_token,
    status: options.card_status ?? 'active',
    currency_code: options.currency_code ?? 'USD',
    balance_minor: options.balance_minor,
    held_minor: 0n,
    daily_limit_minor: options.daily_limit_minor ?? null,
    created_at: now,
    updated_at: now,
  });
  return { card_token, user_token, card_id: String(card.insertedId), user_id: String(user.insertedId) };
}
