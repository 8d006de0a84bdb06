// Marqeta JIT Funding methods -> what the message does to our ledger (shared/messages.ts
// LedgerMode). Which methods reach the gateway and which only arrive as notifications is
// unconfirmed, so every money-moving method is handled wherever it arrives. Methods not
// listed here are declined as `unsupported_method` (and logged).

import type { LedgerMode } from '../../shared/messages.ts';

const MODES: Readonly<Record<string, LedgerMode>> = Object.freeze({
  'pgfs.authorization': 'auth',
  'pgfs.authorization.cashback': 'auth',
  'pgfs.authorization.incremental': 'incremental',
  // Advice and stand-in report what the network or Marqeta already approved: booked, never declined.
  'pgfs.authorization.advice': 'force_auth',
  'pgfs.authorization.standin': 'force_auth',
  'pgfs.authorization.reversal': 'reversal',
  'pgfs.authorization.capture': 'clearing',
  'pgfs.authorization.clearing': 'clearing',
  'pgfs.auth_plus_capture': 'capture',
  'pgfs.auth_plus_capture.standin': 'force_capture',
  'pgfs.force_capture': 'force_capture',
  'pgfs.refund': 'refund_post',
  'pgfs.refund.authorization': 'refund_pending',
  'pgfs.refund.authorization.clearing': 'refund_post',
  'pgfs.refund.authorization.reversal': 'refund_cancel',
  'pgfs.balanceinquiry': 'balance',
  'pgfs.authorization.account_verification': 'verify',
});

export function ledgerMode(method: string): LedgerMode {
  return MODES[method] ?? 'unsupported';
}

/** Modes whose answer carries the approved amount (partial approval); others echo the request. */
export const DECIDED_AMOUNT_MODES: ReadonlySet<LedgerMode> = new Set(['auth', 'incremental', 'capture']);
