// Building blocks of the management API schemas (TypeBox: compiled for validation, and the
// source of the OpenAPI document). Amounts are integer minor units of the resource's
// currency: sent as a digit string or a JSON integer, always returned as a digit string.

import Type from 'typebox';

export const Uuid = Type.String({ format: 'uuid', description: 'PostgreSQL id (uuid)' });
export const ObjectIdHex = Type.String({
  pattern: '^[0-9a-f]{24}$',
  description: 'MongoDB id (24 hex digits)',
});
/** Business ids are uuids, personal ids MongoDB ObjectIds. */
export const AnyId = Type.String({
  pattern: '^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{24})$',
  description: 'uuid (business) or 24-hex ObjectId (personal)',
});
export const Token = Type.String({ minLength: 1, maxLength: 36, pattern: '^[A-Za-z0-9_-]+$' });
export const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' });
export const Email = Type.String({ format: 'email', maxLength: 255 });
export const Timestamp = Type.String({ format: 'date-time' });

/** Input amount in minor units: "1250" or 1250 (never a decimal). */
export const AmountMinorIn = Type.Union([
  Type.String({ pattern: '^\\d{1,16}$' }),
  Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
]);
export const AmountMinorOut = Type.String({ pattern: '^-?\\d+$', description: 'integer minor units' });
export const NullableAmountIn = Type.Union([AmountMinorIn, Type.Null()]);
export const NullableAmountOut = Type.Union([AmountMinorOut, Type.Null()]);

export const ErrorResponse = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    fields: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  }),
  request_id: Type.String(),
});

export function pageOf<T extends Parameters<typeof Type.Array>[0]>(item: T) {
  return Type.Object({ data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()]) });
}

/** The error responses every authenticated route may give, for the OpenAPI document. */
export const COMMON_ERRORS = {
  400: ErrorResponse,
  401: ErrorResponse,
  403: ErrorResponse,
  404: ErrorResponse,
  429: ErrorResponse,
} as const;

export const WRITE_ERRORS = {
  ...COMMON_ERRORS,
  409: ErrorResponse,
  413: ErrorResponse,
  415: ErrorResponse,
} as const;

export const IdParams = Type.Object({ id: AnyId });
