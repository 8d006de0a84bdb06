// Personal transactions (MongoDB `personal_transactions`, written by the worker with the
// same fields as the PostgreSQL table). Ids may be stored as ObjectIds or as their hex text.

import { ObjectId, type Db } from 'mongodb';
import type { TransactionFilter, TransactionRecord } from '../services/transaction-model.ts';
import { objectIdOrNull } from './personal-cards.ts';

type Id = ObjectId | string | null | undefined;

export interface PersonalTransactionDocument {
  _id: ObjectId;
  jit_token: string;
  transaction_token?: string;
  method?: string;
  card_id?: Id;
  user_id?: Id;
  card_token?: string;
  amount_minor: bigint | number | string;
  approved_amount_minor?: bigint | number | string;
  currency_code: string;
  merchant?: string | null;
  mcc?: string | null;
  merchant_id?: string | null;
  merchant_country?: string | null;
  status: string;
  status_code: number;
  decline_reason?: string | null;
  memo: string;
  revision?: number;
  decided_at: Date;
  created_at: Date;
  updated_at?: Date;
}

function record(doc: PersonalTransactionDocument): TransactionRecord {
  return {
    id: String(doc._id),
    kind: 'personal',
    jit_token: doc.jit_token,
    transaction_token: doc.transaction_token ?? null,
    method: doc.method ?? null,
    card_id: doc.card_id ? String(doc.card_id) : null,
    user_id: doc.user_id ? String(doc.user_id) : null,
    company_id: null,
    card_token: doc.card_token ?? null,
    amount_minor: BigInt(doc.amount_minor),
    approved_amount_minor: BigInt(doc.approved_amount_minor ?? 0),
    currency_code: doc.currency_code,
    merchant: {
      name: doc.merchant ?? null,
      mcc: doc.mcc ?? null,
      merchant_id: doc.merchant_id ?? null,
      country: doc.merchant_country ?? null,
    },
    status: doc.status,
    status_code: doc.status_code,
    decline_reason: doc.decline_reason ?? null,
    memo: doc.memo,
    revision: doc.revision ?? 1,
    decided_at: doc.decided_at,
    created_at: doc.created_at,
    updated_at: doc.updated_at ?? doc.created_at,
    cursor_at: doc.created_at.toISOString(),
  };
}

/** Matches an id field whichever way the worker stored it. */
function idMatch(id: string): { $in: Array<ObjectId | string> } {
  const oid = objectIdOrNull(id);
  return { $in: oid === null ? [id] : [oid, id] };
}

function collection(db: Db) {
  return db.collection<PersonalTransactionDocument>('personal_transactions');
}

export async function getPersonalTransaction(db: Db, id: string): Promise<TransactionRecord | null> {
  const _id = objectIdOrNull(id);
  if (_id === null) return null;
  const doc = await collection(db).findOne({ _id });
  return doc === null ? null : record(doc);
}

export async function listPersonalTransactions(
  db: Db,
  filter: TransactionFilter,
  after: { at: string; id: string } | undefined,
  limit: number,
): Promise<TransactionRecord[]> {
  const query: Record<string, unknown> = {};
  if (filter.card_id !== undefined) query.card_id = idMatch(filter.card_id);
  if (filter.user_id !== undefined) query.user_id = idMatch(filter.user_id);
  const created: Record<string, Date> = {};
  if (filter.from !== undefined) created.$gte = filter.from;
  if (filter.to !== undefined) created.$lt = filter.to;
  if (Object.keys(created).length > 0) query.created_at = created;
  if (after !== undefined) {
    const at = new Date(after.at);
    query.$and = [
      { $or: [{ created_at: { $lt: at } }, { created_at: at, _id: { $lt: new ObjectId(after.id) } }] },
    ];
  }
  const docs = await collection(db)
    .find(query)
    .sort({ created_at: -1, _id: -1 })
    .limit(limit + 1)
    .toArray();
  return docs.map(record);
}
