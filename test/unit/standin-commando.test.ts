// The stand-in pieces that cross a boundary or decide something: the ledger action the gateway
// writes and reconciliation reads (shared/standin-action.ts), and the simulated Commando's rules
// (fake-marqeta/commando.ts).
import { describe, expect, it } from 'vitest';
import {
  isUndecided,
  jitSummary,
  MARQETA_TIMEOUT_MS,
  parseStandinRule,
  standIn,
  standinNotification,
} from '../../fake-marqeta/commando.ts';
import { parseStandinAction, standinAction } from '../../shared/standin-action.ts';
import { ledgerCommands, type MarqetaTransaction } from '../../gateway/webhooks/notification-ledger.ts';
import { jitRequest } from '../support/jit-requests.ts';

describe('book_standin ledger action', () => {
  it('reads back what the gateway wrote, and an action from before the over-limit part as 0 beyond', () => {
    expect(parseStandinAction(standinAction(2_500n, 1_500n))).toEqual({
      booked_minor: 2_500n,
      over_limit_minor: 1_500n,
    });
    expect(parseStandinAction('book_standin:2500')).toEqual({ booked_minor: 2_500n, over_limit_minor: 0n });
    expect(parseStandinAction('release_timed_out:2500')).toBeNull();
    expect(parseStandinAction('book_standin_refused:card_not_found')).toBeNull();
  });
});

describe('simulated Commando Mode', () => {
  const body = jitRequest({ card_token: 'card_1', user_token: 'user_1', amount: 25, jit_token: 'jit_1' });
  const summary = jitSummary(body, 2_500n)!;

  it('stands in for connection errors, 5xx and answers past 3 s, never for our 200 or 402', () => {
    expect(isUndecided(null, 10)).toBe(true);
    expect(isUndecided(503, 10)).toBe(true);
    expect(isUndecided(500, 10)).toBe(true);
    expect(isUndecided(200, MARQETA_TIMEOUT_MS + 1)).toBe(true);
    expect(isUndecided(200, 10)).toBe(false);
    expect(isUndecided(402, 10)).toBe(false);
  });

  it('approves a purchase up to the rule amount, declines above it or by rule, skips other methods', () => {
    expect(standIn(parseStandinRule('approve:2500'), summary)).toBe(true);
    expect(standIn(parseStandinRule('approve:2499'), summary)).toBe(false);
    expect(standIn(parseStandinRule('decline'), summary)).toBe(false);
    expect(
      standIn(parseStandinRule('approve:9999'), { ...summary, method: 'pgfs.authorization.reversal' }),
    ).toBe(null);
    expect(() => parseStandinRule('approve:1.5')).toThrow(RangeError);
  });

  it('notifies what the gateway books as a stand-in (COMMANDO_AUTO, MANAGED_JIT) or nothing for a decline', () => {
    const approved = standinNotification(summary, true) as MarqetaTransaction;
    expect(ledgerCommands(approved)).toMatchObject([
      {
        action: 'book_standin',
        jit_token: 'standin:jit_1',
        mode: 'force_auth',
        amount: 25,
        card_token: 'card_1',
      },
    ]);
    expect(ledgerCommands(standinNotification(summary, false) as MarqetaTransaction)).toEqual([]);
  });
});
