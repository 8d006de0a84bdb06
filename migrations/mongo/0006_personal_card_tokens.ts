// Registers every existing personal card in personal_card_tokens (see
// shared/personal-card-tokens.ts): a token lookup by `_id` instead of a collection scan.
import type { Db, ObjectId } from 'mongodb';
import { PERSONAL_CARD_TOKENS } from '../../shared/personal-card-tokens.ts';

export async function up(db: Db): Promise<void> {
  const existing = new Set((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
  if (!existing.has(PERSONAL_CARD_TOKENS)) await db.createCollection(PERSONAL_CARD_TOKENS);
  const tokens = db.collection<{ _id: string; card_id: ObjectId }>(PERSONAL_CARD_TOKENS);
  const cursor = db
    .collection<{ _id: ObjectId; card_token: string }>('personal_cards')
    .find({}, { projection: { card_token: 1 } });
  for await (const card of cursor) {
    await tokens.updateOne(
      { _id: card.card_token },
      { $setOnInsert: { card_id: card._id } },
      { upsert: true },
    );
  }
}
