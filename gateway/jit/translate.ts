// Between Marqeta's JIT Funding message and our decision: the request summary the decision
// script and the outbox see, and the `jit_funding` answer Marqeta expects back.

import { ApiError } from '../../shared/errors.ts';
import { MoneyError, toMajorNumber, toMinor } from '../../shared/money.ts';
import { mccGroup } from '../../shared/mcc-groups.ts';
import { type DecisionStatusCode, DecisionStatus, statusInfo } from '../../shared/decision-status.ts';
import type { DecisionRequest } from '../../shared/messages.ts';
import { windowIds } from '../../shared/spend-windows.ts';
import type { DecisionOutcome } from '../decide/decider.ts';
import { DECIDED_AMOUNT_MODES, ledgerMode } from './methods.ts';
import type { JitRequestBody, JitResponseBody } from './schema.ts';

export interface ParsedJit {
  readonly request: DecisionRequest;
  /** 0 when the amount is invalid (and echoed as 0). */
  readonly amount_minor: bigint;
  /** Recorded without running the rules: an unsupported method, or an amount we cannot read. */
  readonly forced_status: DecisionStatusCode | undefined;
  /** The network accepts a smaller approved amount (pos.partial_approval_capable). */
  readonly partial_capable: boolean;
  /** Marqeta's jit_funding.user_token, echoed as received. */
  readonly jit_user_token: string;
}

/**
 * The amount in minor units, or null when it is not a plain non-negative decimal the currency
 * can hold (-5, 0.001 USD, "abc", 1e20, missing): a decline, never a 400, once the JIT token is
 * readable, since Marqeta stands in (and may approve) when we answer an application error.
 */
function minorOrNull(amount: unknown, currency_code: string): bigint | null {
  if (typeof amount !== 'number' && typeof amount !== 'string') return null;
  try {
    return toMinor(amount, currency_code);
  } catch (error) {
    if (error instanceof MoneyError) return null;
    throw error;
  }
}

export function parseJit(body: JitRequestBody, now_ms: number, time_zone: string): ParsedJit {
  const order = body.gpa_order ?? body.gpa_order_unload;
  if (order === undefined) {
    throw new ApiError('GW_ERR_BAD_REQUEST', undefined, [
      { path: '/gpa_order', message: 'gpa_order.jit_funding (or gpa_order_unload.jit_funding) is required' },
    ]);
  }
  const jit = order.jit_funding;
  const amount_minor = minorOrNull(jit.amount, body.currency_code);
  const windows = windowIds(now_ms, time_zone);
  const acceptor = body.card_acceptor;
  const request: DecisionRequest = {
    jit_token: jit.token,
    method: jit.method,
    transaction_token: body.token,
    card_token: body.card_token,
    user_token: body.user_token ?? jit.user_token,
    acting_user_token: jit.acting_user_token ?? body.acting_user_token ?? jit.user_token,
    amount_minor: (amount_minor ?? 0n).toString(),
    currency_code: body.currency_code,
    network: body.network ?? null,
    merchant: {
      mid: acceptor?.mid ?? null,
      mcc: acceptor?.mcc ?? null,
      name: acceptor?.name ?? null,
      country_code: acceptor?.country_code ?? null,
    },
    day_id: windows.day_id,
    week_id: windows.week_id,
    month_id: windows.month_id,
    year_id: windows.year_id,
    original_jit_token: jit.original_jit_funding_token ?? null,
    mode: ledgerMode(jit.method),
    mcc_group: mccGroup(acceptor?.mcc),
    received_at_ms: now_ms,
  };
  return {
    request,
    amount_minor: amount_minor ?? 0n,
    forced_status:
      request.mode === 'unsupported'
        ? DecisionStatus.UNSUPPORTED_METHOD
        : amount_minor === null
          ? DecisionStatus.INVALID_AMOUNT
          : undefined,
    partial_capable: body.pos?.partial_approval_capable === true,
    jit_user_token: jit.user_token,
  };
}

/** 200 with the echo for an approval; 402 with `decline_reason` for a decline. */
export function answer(
  parsed: ParsedJit,
  outcome: DecisionOutcome,
): { status_code: 200 | 402; body: JitResponseBody } {
  const { request } = parsed;
  const info = statusInfo(outcome.status_code);
  const approved = outcome.status_code === DecisionStatus.APPROVED;
  // A purchase answers what it approved (smaller on a partial approval); other messages echo.
  const amount_minor =
    approved && DECIDED_AMOUNT_MODES.has(request.mode) ? outcome.amount_minor : parsed.amount_minor;
  const body: JitResponseBody = {
    jit_funding: {
      token: request.jit_token,
      method: request.method,
      user_token: parsed.jit_user_token,
      acting_user_token: request.acting_user_token,
      amount: toMajorNumber(amount_minor, request.currency_code),
      memo: info.memo,
      ...(info.decline_reason ? { decline_reason: info.decline_reason } : {}),
      tags: `afc_status:${info.name}`,
      ...(request.original_jit_token ? { original_jit_funding_token: request.original_jit_token } : {}),
    },
  };
  if (approved && request.mode === 'balance') {
    const available = toMajorNumber(outcome.available_minor, request.currency_code);
    body.jit_funding.balances = {
      [request.currency_code]: {
        currency_code: request.currency_code,
        available_balance: available,
        ledger_balance: available,
      },
    };
  }
  return { status_code: approved ? 200 : 402, body };
}
