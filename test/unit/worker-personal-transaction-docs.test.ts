import { describe, expect, it } from 'vitest';
import {
  addToNewDoc,
  newTransactionDoc,
  recordedRevisions,
  type TransactionWrite,
  transactionUpdate,
} from '../../worker/ledger/personal-transaction-docs.ts';
import { ledgerEvent } from '../support/ledger-event.ts';

const created_at = new Date('2026-01-15T10:00:00Z');
const now = new Date('2026-01-15T10:00:05Z');

function write(revision: number): TransactionWrite {
  return { event: ledgerEvent(revision), status: revision === 1 ? 'pending' : 'declined', created_at, now };
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
