// Personal transactions (MongoDB `personal_transactions`, written by the worker with the
// same fields as the PostgreSQL table), read by `_id` only: listings page through their keys
// in PostgreSQL (shared/personal-transaction-keys.ts). Card and user ids may be stored as
// ObjectIds or as their hex text.

import type { Db, ObjectId } from 'mongodb';
import { inParallel } from '../../shared/in-parallel.ts';
import type { TransactionRecord } from '../services/transaction-model.ts';
import { objectIdOrNull } from './personal-cards.ts';

type Id = ObjectId | string | null | undefined;

/** Document reads in flight at once for one page. */
const LOOKUPS_IN_PARALLEL_MAX = 16;

export interface PersonalTransactionDocument {
  _id: ObjectId | string;
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
  limits_seen?: string | null;
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
    limits_seen: doc.limits_seen ?? null,
    revision: doc.revision ?? 1,
    decided_at: doc.decided_at,
    created_at: doc.created_at,
    updated_at: doc.updated_at ?? doc.created_at,
    cursor_at: doc.created_at.toISOString(),
  };
}

function collection(db: Db) {
  return db.collection<PersonalTransactionDocument>('personal_transactions');
}

/** By `_id`: the JIT token, or (documents of old builds) an ObjectId. */
export async function getPersonalTransaction(db: Db, id: string): Promise<TransactionRecord | null> {
  const doc = await collection(db).findOne({ _id: id });
  if (doc !== null) return record(doc);
  const oid = objectIdOrNull(id);
  const old = oid === null ? null : await collection(db).findOne({ _id: oid });
  return old === null ? null : record(old);
}

/**
 * The documents of `ids`, in that order (ids without a document, e.g. a key the worker
 * registered just before writing the document, are left out). One `_id` equality each:
 * FerretDB scans the collection for `$in` (shared/stores/find-by-ids.ts).
 */
export async function personalTransactionsByIds(
  db: Db,
  ids: readonly string[],
): Promise<TransactionRecord[]> {
  const found = new Map<string, TransactionRecord>();
  await inParallel(ids, LOOKUPS_IN_PARALLEL_MAX, async (id) => {
    const doc = await getPersonalTransaction(db, id);
    if (doc !== null) found.set(id, doc);
  });
  return ids.flatMap((id) => found.get(id) ?? []);
}
