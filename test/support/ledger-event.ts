// A fixed decision event for the ledger's unit tests: a personal authorization of 42.75 USD on
// 2026-01-15 (revision 1), or its void (revision 2), with the given effects.
import { effectsToJson, type LedgerEffects, NO_EFFECTS } from '../../shared/ledger-effects.ts';
import type { DecisionEvent } from '../../shared/messages.ts';

export const LEDGER_EVENT_AT = new Date('2026-01-15T10:00:00Z');

export function ledgerEvent(revision: number, effects: LedgerEffects = NO_EFFECTS): DecisionEvent {
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
      mcc_group: 'grocery',
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
    effects: effectsToJson(effects),
    revision,
    decided_at_ms: LEDGER_EVENT_AT.getTime(),
    state_order_ms: LEDGER_EVENT_AT.getTime(),
    limits_seen: null,
    outbox_id: `1-${revision}`,
  };
}
