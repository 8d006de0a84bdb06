// Marqeta API errors: one stable code each. Callers match on `code` (and `retryable`, which
// says whether trying the same call later may succeed), never on the message.

export const MarqetaErrorCodes = Object.freeze({
  /** No answer in time (connect, headers or body), after the client's retries. */
  MQ_ERR_TIMEOUT: { retryable: true, message: 'Marqeta did not answer in time.' },
  /** Connection refused, reset or closed, after the client's retries. */
  MQ_ERR_NETWORK: { retryable: true, message: 'Could not reach Marqeta.' },
  /** 429 after the client's retries. */
  MQ_ERR_RATE_LIMITED: { retryable: true, message: 'Marqeta is rate limiting us.' },
  /** 5xx after the client's retries. */
  MQ_ERR_SERVER: { retryable: true, message: 'Marqeta failed to handle the call.' },
  /** 401/403: our credentials are wrong or lack the permission. Never retried. */
  MQ_ERR_UNAUTHORIZED: { retryable: false, message: 'Marqeta refused our credentials.' },
  /** 404 on a lookup. Never retried. */
  MQ_ERR_NOT_FOUND: { retryable: false, message: 'No such object at Marqeta.' },
  /** 409 on a create, and the object holding the token is not the one we asked for. */
  MQ_ERR_CONFLICT: { retryable: false, message: 'The token is already used by a different object.' },
  /** Any other 4xx: the request is wrong. Never retried. */
  MQ_ERR_CLIENT: { retryable: false, message: 'Marqeta rejected the request.' },
  /** A 2xx whose body is not the JSON object expected, or is too large. */
  MQ_ERR_BAD_RESPONSE: { retryable: false, message: 'Marqeta answered with an unreadable body.' },
} as const);

export type MarqetaErrorCode = keyof typeof MarqetaErrorCodes;

export interface MarqetaErrorDetails {
  /** HTTP status of the last answer, when there was one. */
  readonly status?: number;
  /** Marqeta's own `error_code` from the body, when present. */
  readonly marqeta_error_code?: string;
  readonly attempts?: number;
  readonly cause?: unknown;
}

export class MarqetaError extends Error {
  readonly code: MarqetaErrorCode;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly marqeta_error_code: string | undefined;
  readonly attempts: number;

  constructor(code: MarqetaErrorCode, operation: string, details: MarqetaErrorDetails = {}) {
    const status = details.status === undefined ? '' : ` (HTTP ${details.status})`;
    super(`${operation}: ${MarqetaErrorCodes[code].message}${status}`, { cause: details.cause });
    this.name = 'MarqetaError';
    this.code = code;
    this.retryable = MarqetaErrorCodes[code].retryable;
    this.status = details.status;
    this.marqeta_error_code = details.marqeta_error_code;
    this.attempts = details.attempts ?? 1;
  }
}

/** The error code for an HTTP status that is not a success. */
export function errorCodeForStatus(status: number): MarqetaErrorCode {
  if (status === 429) return 'MQ_ERR_RATE_LIMITED';
  if (status >= 500) return 'MQ_ERR_SERVER';
  if (status === 401 || status === 403) return 'MQ_ERR_UNAUTHORIZED';
  if (status === 404) return 'MQ_ERR_NOT_FOUND';
  if (status === 409) return 'MQ_ERR_CONFLICT';
  return 'MQ_ERR_CLIENT';
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The error code for a thrown transport error, or undefined when it is not one (a bug). */
export function errorCodeForTransport(error: unknown): MarqetaErrorCode | undefined {
  // The per-attempt deadline (AbortSignal.timeout) rejects with a DOMException named so.
  if ((error as { name?: unknown } | null)?.name === 'TimeoutError') return 'MQ_ERR_TIMEOUT';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (TIMEOUT_CODES.has(code) || code === 'ETIMEDOUT') return 'MQ_ERR_TIMEOUT';
  // Connection-level codes from Node (ECONNRESET, ECONNREFUSED, EPIPE, ENOTFOUND...) and undici.
  if (code.startsWith('E') || code.startsWith('UND_ERR_')) return 'MQ_ERR_NETWORK';
  return undefined;
}
