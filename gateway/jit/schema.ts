// Marqeta Gateway JIT Funding request and response schemas (TypeBox, compiled at startup).
// Only the fields we use are described; unknown fields are accepted and ignored, since
// Marqeta adds fields over time.

import Type, { type Static } from 'typebox';

export const Token = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });
const OptionalText = (max_length: number) =>
  Type.Optional(Type.Union([Type.String({ maxLength: max_length }), Type.Null()]));

/** Decimal amount as Marqeta sends it: a JSON number (42.75), or the same as a string. */
export const Amount = Type.Union([
  Type.Number({ minimum: 0, maximum: 1e13 }),
  Type.String({ pattern: '^\\d{1,13}(\\.\\d{1,6})?$' }),
]);

export const JitFunding = Type.Object(
  {
    token: Token,
    method: Type.String({ minLength: 1, maxLength: 80, pattern: '^[a-z0-9_.]+$' }),
    user_token: Token,
    acting_user_token: Type.Optional(Token),
    business_token: Type.Optional(Token),
    // Any value: an amount that is not a valid decimal of the currency is a decline
    // (INVALID_AMOUNT, translate.ts), not a 400 that would let Marqeta stand in.
    amount: Type.Optional(Type.Unknown()),
    original_jit_funding_token: Type.Optional(Token),
    incremental_authorization_jit_funding_tokens: Type.Optional(Type.Array(Token, { maxItems: 100 })),
  },
  { additionalProperties: true },
);

const GpaOrder = Type.Object({ jit_funding: JitFunding }, { additionalProperties: true });

export const CardAcceptor = Type.Object(
  {
    mid: OptionalText(64),
    mcc: Type.Optional(Type.Union([Type.String({ pattern: '^\\d{4}$' }), Type.Null()])),
    name: OptionalText(255),
    city: OptionalText(255),
    country_code: OptionalText(3),
  },
  { additionalProperties: true },
);

export const JitRequest = Type.Object(
  {
    type: Type.Optional(Type.String({ maxLength: 80 })),
    state: Type.Optional(Type.String({ maxLength: 40 })),
    token: Token,
    user_token: Type.Optional(Token),
    acting_user_token: Type.Optional(Token),
    card_token: Token,
    // Not read: jit_funding.amount is the amount decided.
    amount: Type.Optional(Type.Unknown()),
    currency_code: Type.String({ pattern: '^[A-Z]{3}$' }),
    network: OptionalText(40),
    subnetwork: OptionalText(40),
    gpa_order: Type.Optional(GpaOrder),
    gpa_order_unload: Type.Optional(GpaOrder),
    card_acceptor: Type.Optional(CardAcceptor),
    pos: Type.Optional(
      Type.Object(
        { partial_approval_capable: Type.Optional(Type.Boolean()) },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: true },
);

export type JitRequestBody = Static<typeof JitRequest>;

export const JitResponse = Type.Object({
  jit_funding: Type.Object({
    token: Type.String(),
    method: Type.String(),
    user_token: Type.String(),
    acting_user_token: Type.String(),
    amount: Type.Number(),
    decline_reason: Type.Optional(Type.String()),
    memo: Type.String(),
    tags: Type.Optional(Type.String()),
    original_jit_funding_token: Type.Optional(Type.String()),
    balances: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Object({
          currency_code: Type.String(),
          available_balance: Type.Number(),
          ledger_balance: Type.Number(),
        }),
      ),
    ),
  }),
});

export type JitResponseBody = Static<typeof JitResponse>;
