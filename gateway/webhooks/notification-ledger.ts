// What a Marqeta transaction notification means for our ledger. Pure: it reads the
// notification and returns ledger commands; the route runs them through the decision script,
// each idempotent on a token derived from the notification, so a redelivered notification
// changes nothing twice.
//
// - gateway_log.timed_out: Marqeta declined because our answer came too late; release the
//   hold we may have made (release of the authorization group).
// - state DECLINED for a message we may have approved: release likewise.
// - Commando stand-in (standin_approved_by COMMANDO_AUTO/MANUAL or subnetwork MANAGED_JIT):
//   Marqeta approved on our behalf; book it (forced: never declined).

import type { LedgerMode } from '../../shared/messages.ts';
import { ledgerMode } from '../jit/methods.ts';

export interface LedgerCommand {
  /** Why, for logs, the event and the decision trace (e.g. `timed_out`). */
  readonly action: 'release_timed_out' | 'release_declined' | 'book_standin';
  readonly jit_token: string;
  readonly original_jit_token: string;
  readonly mode: LedgerMode;
  readonly method: string;
  readonly card_token: string;
  readonly user_token: string;
  readonly amount: number | string;
  readonly currency_code: string;
  /** book_standin: Marqeta's JIT token it stood in for (our own decision of it is superseded). */
  readonly supersedes?: string;
}

interface JitFunding {
  token?: string;
  method?: string;
  user_token?: string;
  amount?: number | string;
  original_jit_funding_token?: string;
}

interface Order {
  jit_funding?: JitFunding;
  funding?: { gateway_log?: { timed_out?: boolean } };
}

export interface MarqetaTransaction {
  token?: string;
  type?: string;
  state?: string;
  card_token?: string;
  user_token?: string;
  amount?: number | string;
  currency_code?: string;
  subnetwork?: string;
  standin_approved_by?: string;
  gpa_order?: Order;
  gpa_order_unload?: Order;
}

const STANDIN_BY = new Set(['COMMANDO_AUTO', 'COMMANDO_MANUAL']);

/** Stand-in turns a purchase into a booking that is never declined. */
function standinMode(mode: LedgerMode): LedgerMode {
  if (mode === 'auth' || mode === 'incremental') return 'force_auth';
  if (mode === 'capture') return 'force_capture';
  return mode;
}

export function notificationEventToken(txn: MarqetaTransaction): string {
  return `${txn.token ?? 'unknown'}:${txn.state ?? 'UNKNOWN'}`;
}

export function ledgerCommands(txn: MarqetaTransaction): LedgerCommand[] {
  const order = txn.gpa_order ?? txn.gpa_order_unload;
  const jit = order?.jit_funding;
  if (!jit?.token || !txn.card_token) return [];
  const base = {
    original_jit_token: jit.original_jit_funding_token ?? jit.token,
    card_token: txn.card_token,
    user_token: txn.user_token ?? jit.user_token ?? '',
    amount: jit.amount ?? txn.amount ?? 0,
    currency_code: txn.currency_code ?? 'USD',
  };
  const commands: LedgerCommand[] = [];
  const standin = STANDIN_BY.has(txn.standin_approved_by ?? '') || txn.subnetwork === 'MANAGED_JIT';
  if (standin && txn.state !== 'DECLINED') {
    const mode = standinMode(ledgerMode(jit.method ?? ''));
    if (mode !== 'unsupported') {
      commands.push({
        ...base,
        action: 'book_standin',
        jit_token: `standin:${jit.token}`,
        supersedes: jit.token,
        mode,
        method: jit.method ?? '',
      });
    }
  }
  if (order?.funding?.gateway_log?.timed_out === true) {
    commands.push({
      ...base,
      action: 'release_timed_out',
      jit_token: `timed_out:${jit.token}`,
      mode: 'release',
      method: 'afc.release.timed_out',
    });
  } else if (txn.state === 'DECLINED' && !standin) {
    commands.push({
      ...base,
      action: 'release_declined',
      jit_token: `declined:${jit.token}`,
      mode: 'release',
      method: 'afc.release.declined',
    });
  }
  return commands;
}
