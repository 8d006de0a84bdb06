// Personal cards by Marqeta card token. FerretDB answers `_id` lookups from its primary key but
// scans the collection for any other filter (measured: `findOne({card_token})` grows with the
// number of cards), so every personal card is also registered in `personal_card_tokens`
// {_id: card_token, card_id}. Whoever inserts a personal card registers its token first.

import type { Db, ObjectId } from 'mongodb';

export const PERSONAL_CARD_TOKENS = 'personal_card_tokens';

interface TokenDoc {
  _id: string;
  card_id: ObjectId;
}

export async function registerPersonalCardTokens(
  db: Db,
  cards: ReadonlyArray<{ card_token: string; _id: ObjectId }>,
): Promise<void> {
  if (cards.length === 0) return;
  await db.collection<TokenDoc>(PERSONAL_CARD_TOKENS).insertMany(
    cards.map((card) => ({ _id: card.card_token, card_id: card._id })),
    { ordered: false },
  );
}

export async function personalCardIdByToken(db: Db, card_token: string): Promise<ObjectId | null> {
  const doc = await db.collection<TokenDoc>(PERSONAL_CARD_TOKENS).findOne({ _id: card_token });
  return doc?.card_id ?? null;
}
