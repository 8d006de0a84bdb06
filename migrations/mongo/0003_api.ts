// Management API: idempotent balance loads and cursor pagination (newest first).
import type { Db } from 'mongodb';

export async function up(db: Db): Promise<void> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  if (!existing.has('personal_balance_loads')) await db.createCollection('personal_balance_loads');
  await db.collection('personal_balance_loads').createIndexes([
    // One load per card and client Idempotency-Key.
    { key: { card_id: 1, idempotency_key: 1 }, name: 'card_idempotency_unique', unique: true },
  ]);
  await db
    .collection('personal_users')
    .createIndexes([{ key: { created_at: -1, _id: -1 }, name: 'created' }]);
  await db.collection('personal_cards').createIndexes([
    { key: { created_at: -1, _id: -1 }, name: 'created' },
    { key: { user_id: 1, created_at: -1, _id: -1 }, name: 'user_created' },
  ]);
}
