// The parts of Marqeta's Core API objects we send and read (field names as in Marqeta's
// reference). Unknown fields in answers are kept but not typed.

/** Marqeta tokens are at most 36 characters. */
export const MARQETA_TOKEN_MAX_LENGTH = 36;

export interface CreateUserInput {
  readonly token: string;
  readonly first_name?: string;
  readonly last_name?: string;
  readonly email?: string;
  readonly active?: boolean;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface MarqetaUser {
  readonly token: string;
  readonly active: boolean;
  readonly status?: string;
  readonly email?: string;
  readonly created_time: string;
  readonly [field: string]: unknown;
}

export interface IssueCardInput {
  readonly token: string;
  readonly user_token: string;
  readonly card_product_token: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export type CardState = 'UNACTIVATED' | 'ACTIVE' | 'SUSPENDED' | 'TERMINATED';

export interface MarqetaCard {
  readonly token: string;
  readonly user_token: string;
  readonly card_product_token: string;
  readonly last_four: string;
  /** Masked unless show_pan=true was asked for (we never ask). */
  readonly pan: string;
  readonly expiration: string;
  readonly state: CardState;
  readonly created_time: string;
  readonly [field: string]: unknown;
}

export interface CardTransitionInput {
  /** Client-chosen, so a retried transition is not applied twice. */
  readonly token: string;
  readonly card_token: string;
  /** Marqeta reason code ("00" first activation, "01" requested by you, ...). */
  readonly reason_code?: string;
  readonly reason?: string;
}

export interface MarqetaCardTransition {
  readonly token: string;
  readonly card_token: string;
  readonly user_token: string;
  readonly state: CardState;
  readonly reason_code: string;
  readonly channel: string;
  readonly created_time: string;
  readonly [field: string]: unknown;
}

export interface MarqetaTransaction {
  readonly token: string;
  readonly type: string;
  readonly state: string;
  readonly card_token?: string;
  readonly user_token?: string;
  /** Decimal in currency_code; parse with shared/money.ts, never parseFloat. */
  readonly amount?: number | string;
  readonly currency_code?: string;
  readonly created_time?: string;
  readonly [field: string]: unknown;
}
