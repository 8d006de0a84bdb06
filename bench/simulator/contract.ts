// The Gateway JIT Funding contract, checked on every answer: HTTP 200 approves and 402
// declines; the `jit_funding` object echoes token, method, user_token, acting_user_token and
// amount; a decline carries a `decline_reason` from Marqeta's enum, an approval none; a memo
// is always present. Must-decline classes must decline for their own reason, and a replayed
// JIT token must get the first answer again, byte for byte in meaning.

import { isDeepStrictEqual } from 'node:util';
import { MoneyError, toMinor } from '../../shared/money.ts';
import { FAIL_SAFE_MEMOS, replayExplanation, SHED_EXPLANATION, SHED_OUTCOME } from './explanations.ts';
import type { PlannedRequest } from './traffic.ts';

/** Marqeta's `decline_reason` values (marqeta-jit.md). */
export const MARQETA_DECLINE_REASONS: ReadonlySet<string> = new Set([
  'INVALID_AMOUNT',
  'INSUFFICIENT_FUNDS',
  'TRANSACTION_NOT_PERMITTED',
  'SUSPECTED_FRAUD',
  'AMOUNT_LIMIT_EXCEEDED',
  'TRANSACTION_COUNT_LIMIT_EXCEEDED',
  'DUPLICATE_TRANSACTION',
  'INVALID_MERCHANT',
  'INVALID_CARD',
  'NO_CREDIT_ACCOUNT',
  'EXPIRED_CARD',
  'NO_CHECKING_ACCOUNT',
  'NO_SAVINGS_ACCOUNT',
  'STOP_PAYMENT',
  'REVOCATION_AUTHORIZATION_ORDER',
  'REVOCATION_ALL_AUTHORIZATION_ORDER',
  'SOFT_DECLINE_AUTHENTICATION_REQUIRED',
  'SOFT_DECLINE_PIN_REQUIRED',
  'CLOSED_ACCOUNT',
  'CARD_NOT_ACTIVE',
  'CARDHOLDER_NOT_ACTIVE',
]);

/** Methods whose approval may answer a smaller amount (partial approval; the fixture's POS allows it). */
const PARTIAL_APPROVAL_METHODS: ReadonlySet<string> = new Set([
  'pgfs.authorization',
  'pgfs.authorization.incremental',
]);

/** The stand-in answer (503 GW_ERR_UNDECIDED) and the outcome it is counted as. */
const UNDECIDED_CODE = 'GW_ERR_UNDECIDED';
/** The overload protection's answer (503 + Retry-After): nothing decided. */
const SHED_CODE = 'GW_ERR_UNAVAILABLE';
export const UNDECIDED_OUTCOME = 'undecided';

export interface Verdict {
  /** What the answer said: 'approved' or the decline memo (our reason code). */
  readonly outcome: string;
  /** Why the answer breaks the contract; absent when it keeps it. */
  readonly violation?: string;
  /** Why an answer that differs from the strict expectation is harmless (explanations.ts). */
  readonly explained?: string;
  /** The parsed body, kept for replays. */
  readonly answer: unknown;
}

interface JitAnswer {
  token?: unknown;
  method?: unknown;
  user_token?: unknown;
  acting_user_token?: unknown;
  amount?: unknown;
  decline_reason?: unknown;
  memo?: unknown;
}

function shapeViolation(request: PlannedRequest, status_code: number, jit: JitAnswer): string | undefined {
  if (status_code !== 200 && status_code !== 402) return `HTTP ${status_code} (expected 200 or 402)`;
  if (jit.token !== request.jit_token) return 'token not echoed';
  if (jit.method !== request.method) return 'method not echoed';
  if (jit.user_token !== request.card.user_token) return 'user_token not echoed';
  if (jit.acting_user_token !== request.card.user_token) return 'acting_user_token not echoed';
  if (typeof jit.amount !== 'number') return 'amount missing';
  try {
    const answered_minor = toMinor(jit.amount, 'USD');
    const partial =
      status_code === 200 &&
      PARTIAL_APPROVAL_METHODS.has(request.method) &&
      answered_minor < request.amount_minor;
    if (answered_minor !== request.amount_minor && !partial)
      return `amount ${jit.amount} does not echo the request`;
  } catch (error) {
    if (error instanceof MoneyError) return `amount ${jit.amount} is not a valid USD amount`;
    throw error;
  }
  if (typeof jit.memo !== 'string' || jit.memo === '') return 'memo missing';
  if (status_code === 402) {
    if (typeof jit.decline_reason !== 'string') return '402 without decline_reason';
    if (!MARQETA_DECLINE_REASONS.has(jit.decline_reason))
      return `decline_reason ${jit.decline_reason} not in Marqeta's enum`;
  } else if (jit.decline_reason !== undefined) {
    return '200 with a decline_reason';
  }
  return undefined;
}

export function checkAnswer(request: PlannedRequest, status_code: number, body_text: string): Verdict {
  let answer: unknown;
  try {
    answer = JSON.parse(body_text);
  } catch {
    return {
      outcome: `http_${status_code}`,
      violation: `HTTP ${status_code} with a non-JSON body`,
      answer: undefined,
    };
  }
  // UNDECIDED_ANSWER=standin: the application error that lets Marqeta stand in. It keeps the
  // contract (Marqeta decides, by its stand-in rules) and decides nothing of ours.
  const error_code = (answer as { error?: { code?: unknown } } | null)?.error?.code;
  if (status_code === 503 && error_code === UNDECIDED_CODE) return { outcome: UNDECIDED_OUTCOME, answer };
  // A declined chance to decide, not a wrong answer: Marqeta stands in or declines.
  if (status_code === 503 && error_code === SHED_CODE)
    return { outcome: SHED_OUTCOME, explained: SHED_EXPLANATION, answer };
  const jit = ((answer as { jit_funding?: JitAnswer } | null)?.jit_funding ?? {}) as JitAnswer;
  const outcome =
    status_code === 200 ? 'approved' : typeof jit.memo === 'string' ? jit.memo : `http_${status_code}`;
  const shape = shapeViolation(request, status_code, jit);
  if (shape !== undefined) return { outcome, violation: shape, answer };
  const expect = request.expect;
  if (expect.kind === 'decline') {
    const as_expected =
      status_code === 402 && jit.decline_reason === expect.decline_reason && jit.memo === expect.memo;
    const fail_safe = status_code === 402 && FAIL_SAFE_MEMOS.has(outcome);
    if (!as_expected && !fail_safe) {
      return {
        outcome,
        violation: `${request.cls} answered ${outcome}, expected ${expect.memo} (${expect.decline_reason})`,
        answer,
      };
    }
  }
  if (
    expect.kind === 'replay' &&
    (status_code !== expect.first.status_code || !isDeepStrictEqual(answer, expect.first.answer))
  ) {
    const first =
      expect.first.status_code === 200
        ? 'approved'
        : String((expect.first.answer as { jit_funding?: JitAnswer })?.jit_funding?.memo);
    const explained = replayExplanation(expect.first.request.cls, first, outcome);
    if (explained !== null) return { outcome, explained, answer };
    return {
      outcome,
      violation: `replayed JIT token answered ${outcome}, first answer was ${first}`,
      answer,
    };
  }
  return { outcome, answer };
}
