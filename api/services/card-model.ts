// One card shape for both stores: business cards (PostgreSQL) and personal cards (MongoDB).

import type { CardStatus } from './card-status.ts';

export type CardKind = 'business' | 'personal';

/** Amount limits in the card's currency, minor units; null means no limit. */
export interface CardLimits {
  readonly per_transaction_limit_minor: bigint | null;
  readonly daily_limit_minor: bigint | null;
  readonly monthly_limit_minor: bigint | null;
  /** Stored and returned; the gateway does not enforce these yet. */
  readonly weekly_limit_minor: bigint | null;
  readonly yearly_limit_minor: bigint | null;
  readonly lifetime_limit_minor: bigint | null;
  readonly velocity_count_max: number | null;
  readonly velocity_window_s: number | null;
}

/** Merchant rules: an empty allow list means any; block lists always apply. */
export interface CardControls {
  readonly mcc_allow: readonly string[];
  readonly mcc_block: readonly string[];
  readonly merchant_allow: readonly string[];
  readonly merchant_block: readonly string[];
  /** Stored and returned; the gateway does not enforce these yet. */
  readonly country_allow: readonly string[];
  readonly country_block: readonly string[];
}

export const NO_LIMITS: CardLimits = Object.freeze({
  per_transaction_limit_minor: null,
  daily_limit_minor: null,
  monthly_limit_minor: null,
  weekly_limit_minor: null,
  yearly_limit_minor: null,
  lifetime_limit_minor: null,
  velocity_count_max: null,
  velocity_window_s: null,
});

export const NO_CONTROLS: CardControls = Object.freeze({
  mcc_allow: [],
  mcc_block: [],
  merchant_allow: [],
  merchant_block: [],
  country_allow: [],
  country_block: [],
});

export interface CardRecord {
  readonly id: string;
  readonly kind: CardKind;
  readonly card_token: string;
  readonly user_id: string;
  readonly user_token: string;
  /** Business cards: the cardholder's company; personal cards: null. */
  readonly company_id: string | null;
  readonly status: CardStatus;
  readonly currency_code: string;
  readonly card_product_token: string | null;
  readonly limits: CardLimits;
  readonly controls: CardControls;
  readonly version: number;
  readonly created_at: Date;
  readonly updated_at: Date;
  /** Sort key text for cursors. */
  readonly cursor_at: string;
}

export interface NewCard {
  readonly user_id: string;
  readonly card_token: string;
  readonly status: CardStatus;
  readonly currency_code: string;
  readonly card_product_token: string | null;
  readonly limits: CardLimits;
  readonly controls: CardControls;
}

/** The mutable state of a card, written whole. */
export interface CardState {
  readonly status: CardStatus;
  readonly limits: CardLimits;
  readonly controls: CardControls;
}

export interface CardFilter {
  readonly company_id?: string;
  readonly user_id?: string;
  readonly status?: CardStatus;
}

export interface CardStore {
  readonly kind: CardKind;
  insert(card: NewCard): Promise<CardRecord>;
  get(id: string): Promise<CardRecord | null>;
  findByToken(card_token: string): Promise<CardRecord | null>;
  /** Newest first, after the cursor; limit + 1 rows so the caller knows about a next page. */
  list(
    filter: CardFilter,
    after: { at: string; id: string } | undefined,
    limit: number,
  ): Promise<CardRecord[]>;
  /** Writes the state if the card is still at `expected_version`; null when it is not. */
  update(id: string, expected_version: number, state: CardState): Promise<CardRecord | null>;
}
