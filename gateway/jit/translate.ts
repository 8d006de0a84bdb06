// Between Marqeta's JIT Funding message and our decision: the request summary the decision
// script and the outbox see, and the `jit_funding` answer Marqeta expects back.

import { ApiError } from '../../shared/errors.ts';
import { MoneyError, toMajorNumber, toMinor } from '../../shared/money.ts';
import { statusInfo, DecisionStatus } from '../../shared/decision-status.ts';
import type { DecisionRequest } from '../../shared/messages.ts';
import { windowIds } from '../../shared/spend-windows.ts';
import type { DecisionOutcome } from '../decide/decider.ts';
import type { JitRequestBody, JitResponseBody } from './schema.ts';

/** Methods the gateway decides on today; anything else is declined as `unsupported_method`. */
export const DECIDED_METHODS: ReadonlySet<string> = new Set(['pgfs.authorization']);

export interface ParsedJit {
  readonly request: DecisionRequest;
  readonly amount_minor: bigint;
}

export function parseJit(body: JitRequestBody, now_ms: number, time_zone: string): ParsedJit {
  const order = body.gpa_order ?? body.gpa_order_unload;
  if (order === undefined) {
    throw new ApiError('GW_ERR_BAD_REQUEST', undefined, [
      { path: '/gpa_order', message: 'gpa_order.jit_funding (or gpa_order_unload.jit_funding) is required' },
    ]);
  }
  const jit = order.jit_funding;
  const field = body.gpa_order ? '/gpa_order/jit_funding/amount' : '/gpa_order_unload/jit_funding/amount';
  let amount_minor: bigint;
  try {
    amount_minor = toMinor(jit.amount, body.currency_code);
  } catch (error) {
    if (error instanceof MoneyError) throw new ApiError('GW_ERR_BAD_REQUEST', undefined, [{ path: field, message: error.message }]);
    throw error;
  }
  const windows = windowIds(now_ms, time_zone);
  const acceptor = body.card_acceptor;
  const request: DecisionRequest = {
    jit_token: jit.token,
    method: jit.method,
    transaction_token: body.token,
    card_token: body.card_token,
    user_token: body.user_token ?? jit.user_token,
    acting_user_token: jit.acting_user_token ?? body.acting_user_token ?? jit.user_token,
    amount_minor: amount_minor.toString(),
    currency_code: body.currency_code,
    network: body.network ?? null,
    merchant: {
      mid: acceptor?.mid ?? null,
      mcc: acceptor?.mcc ?? null,
      name: acceptor?.name ?? null,
      country_code: acceptor?.country_code ?? null,
    },
    day_id: windows.day_id,
    month_id: windows.month_id,
  };
  return { request, amount_minor };
}

/** 200 with the echo for an approval; 402 with `decline_reason` for a decline. */
export function answer(
  parsed: ParsedJit,
  outcome: DecisionOutcome,
  jit_user_token: string,
): { status_code: 200 | 402; body: JitResponseBody } {
  const { request } = parsed;
  const info = statusInfo(outcome.status_code);
  const approved = outcome.status_code === DecisionStatus.APPROVED;
  const amount_minor = approved ? outcome.approved_amount_minor : parsed.amount_minor;
  const body: JitResponseBody = {
    jit_funding: {
      token: request.jit_token,
      method: request.method,
      user_token: jit_user_token,
      acting_user_token: request.acting_user_token,
      amount: toMajorNumber(amount_minor, request.currency_code),
      memo: info.memo,
      ...(info.decline_reason ? { decline_reason: info.decline_reason } : {}),
      tags: `afc_status:${info.name}`,
    },
  };
  return { status_code: approved ? 200 : 402, body };
}
