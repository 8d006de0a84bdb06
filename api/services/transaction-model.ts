// One transaction shape for both stores, with its decision trace.

export interface TransactionRecord {
  readonly id: string;
  readonly kind: 'business' | 'personal';
  readonly jit_token: string;
  readonly transaction_token: string | null;
  readonly method: string | null;
  readonly card_id: string | null;
  readonly user_id: string | null;
  readonly company_id: string | null;
  readonly card_token: string | null;
  readonly amount_minor: bigint;
  readonly approved_amount_minor: bigint;
  readonly currency_code: string;
  readonly merchant: {
    readonly name: string | null;
    readonly mcc: string | null;
    readonly merchant_id: string | null;
    readonly country: string | null;
  };
  readonly status: string;
  readonly status_code: number;
  readonly decline_reason: string | null;
  readonly memo: string;
  /** What a purchase's amount rules saw (shared/limits-seen.ts); null when none was recorded. */
  readonly limits_seen: string | null;
  readonly revision: number;
  readonly decided_at: Date;
  readonly created_at: Date;
  readonly updated_at: Date;
  readonly cursor_at: string;
}

export interface TransactionFilter {
  readonly card_id?: string;
  readonly user_id?: string;
  readonly company_id?: string;
  /** created_at bounds: from inclusive, to exclusive. */
  readonly from?: Date;
  readonly to?: Date;
}
