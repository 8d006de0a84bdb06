// The personal ledger's batch paths that the message-level tests do not reach: a hold that
// exists although its group's authorization is new (the group's reversal was persisted first),
// two workers writing overlapping batches at once (one lock set each, taken in one order), and a
// card with more events in one batch than one write applies (written in rounds).
import { ObjectId } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { effectsToJson, NO_EFFECTS } from '../../shared/ledger-effects.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { connectMongo } from '../../shared/stores/mongo.ts';
import { connectPostgres } from '../../shared/stores/postgres.ts';
import { PersonalLedger } from '../../worker/ledger/personal-ledger.ts';
import { CARD_EVENTS_PER_ROUND_MAX } from '../../worker/ledger/personal-write-rounds.ts';
import { createPersonalCard, uniqueToken } from '../support/cardholders.ts';
import { decisionEvent } from '../support/worker-harness.ts';

const sql = connectPostgres({ url: process.env.DATABASE_URL!, application_name: 'afc-test-personal-ledger' });
const mongo = connectMongo({ uri: process.env.MONGODB_URI!, app_name: 'afc-test-personal-ledger' });
const db = mongo.db();

afterAll(async () => {
  await sql.end();
  await mongo.close();
});

function reversalOf(auth: DecisionEvent, amount_minor: bigint): DecisionEvent {
  return {
    ...auth,
    request: {
      ...auth.request,
      jit_token: uniqueToken('jit'),
      method: 'pgfs.authorization.reversal',
      mode: 'reversal',
      original_jit_token: auth.request.jit_token,
    },
    group_token: auth.request.jit_token,
    approved_amount_minor: amount_minor.toString(),
    effects: effectsToJson({
      ...NO_EFFECTS,
      held_delta_minor: -amount_minor,
      hold_delta_minor: -amount_minor,
      hold_state: 'reversed',
    }),
    decided_at_ms: auth.decided_at_ms + 1,
    state_order_ms: auth.decided_at_ms + 1,
  };
}

async function card(card_id: string) {
  return db.collection('personal_cards').findOne({ _id: new ObjectId(card_id) });
}

describe('personal ledger batches', () => {
  it('a reversal persisted before its authorization: the hold is updated, the record settles', async () => {
    const c = await createPersonalCard(db, { balance_minor: 100_000n });
    const auth = decisionEvent({ card: c, kind: 'personal', amount_minor: 700n });
    const reversal = reversalOf(auth, 700n);
    const ledger = new PersonalLedger(db, sql);
    await ledger.write([reversal]);
    await ledger.write([auth]);
    await ledger.write([auth, reversal]); // a redelivery of both changes nothing
    const hold = await db.collection('personal_holds').findOne({ _id: auth.request.jit_token } as object);
    expect(hold).toMatchObject({ held_minor: 0n, state: 'reversed' });
    expect(hold!.applied).toHaveLength(2);
    const record = await db
      .collection('personal_transactions')
      .findOne({ _id: auth.request.jit_token } as object);
    expect(record).toMatchObject({ status: 'reversed', applied_revisions: [1] });
    expect(await card(c.card_id)).toMatchObject({ held_minor: 0n, spend_all_minor: 700n });
  });

  it('two workers writing overlapping batches at once apply each decision once', async () => {
    const cards = await Promise.all(
      Array.from({ length: 4 }, () => createPersonalCard(db, { balance_minor: 1_000_000n })),
    );
    const events = Array.from({ length: 40 }, (_, i) =>
      decisionEvent({ card: cards[i % cards.length]!, kind: 'personal', amount_minor: BigInt(100 + i) }),
    );
    const [a, b] = [new PersonalLedger(db, sql), new PersonalLedger(db, sql)];
    await Promise.all([a.write(events), b.write([...events].reverse()), a.write(events.slice(0, 10))]);
    for (const [i, c] of cards.entries()) {
      const mine = events.filter((_, j) => j % cards.length === i);
      const held = mine.reduce((sum, e) => sum + BigInt(e.request.amount_minor), 0n);
      expect(await card(c.card_id)).toMatchObject({ held_minor: held, spend_all_count: mine.length });
    }
    const docs = await Promise.all(
      events.map((e) =>
        db.collection('personal_transactions').findOne({ _id: e.request.jit_token } as object),
      ),
    );
    expect(docs.map((d) => d?.applied_revisions)).toEqual(events.map(() => [1]));
  });

  it('a card with more events in a batch than one write applies: written in rounds, each once', async () => {
    const c = await createPersonalCard(db, { balance_minor: 10_000_000n });
    const auths = Array.from({ length: 2 * CARD_EVENTS_PER_ROUND_MAX + 5 }, (_, i) =>
      decisionEvent({ card: c, kind: 'personal', amount_minor: BigInt(10 + i) }),
    );
    // One group with more keys than a hold keeps in one write: the first authorization's reversals.
    const reversals = Array.from({ length: CARD_EVENTS_PER_ROUND_MAX + 3 }, () => reversalOf(auths[0]!, 0n));
    const events = [...auths, ...reversals];
    const extra_rounds: number[] = [];
    const ledger = new PersonalLedger(db, sql, (rounds) => extra_rounds.push(rounds));
    await ledger.write(events);
    await ledger.write(events); // a redelivery of the whole batch changes nothing
    expect(extra_rounds[0]).toBe(Math.ceil(events.length / CARD_EVENTS_PER_ROUND_MAX) - 1);
    const held = auths.reduce((sum, e) => sum + BigInt(e.request.amount_minor), 0n);
    expect(await card(c.card_id)).toMatchObject({ held_minor: held, spend_all_count: auths.length });
    const docs = await Promise.all(
      events.map((e) =>
        db.collection('personal_transactions').findOne({ _id: e.request.jit_token } as object),
      ),
    );
    expect(docs.map((d) => d?.applied_revisions)).toEqual(events.map(() => [1]));
  });
});
