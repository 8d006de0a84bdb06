// Personal data collections and their indexes. Balances and holds are integer minor units.
import type { Db } from 'mongodb';

export async function up(db: Db): Promise<void> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  for (const name of ['personal_users', 'personal_cards', 'personal_transactions']) {
    if (!existing.has(name)) await db.createCollection(name);
  }
  await db.collection('personal_users').createIndexes([
    { key: { user_token: 1 }, name: 'user_token_unique', unique: true },
    { key: { email: 1 }, name: 'email_unique', unique: true },
  ]);
  await db.collection('personal_cards').createIndexes([
    { key: { card_token: 1 }, name: 'card_token_unique', unique: true },
    { key: { user_id: 1, status: 1 }, name: 'user_status' },
  ]);
  await db.collection('personal_transactions').createIndexes([
    { key: { jit_token: 1 }, name: 'jit_token_unique', unique: true },
    { key: { user_id: 1, created_at: -1 }, name: 'user_created' },
    { key: { card_id: 1, created_at: -1 }, name: 'card_created' },
  ]);
}
