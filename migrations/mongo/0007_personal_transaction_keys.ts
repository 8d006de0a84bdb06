// Registers the sort key of every personal transaction written before the worker did so itself
// (shared/personal-transaction-keys.ts): the API lists personal transactions from PostgreSQL.
// One pass over the collection, in batches; re-running registers nothing twice.
import type { Db, ObjectId } from 'mongodb';
import {
  type PersonalTransactionKey,
  registerPersonalTransactionKeys,
} from '../../shared/personal-transaction-keys.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';

const BATCH_SIZE = 500;

export const needs_postgres = true;

export async function up(db: Db, sql: PgSql): Promise<void> {
  const cursor = db
    .collection<{ _id: ObjectId | string; card_id?: unknown; user_id?: unknown; created_at?: Date }>(
      'personal_transactions',
    )
    .find({}, { projection: { card_id: 1, user_id: 1, created_at: 1 } });
  let batch: PersonalTransactionKey[] = [];
  for await (const doc of cursor) {
    // A document without a card, user or time could never be listed by them: left out.
    if (!doc.card_id || !doc.user_id || !(doc.created_at instanceof Date)) continue;
    batch.push({
      transaction_id: String(doc._id),
      card_id: String(doc.card_id),
      user_id: String(doc.user_id),
      created_at: doc.created_at,
    });
    if (batch.length === BATCH_SIZE) {
      await registerPersonalTransactionKeys(sql, batch);
      batch = [];
    }
  }
  await registerPersonalTransactionKeys(sql, batch);
}
