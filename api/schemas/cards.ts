// Card, limits, controls and balance schemas, and the views that render records into them.

import Type, { type Static, type TSchema } from 'typebox';
import { CARD_ACTIONS, CARD_STATUSES } from '../services/card-status.ts';
import type { CardControls, CardLimits, CardRecord } from '../services/card-model.ts';
import {
  AmountMinorIn,
  AmountMinorOut,
  AnyId,
  Currency,
  NullableAmountIn,
  NullableAmountOut,
  ObjectIdHex,
  Timestamp,
  Token,
  Uuid,
  pageOf,
} from './common.ts';
import { PageQuery } from '../http/pagination.ts';
import { type ControlField, controlDescription } from './enforced-controls.ts';

/** A control field's schema with its description from the enforcement table. */
const described = <T extends TSchema>(field: ControlField, schema: T) =>
  Type.Optional({ ...schema, description: controlDescription(field) });

const Mcc = Type.String({ pattern: '^\\d{4}$' });
// Commas are the gateway cache's list separator.
const MerchantId = Type.String({ pattern: '^[^,]{1,64}$' });
const Country = Type.String({ pattern: '^[A-Z]{2,3}$' });
const list = <T extends typeof Mcc>(item: T) => Type.Array(item, { maxItems: 500, uniqueItems: true });

const VelocityCount = Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()]);
const VelocityWindow = Type.Union([Type.Integer({ minimum: 1, maximum: 366 * 24 * 3600 }), Type.Null()]);

/** A limits change: absent fields stay as they are; null removes a limit. */
export const LimitsPatch = Type.Object(
  {
    per_transaction_limit_minor: described('per_transaction_limit_minor', NullableAmountIn),
    daily_limit_minor: described('daily_limit_minor', NullableAmountIn),
    weekly_limit_minor: described('weekly_limit_minor', NullableAmountIn),
    monthly_limit_minor: described('monthly_limit_minor', NullableAmountIn),
    yearly_limit_minor: described('yearly_limit_minor', NullableAmountIn),
    lifetime_limit_minor: described('lifetime_limit_minor', NullableAmountIn),
    velocity_count_max: described('velocity_count_max', VelocityCount),
    velocity_window_s: described('velocity_window_s', VelocityWindow),
  },
  { additionalProperties: false },
);

/** A controls change: each list given replaces the stored one. */
export const ControlsPatch = Type.Object(
  {
    mcc_allow: described('mcc_allow', list(Mcc)),
    mcc_block: described('mcc_block', list(Mcc)),
    merchant_allow: described('merchant_allow', list(MerchantId)),
    merchant_block: described('merchant_block', list(MerchantId)),
    country_allow: described('country_allow', list(Country)),
    country_block: described('country_block', list(Country)),
  },
  { additionalProperties: false },
);

export const Limits = Type.Object({
  per_transaction_limit_minor: NullableAmountOut,
  daily_limit_minor: NullableAmountOut,
  monthly_limit_minor: NullableAmountOut,
  weekly_limit_minor: NullableAmountOut,
  yearly_limit_minor: NullableAmountOut,
  lifetime_limit_minor: NullableAmountOut,
  velocity_count_max: VelocityCount,
  velocity_window_s: VelocityWindow,
});

export const Controls = Type.Object({
  mcc_allow: Type.Array(Type.String()),
  mcc_block: Type.Array(Type.String()),
  merchant_allow: Type.Array(Type.String()),
  merchant_block: Type.Array(Type.String()),
  country_allow: Type.Array(Type.String()),
  country_block: Type.Array(Type.String()),
});

export const Card = Type.Object({
  id: AnyId,
  kind: Type.Union([Type.Literal('business'), Type.Literal('personal')]),
  card_token: Type.String(),
  user_id: AnyId,
  user_token: Type.String(),
  company_id: Type.Union([Uuid, Type.Null()]),
  status: Type.Enum(CARD_STATUSES),
  currency_code: Currency,
  card_product_token: Type.Union([Type.String(), Type.Null()]),
  limits: Limits,
  controls: Controls,
  version: Type.Integer(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const CardPage = pageOf(Card);

export const IssueCardBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('business'), Type.Literal('personal')]),
    user_id: AnyId,
    currency_code: Currency,
    card_token: Type.Optional(Token),
    card_product_token: Type.Optional(Token),
    limits: Type.Optional(LimitsPatch),
    controls: Type.Optional(ControlsPatch),
  },
  { additionalProperties: false },
);

export const PatchCardBody = Type.Object(
  { limits: Type.Optional(LimitsPatch), controls: Type.Optional(ControlsPatch) },
  { additionalProperties: false, minProperties: 1 },
);

export const StatusChangeBody = Type.Object(
  { action: Type.Enum(CARD_ACTIONS) },
  { additionalProperties: false },
);

export const ListCardsQuery = Type.Object(
  {
    kind: Type.Optional(
      Type.Union([Type.Literal('business'), Type.Literal('personal')], { default: 'business' }),
    ),
    user_id: Type.Optional(AnyId),
    company_id: Type.Optional(Uuid),
    status: Type.Optional(Type.Enum(CARD_STATUSES)),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const Balance = Type.Object({
  card_id: ObjectIdHex,
  currency_code: Currency,
  posted_minor: AmountMinorOut,
  held_minor: AmountMinorOut,
  available_minor: AmountMinorOut,
  held_source: Type.Union([Type.Literal('live'), Type.Literal('stored')], {
    description: 'live: the gateway ledger in Redis; stored: MongoDB (no decision cached right now)',
  }),
});

export const BalanceLoadBody = Type.Object(
  { amount_minor: AmountMinorIn, currency_code: Currency },
  { additionalProperties: false },
);

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' }),
});

export const BalanceLoad = Type.Object({
  load_id: ObjectIdHex,
  card_id: ObjectIdHex,
  idempotency_key: Type.String(),
  amount_minor: AmountMinorOut,
  currency_code: Currency,
  created_at: Timestamp,
  balance: Balance,
});

function minor(value: bigint | null): string | null {
  return value === null ? null : value.toString();
}

export function limitsView(limits: CardLimits): Static<typeof Limits> {
  return {
    per_transaction_limit_minor: minor(limits.per_transaction_limit_minor),
    daily_limit_minor: minor(limits.daily_limit_minor),
    monthly_limit_minor: minor(limits.monthly_limit_minor),
    weekly_limit_minor: minor(limits.weekly_limit_minor),
    yearly_limit_minor: minor(limits.yearly_limit_minor),
    lifetime_limit_minor: minor(limits.lifetime_limit_minor),
    velocity_count_max: limits.velocity_count_max,
    velocity_window_s: limits.velocity_window_s,
  };
}

function controlsView(controls: CardControls): Static<typeof Controls> {
  return {
    mcc_allow: [...controls.mcc_allow],
    mcc_block: [...controls.mcc_block],
    merchant_allow: [...controls.merchant_allow],
    merchant_block: [...controls.merchant_block],
    country_allow: [...controls.country_allow],
    country_block: [...controls.country_block],
  };
}

export function cardView(card: CardRecord): Static<typeof Card> {
  return {
    id: card.id,
    kind: card.kind,
    card_token: card.card_token,
    user_id: card.user_id,
    user_token: card.user_token,
    company_id: card.company_id,
    status: card.status,
    currency_code: card.currency_code,
    card_product_token: card.card_product_token,
    limits: limitsView(card.limits),
    controls: controlsView(card.controls),
    version: card.version,
    created_at: card.created_at.toISOString(),
    updated_at: card.updated_at.toISOString(),
  };
}
