import { describe, expect, it } from 'vitest';
import { effectsToJson, NO_EFFECTS } from '../../shared/ledger-effects.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import {
  addToNewDoc,
  newTransactionDoc,
  recordedRevisions,
  type TransactionWrite,
  transactionUpdate,
} from '../../worker/ledger/personal-transaction-docs.ts';

const created_at = new Date('2026-01-15T10:00:00Z');
const now = new Date('2026-01-15T10:00:05Z');

function event(revision: number): DecisionEvent {
  const approved = revision === 1;
  return {
    v: 1,
    request: {
      jit_token: 'jit_a',
      method: 'pgfs.authorization',
      transaction_token: 'txn_a',
      card_token: 'card_a',
      user_token: 'user_a',
      acting_user_token: 'user_a',
      amount_minor: '4275',
      currency_code: 'USD',
      network: 'VISA',
      merchant: { mid: '000000000011111', mcc: '5411', name: 'Grocer', country_code: 'USA' },
      day_id: '20260115',
      week_id: '2026W03',
      month_id: '202601',
      year_id: '2026',
      original_jit_token: null,
      mode: 'auth',
      mcc_group: '',
    },
    kind: 'personal',
    card_id: '65a000000000000000000001',
    user_id: '65a000000000000000000002',
    status_code: approved ? 0 : 9,
    approved,
    memo: approved ? 'approved' : 'timeout',
    decline_reason: approved ? null : 'TIMEOUT',
    approved_amount_minor: approved ? '4275' : '0',
    released_amount_minor: '0',
    available_minor: '0',
    group_token: 'jit_a',
    effects: effectsToJson(NO_EFFECTS),
    revision,
    decided_at_ms: created_at.getTime(),
    outbox_id: `1-${revision}`,
  };
}

function write(revision: number): TransactionWrite {
  return { event: event(revision), status: revision === 1 ? 'pending' : 'declined', created_at, now };
}

describe('personal transaction documents', () => {
  it('a new document carries the first revision, its times and the revision applied', () => {
    const doc = newTransactionDoc(write(1));
    expect(doc).toMatchObject({
      _id: 'jit_a',
      jit_token: 'jit_a',
      status: 'pending',
      approved_amount_minor: 4275n,
      created_at,
      updated_at: now,
      applied_revisions: [1],
    });
    expect(recordedRevisions(doc)).toEqual([1]);
  });

  it('both revisions in one batch end as the stored document would after an update', () => {
    const doc = newTransactionDoc(write(1));
    addToNewDoc(doc, write(2));
    addToNewDoc(doc, write(2));
    expect(doc.applied_revisions).toEqual([1, 2]);
    expect(doc).toMatchObject({
      status: 'declined',
      memo: 'timeout',
      approved_amount_minor: 0n,
      revision: 2,
    });
    // What the update of a stored document sets is exactly what was folded in.
    const update = transactionUpdate(write(2));
    expect(update.$addToSet).toEqual({ applied_revisions: 2 });
    for (const [field, value] of Object.entries(update.$set as Record<string, unknown>))
      expect(doc[field]).toEqual(value);
  });

  it('a late revision 1 only marks itself: the stored outcome of a later revision stays', () => {
    expect(transactionUpdate(write(1))).toEqual({ $addToSet: { applied_revisions: 1 } });
    const doc = newTransactionDoc(write(2));
    addToNewDoc(doc, write(1));
    expect(doc).toMatchObject({ status: 'declined', revision: 2, applied_revisions: [2, 1] });
  });

  it('documents of older builds without applied_revisions count revisions up to `revision`', () => {
    expect(recordedRevisions({ _id: 'jit_old', revision: 2 })).toEqual([1, 2]);
    expect(recordedRevisions(undefined)).toEqual([]);
  });
});
