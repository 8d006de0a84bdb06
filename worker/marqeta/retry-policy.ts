// When and how long to wait before retrying a Marqeta call: exponential backoff with full
// jitter (a random delay between 0 and min(cap, base * 2^retry)), or the server's
// Retry-After when it sent one, both capped. Only 429, 5xx and transport failures retry;
// every other 4xx is final. Pure functions, so the rules are unit-tested without a server.

import type { MarqetaErrorCode } from './errors.ts';

export interface RetryPolicy {
  /** Retries after the first attempt (so at most max_retries + 1 attempts). */
  readonly max_retries: number;
  readonly backoff_base_ms: number;
  readonly backoff_cap_ms: number;
  /** A longer Retry-After is shortened to this: a worker slot must not block for minutes. */
  readonly retry_after_cap_ms: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  max_retries: 3,
  backoff_base_ms: 100,
  backoff_cap_ms: 2_000,
  retry_after_cap_ms: 10_000,
});

/** Hard ceiling on retries, whatever the configuration says (the seed: max 3). */
export const MAX_RETRIES_LIMIT = 3;

const RETRYABLE = new Set<MarqetaErrorCode>([
  'MQ_ERR_TIMEOUT',
  'MQ_ERR_NETWORK',
  'MQ_ERR_RATE_LIMITED',
  'MQ_ERR_SERVER',
]);

export function isRetryable(code: MarqetaErrorCode): boolean {
  return RETRYABLE.has(code);
}

/** Full-jitter backoff before retry number `retry` (1-based). `random` returns [0, 1). */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number): number {
  const ceiling_ms = Math.min(policy.backoff_cap_ms, policy.backoff_base_ms * 2 ** (retry - 1));
  return Math.floor(random() * ceiling_ms);
}

/**
 * Retry-After as milliseconds: delta-seconds ("3") or an HTTP date, capped; undefined when
 * absent or unreadable. A date in the past means "now".
 */
export function parseRetryAfterMs(
  header: string | string[] | undefined,
  now_ms: number,
  cap_ms: number,
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  let delay_ms: number;
  if (/^\d+$/.test(trimmed)) {
    delay_ms = Number(trimmed) * 1000;
  } else {
    const at_ms = Date.parse(trimmed);
    if (Number.isNaN(at_ms)) return undefined;
    delay_ms = Math.max(0, at_ms - now_ms);
  }
  return Math.min(delay_ms, cap_ms);
}

/** The wait before retry number `retry`: the server's Retry-After if given, else backoff. */
export function retryDelayMs(
  retry: number,
  retry_after_ms: number | undefined,
  policy: RetryPolicy,
  random: () => number,
): number {
  return retry_after_ms ?? backoffDelayMs(retry, policy, random);
}
