// Schema of Marqeta's notification bodies (POST /api/webhooks/marqeta): only the fields the
// ledger reads are described, each with the type the JIT schema gives it, so an object where a
// token is expected ({"$ne": null}) is a 400 before it can reach a cache fill or a query.
// Unknown fields are accepted and ignored, as Marqeta adds fields over time.

import Type from 'typebox';
import { Amount, Token } from '../jit/schema.ts';

const TRANSACTIONS_PER_BODY_MAX = 1_000;
const Text = (max_length: number) =>
  Type.Optional(Type.Union([Type.String({ maxLength: max_length }), Type.Null()]));

const Order = Type.Object(
  {
    jit_funding: Type.Optional(
      Type.Object(
        {
          token: Type.Optional(Token),
          method: Type.Optional(Type.String({ maxLength: 80 })),
          user_token: Type.Optional(Token),
          amount: Type.Optional(Amount),
          original_jit_funding_token: Type.Optional(Token),
        },
        { additionalProperties: true },
      ),
    ),
    funding: Type.Optional(
      Type.Object(
        {
          gateway_log: Type.Optional(
            Type.Object({ timed_out: Type.Optional(Type.Boolean()) }, { additionalProperties: true }),
          ),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: true },
);

export const NotificationTransaction = Type.Object(
  {
    token: Type.Optional(Token),
    type: Text(80),
    state: Text(40),
    card_token: Type.Optional(Token),
    user_token: Type.Optional(Token),
    amount: Type.Optional(Amount),
    currency_code: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
    subnetwork: Text(40),
    standin_approved_by: Text(40),
    gpa_order: Type.Optional(Order),
    gpa_order_unload: Type.Optional(Order),
  },
  { additionalProperties: true },
);

export const NotificationBody = Type.Object(
  {
    transactions: Type.Optional(Type.Array(NotificationTransaction, { maxItems: TRANSACTIONS_PER_BODY_MAX })),
  },
  { additionalProperties: true },
);
