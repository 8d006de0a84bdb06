// Transaction schemas: the decision trace says why the gateway answered as it did.

import Type, { type Static } from 'typebox';
import { parseLimitsSeen } from '../../shared/limits-seen.ts';
import { PERSONAL_TRANSACTION_ID, PageQuery } from '../http/pagination.ts';
import type { TransactionRecord } from '../services/transaction-model.ts';
import { statusName } from '../services/transaction-service.ts';
import { AmountMinorOut, AnyId, Currency, Timestamp, Uuid, pageOf } from './common.ts';

const NullableText = Type.Union([Type.String(), Type.Null()]);
const MinorText = Type.String({ pattern: '^-?\\d+$' });

/** One part of shared/limits-seen.ts's LimitSeen. */
const LimitSeenSchema = Type.Union([
  Type.Object({ rule: Type.Literal('per_transaction'), limit_minor: MinorText }),
  Type.Object({
    rule: Type.Literal('period'),
    period: Type.Union([
      Type.Literal('day'),
      Type.Literal('week'),
      Type.Literal('month'),
      Type.Literal('year'),
      Type.Literal('all'),
    ]),
    spent_minor: MinorText,
    limit_minor: MinorText,
  }),
  Type.Object({
    rule: Type.Literal('category'),
    period: Type.Union([Type.Literal('day'), Type.Literal('month')]),
    spent_minor: MinorText,
    limit_minor: MinorText,
  }),
  Type.Object({ rule: Type.Literal('velocity'), approvals: Type.Integer(), approvals_max: Type.Integer() }),
  Type.Object({ rule: Type.Literal('balance'), available_minor: MinorText }),
]);

/** uuid (business), or a personal transaction's JIT token (24-hex ObjectId for old records). */
export const TransactionId = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: PERSONAL_TRANSACTION_ID.source,
  description: 'uuid (business) or the JIT token (personal; a 24-hex ObjectId for older records)',
});
export const TransactionIdParams = Type.Object({ id: TransactionId });

export const Transaction = Type.Object({
  id: TransactionId,
  kind: Type.Union([Type.Literal('business'), Type.Literal('personal')]),
  jit_token: Type.String(),
  transaction_token: NullableText,
  method: NullableText,
  card_id: Type.Union([AnyId, Type.Null()]),
  user_id: Type.Union([AnyId, Type.Null()]),
  company_id: Type.Union([Uuid, Type.Null()]),
  card_token: NullableText,
  amount_minor: AmountMinorOut,
  approved_amount_minor: AmountMinorOut,
  currency_code: Currency,
  merchant: Type.Object({
    name: NullableText,
    mcc: NullableText,
    merchant_id: NullableText,
    country: NullableText,
  }),
  status: Type.String({ description: 'pending, declined, completed, reversed or expired' }),
  decision: Type.Object({
    status_code: Type.Integer(),
    status_name: Type.String({ description: 'stable name of status_code (shared/decision-status.ts)' }),
    memo: Type.String(),
    decline_reason: NullableText,
    decided_at: Timestamp,
    revision: Type.Integer({ description: '2 when a timed-out approval was voided' }),
    limits_seen: Type.Array(LimitSeenSchema, {
      description:
        "What a purchase's amount rules saw before it: each limit with the spend counted against it in " +
        "its current window, the velocity count, a personal card's available balance (empty for other messages)",
    }),
  }),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export const TransactionPage = pageOf(Transaction);

export const ListTransactionsQuery = Type.Object(
  {
    card_id: Type.Optional(AnyId),
    user_id: Type.Optional(AnyId),
    company_id: Type.Optional(Uuid),
    kind: Type.Optional(
      Type.Union([Type.Literal('business'), Type.Literal('personal')], { default: 'business' }),
    ),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'created_at >= from' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'created_at < to' })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export function transactionView(t: TransactionRecord): Static<typeof Transaction> {
  return {
    id: t.id,
    kind: t.kind,
    jit_token: t.jit_token,
    transaction_token: t.transaction_token,
    method: t.method,
    card_id: t.card_id,
    user_id: t.user_id,
    company_id: t.company_id,
    card_token: t.card_token,
    amount_minor: t.amount_minor.toString(),
    approved_amount_minor: t.approved_amount_minor.toString(),
    currency_code: t.currency_code,
    merchant: { ...t.merchant },
    status: t.status,
    decision: {
      status_code: t.status_code,
      status_name: statusName(t.status_code),
      memo: t.memo,
      decline_reason: t.decline_reason,
      decided_at: t.decided_at.toISOString(),
      revision: t.revision,
      limits_seen: parseLimitsSeen(t.limits_seen),
    },
    created_at: t.created_at.toISOString(),
    updated_at: t.updated_at.toISOString(),
  };
}
