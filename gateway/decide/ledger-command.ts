// Ledger changes the gateway makes on its own behalf (not a Marqeta JIT message): releasing a
// hold Marqeta timed out or declined, booking a stand-in approval, expiring an old hold. They
// run through the same decision script, as a request with a derived, idempotent JIT token.

import type { DecisionRequest, LedgerMode } from '../../shared/messages.ts';
import { windowIds } from '../../shared/spend-windows.ts';

export interface LedgerCommandInput {
  /** Derived from what causes it (e.g. `expired:<group>`): the same cause never applies twice. */
  readonly jit_token: string;
  readonly original_jit_token: string;
  readonly mode: LedgerMode;
  /** Names the cause in the ledger (e.g. `afc.release.expired`) or the original Marqeta method. */
  readonly method: string;
  readonly card_token: string;
  readonly user_token: string;
  readonly amount_minor: bigint;
  readonly currency_code: string;
}

export function ledgerCommandRequest(
  input: LedgerCommandInput,
  now_ms: number,
  time_zone: string,
): DecisionRequest {
  const windows = windowIds(now_ms, time_zone);
  return {
    jit_token: input.jit_token,
    method: input.method,
    transaction_token: input.jit_token,
    card_token: input.card_token,
    user_token: input.user_token,
    acting_user_token: input.user_token,
    amount_minor: input.amount_minor.toString(),
    currency_code: input.currency_code.trim(),
    network: null,
    merchant: { mid: null, mcc: null, name: null, country_code: null },
    day_id: windows.day_id,
    week_id: windows.week_id,
    month_id: windows.month_id,
    year_id: windows.year_id,
    original_jit_token: input.original_jit_token,
    mode: input.mode,
    mcc_group: '',
  };
}
