import { ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { type LedgerEffects, NO_EFFECTS } from '../../shared/ledger-effects.ts';
import { periodStartDate } from '../../shared/spend-windows.ts';
import { recordAmounts } from '../../worker/ledger/lifecycle.ts';
import { newTransactionDoc } from '../../worker/ledger/personal-transaction-docs.ts';
import { type RecordFormat, transactionRecord } from '../../worker/ledger/transaction-record.ts';
import { ledgerEvent } from '../support/ledger-event.ts';

const CARD_ID = '65a000000000000000000001';
const USER_ID = '65a000000000000000000002';

/** As the business ledger writes a `transactions` row. */
const ROW: RecordFormat<string | null, string> = { id: (id) => id, window: periodStartDate };
/** As the personal ledger writes a `personal_transactions` document. */
const DOCUMENT: RecordFormat<ObjectId, string> = {
  id: (id) => new ObjectId(id!),
  window: (_period, window_id) => window_id,
};

const HOLD: LedgerEffects = { ...NO_EFFECTS, held_delta_minor: 4275n, hold_delta_minor: 4275n };

describe('one transaction record for both ledgers', () => {
  it('maps an event to the same fields in both stores; only ids and windows are converted', () => {
    const e = ledgerEvent(1, HOLD);
    const row = transactionRecord(e, recordAmounts(e), 'pending', ROW);
    const doc = transactionRecord(e, recordAmounts(e), 'pending', DOCUMENT);
    expect(Object.keys(doc)).toEqual(Object.keys(row));
    const converted = ['card_id', 'user_id', 'day_window', 'week_window', 'month_window', 'year_window'];
    for (const field of Object.keys(row).filter((f) => !converted.includes(f)))
      expect(doc[field as keyof typeof doc], field).toEqual(row[field as keyof typeof row]);
    expect(row).toMatchObject({ card_id: CARD_ID, user_id: USER_ID, held_amount_minor: 4275n });
    expect(String(doc.card_id)).toBe(CARD_ID);
    expect(String(doc.user_id)).toBe(USER_ID);
    expect([row.day_window, row.week_window, row.month_window, row.year_window]).toEqual([
      '2026-01-15',
      '2026-01-12',
      '2026-01-01',
      '2026-01-01',
    ]);
    expect([doc.day_window, doc.week_window, doc.month_window, doc.year_window]).toEqual([
      '20260115',
      '2026W03',
      '202601',
      '2026',
    ]);
  });

  it('a later revision holds and posts nothing of its own', () => {
    const e = ledgerEvent(2, HOLD);
    expect(transactionRecord(e, recordAmounts(e), 'declined', ROW)).toMatchObject({
      revision: 2,
      held_amount_minor: 0n,
      posted_amount_minor: 0n,
    });
  });

  it('a personal document is the record plus its id, group and revisions', () => {
    const e = ledgerEvent(1, HOLD);
    const created_at = new Date('2026-01-15T10:00:01Z');
    const doc = newTransactionDoc({ event: e, status: 'pending', created_at, now: created_at });
    expect(doc).toEqual({
      ...transactionRecord(e, recordAmounts(e), 'pending', DOCUMENT),
      _id: 'jit_a',
      group_token: 'jit_a',
      created_at,
      updated_at: created_at,
      applied_revisions: [1],
    });
  });

  it('a business decline of an unknown card keeps null ids', () => {
    const e = { ...ledgerEvent(1), card_id: null, user_id: null, kind: 'business' as const };
    expect(transactionRecord(e, recordAmounts(e), 'declined', ROW)).toMatchObject({
      card_id: null,
      user_id: null,
    });
  });
});
