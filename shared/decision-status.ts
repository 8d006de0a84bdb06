// Decision statuses: stable integers shared by the decision Lua script, the outbox events
// and the ledger. A retired number is never reused. One table maps each to Marqeta's
// `decline_reason` and to our own memo code (returned to us in Marqeta's notifications).

export const DecisionStatus = Object.freeze({
  APPROVED: 0,
  INSUFFICIENT_BALANCE: 1,
  LIMIT_PER_TRANSACTION: 2,
  LIMIT_DAILY: 3,
  LIMIT_MONTHLY: 4,
  MERCHANT_RESTRICTED: 5,
  CARD_INACTIVE: 6,
  CARDHOLDER_INACTIVE: 7,
  CARD_NOT_FOUND: 8,
  CARD_USER_MISMATCH: 9,
  CURRENCY_MISMATCH: 10,
  INVALID_AMOUNT: 11,
  UNSUPPORTED_METHOD: 12,
  SYSTEM_ERROR: 13,
  TIMEOUT: 14,
  LIMIT_VELOCITY: 15,
  LIMIT_WEEKLY: 16,
  LIMIT_YEARLY: 17,
  LIMIT_ALL_TIME: 18,
  LIMIT_CATEGORY: 19,
  COUNTRY_RESTRICTED: 20,
  NO_BALANCE: 21,
  AUTHORIZATION_CLOSED: 22,
} as const);

export type DecisionStatusCode = (typeof DecisionStatus)[keyof typeof DecisionStatus];

export type MarqetaDeclineReason =
  | 'INSUFFICIENT_FUNDS'
  | 'AMOUNT_LIMIT_EXCEEDED'
  | 'INVALID_MERCHANT'
  | 'CARD_NOT_ACTIVE'
  | 'CARDHOLDER_NOT_ACTIVE'
  | 'INVALID_CARD'
  | 'INVALID_AMOUNT'
  | 'TRANSACTION_COUNT_LIMIT_EXCEEDED'
  | 'TRANSACTION_NOT_PERMITTED';

export interface StatusInfo {
  readonly name: keyof typeof DecisionStatus;
  /** Our reason code, sent as `memo` and stored in the ledger. */
  readonly memo: string;
  /** Marqeta's enum value; absent for an approval. */
  readonly decline_reason?: MarqetaDeclineReason;
}

const TABLE: Readonly<Record<DecisionStatusCode, StatusInfo>> = Object.freeze({
  0: { name: 'APPROVED', memo: 'approved' },
  1: { name: 'INSUFFICIENT_BALANCE', memo: 'insufficient_balance', decline_reason: 'INSUFFICIENT_FUNDS' },
  2: { name: 'LIMIT_PER_TRANSACTION', memo: 'limit_exceeded', decline_reason: 'AMOUNT_LIMIT_EXCEEDED' },
  3: { name: 'LIMIT_DAILY', memo: 'limit_exceeded', decline_reason: 'AMOUNT_LIMIT_EXCEEDED' },
  4: { name: 'LIMIT_MONTHLY', memo: 'limit_exceeded', decline_reason: 'AMOUNT_LIMIT_EXCEEDED' },
  5: { name: 'MERCHANT_RESTRICTED', memo: 'merchant_restricted', decline_reason: 'INVALID_MERCHANT' },
  6: { name: 'CARD_INACTIVE', memo: 'card_inactive', decline_reason: 'CARD_NOT_ACTIVE' },
  7: { name: 'CARDHOLDER_INACTIVE', memo: 'cardholder_inactive', decline_reason: 'CARDHOLDER_NOT_ACTIVE' },
  8: { name: 'CARD_NOT_FOUND', memo: 'card_not_found', decline_reason: 'INVALID_CARD' },
  9: { name: 'CARD_USER_MISMATCH', memo: 'card_user_mismatch', decline_reason: 'INVALID_CARD' },
  10: { name: 'CURRENCY_MISMATCH', memo: 'currency_mismatch', decline_reason: 'TRANSACTION_NOT_PERMITTED' },
  11: { name: 'INVALID_AMOUNT', memo: 'invalid_amount', decline_reason: 'INVALID_AMOUNT' },
  12: { name: 'UNSUPPORTED_METHOD', memo: 'unsupported_method', decline_reason: 'TRANSACTION_NOT_PERMITTED' },
  13: { name: 'SYSTEM_ERROR', memo: 'system_error', decline_reason: 'TRANSACTION_NOT_PERMITTED' },
  14: { name: 'TIMEOUT', memo: 'timeout', decline_reason: 'TRANSACTION_NOT_PERMITTED' },
  15: {
    name: 'LIMIT_VELOCITY',
    memo: 'velocity_exceeded',
    decline_reason: 'TRANSACTION_COUNT_LIMIT_EXCEEDED',
  },
  16: { name: 'LIMIT_WEEKLY', memo: 'limit_exceeded', decline_reason: 'AMOUNT_LIMIT_EXCEEDED' },
  17: { name: 'LIMIT_YEARLY', memo: 'limit_exceeded', decline_reason: 'AMOUNT_LIMIT_EXCEEDED' },
  18: { name: 'LIMIT_ALL_TIME', memo: 'limit_exceeded', decline_reason: 'AMOUNT_LIMIT_EXCEEDED' },
  19: { name: 'LIMIT_CATEGORY', memo: 'category_limit_exceeded', decline_reason: 'AMOUNT_LIMIT_EXCEEDED' },
  20: { name: 'COUNTRY_RESTRICTED', memo: 'country_restricted', decline_reason: 'INVALID_MERCHANT' },
  21: { name: 'NO_BALANCE', memo: 'no_balance', decline_reason: 'TRANSACTION_NOT_PERMITTED' },
  22: {
    name: 'AUTHORIZATION_CLOSED',
    memo: 'authorization_closed',
    decline_reason: 'TRANSACTION_NOT_PERMITTED',
  },
});

export function statusInfo(code: number): StatusInfo {
  const info = TABLE[code as DecisionStatusCode];
  if (info === undefined) throw new Error(`unknown decision status ${code}`);
  return info;
}

export function allStatuses(): ReadonlyArray<[DecisionStatusCode, StatusInfo]> {
  return Object.entries(TABLE).map(([code, info]) => [Number(code) as DecisionStatusCode, info]);
}
