// Authorization groups of personal cards (see migrations/postgres/0008_holds.sql): _id is the
// original JIT token; held_minor, state, card_token, user_token, currency_code, created_at.
import type { Db } from 'mongodb';

export async function up(db: Db): Promise<void> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  if (!existing.has('personal_holds')) await db.createCollection('personal_holds');
  await db.collection('personal_holds').createIndexes([
    { key: { state: 1, created_at: 1 }, name: 'state_created' },
    { key: { card_token: 1, state: 1 }, name: 'card_state' },
  ]);
}
