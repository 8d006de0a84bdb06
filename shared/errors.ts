// API error catalog: stable codes, one HTTP status each, one JSON shape for every error.
// Clients match on `error.code`, never on the message. README lists every code.

export const ErrorCodes = Object.freeze({
  GW_ERR_BAD_REQUEST: { status: 400, message: 'The request is invalid.' },
  GW_ERR_UNAUTHORIZED: { status: 401, message: 'Missing or invalid credentials.' },
  GW_ERR_FORBIDDEN: { status: 403, message: 'These credentials may not do that.' },
  GW_ERR_NOT_FOUND: { status: 404, message: 'No such resource.' },
  GW_ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed.' },
  GW_ERR_CONFLICT: { status: 409, message: 'The resource changed; fetch it and retry.' },
  GW_ERR_BODY_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  GW_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send application/json.' },
  GW_ERR_RATE_LIMITED: { status: 429, message: 'Too many requests; retry after the Retry-After delay.' },
  GW_ERR_INTERNAL: { status: 500, message: 'Internal error. It has been logged.' },
  GW_ERR_UNAVAILABLE: { status: 503, message: 'Temporarily unavailable; retry shortly.' },
  // UNDECIDED_ANSWER=standin: an application error, so Marqeta's Commando Mode stands in.
  GW_ERR_UNDECIDED: { status: 503, message: 'No decision could be made; stand in for it.' },
  // Management API (api/): the same shape, its own codes.
  API_ERR_BAD_REQUEST: { status: 400, message: 'The request is invalid.' },
  API_ERR_UNAUTHORIZED: { status: 401, message: 'Missing or invalid API key.' },
  API_ERR_FORBIDDEN: { status: 403, message: 'This API key may not do that.' },
  API_ERR_NOT_FOUND: { status: 404, message: 'No such resource.' },
  API_ERR_VERSION_CONFLICT: {
    status: 409,
    message: 'The resource changed (If-Match failed); fetch it and retry.',
  },
  API_ERR_INVALID_TRANSITION: { status: 409, message: 'The resource is not in a state that allows this.' },
  API_ERR_ALREADY_EXISTS: { status: 409, message: 'A resource with that unique value already exists.' },
  API_ERR_IDEMPOTENCY_KEY_REUSED: {
    status: 409,
    message: 'This Idempotency-Key was used for a different request.',
  },
  API_ERR_BODY_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  API_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send application/json.' },
  API_ERR_RATE_LIMITED: { status: 429, message: 'Too many requests; retry after the Retry-After delay.' },
  API_ERR_INTERNAL: { status: 500, message: 'Internal error. It has been logged.' },
  API_ERR_UNAVAILABLE: { status: 503, message: 'Temporarily unavailable; retry shortly.' },
} as const);

export type ErrorCode = keyof typeof ErrorCodes;

export interface FieldError {
  /** JSON pointer of the offending field, e.g. /gpa_order/jit_funding/amount */
  readonly path: string;
  readonly message: string;
}

export interface ErrorBody {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly fields?: readonly FieldError[];
  };
  readonly request_id: string;
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly fields?: readonly FieldError[];

  constructor(code: ErrorCode, message?: string, fields?: readonly FieldError[]) {
    super(message ?? ErrorCodes[code].message);
    this.code = code;
    this.status = ErrorCodes[code].status;
    this.fields = fields;
  }
}

export function errorBody(
  code: ErrorCode,
  request_id: string,
  message?: string,
  fields?: readonly FieldError[],
): ErrorBody {
  return {
    error: { code, message: message ?? ErrorCodes[code].message, ...(fields ? { fields } : {}) },
    request_id,
  };
}
