// Personal cards keep postings apart from loaded funds: posted_net_minor (int64, debits negative,
// refunds positive). Available = balance_minor + posted_net_minor - held_minor.
import type { Db } from 'mongodb';

export async function up(db: Db): Promise<void> {
  await db
    .collection('personal_cards')
    .updateMany({ posted_net_minor: { $exists: false } }, { $set: { posted_net_minor: 0n } });
}
