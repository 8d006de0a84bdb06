import { describe, expect, it } from 'vitest';
import { errorCodeForStatus, errorCodeForTransport } from '../../worker/marqeta/errors.ts';
import {
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  isRetryable,
  parseRetryAfterMs,
  retryDelayMs,
} from '../../worker/marqeta/retry-policy.ts';

const policy = DEFAULT_RETRY_POLICY;

describe('Marqeta retry policy', () => {
  it('retries 429, 5xx, timeouts and network errors, and never another 4xx', () => {
    expect(isRetryable(errorCodeForStatus(429))).toBe(true);
    for (const status of [500, 502, 503, 504]) expect(isRetryable(errorCodeForStatus(status))).toBe(true);
    for (const status of [400, 401, 403, 404, 409, 422])
      expect(isRetryable(errorCodeForStatus(status))).toBe(false);
    expect(isRetryable('MQ_ERR_TIMEOUT')).toBe(true);
    expect(isRetryable('MQ_ERR_NETWORK')).toBe(true);
  });

  it('maps statuses and transport errors to stable codes', () => {
    expect(errorCodeForStatus(401)).toBe('MQ_ERR_UNAUTHORIZED');
    expect(errorCodeForStatus(404)).toBe('MQ_ERR_NOT_FOUND');
    expect(errorCodeForStatus(409)).toBe('MQ_ERR_CONFLICT');
    expect(errorCodeForStatus(400)).toBe('MQ_ERR_CLIENT');
    expect(errorCodeForTransport({ code: 'UND_ERR_HEADERS_TIMEOUT' })).toBe('MQ_ERR_TIMEOUT');
    expect(errorCodeForTransport({ code: 'UND_ERR_CONNECT_TIMEOUT' })).toBe('MQ_ERR_TIMEOUT');
    expect(errorCodeForTransport({ code: 'ECONNREFUSED' })).toBe('MQ_ERR_NETWORK');
    expect(errorCodeForTransport({ code: 'UND_ERR_SOCKET' })).toBe('MQ_ERR_NETWORK');
    expect(errorCodeForTransport(new DOMException('late', 'TimeoutError'))).toBe('MQ_ERR_TIMEOUT');
    expect(errorCodeForTransport(new TypeError('a bug'))).toBeUndefined();
  });

  it('backs off exponentially with full jitter, capped', () => {
    expect(backoffDelayMs(1, policy, () => 0.999999)).toBe(99);
    expect(backoffDelayMs(2, policy, () => 0.999999)).toBe(199);
    expect(backoffDelayMs(3, policy, () => 0.999999)).toBe(399);
    expect(backoffDelayMs(10, policy, () => 0.999999)).toBe(policy.backoff_cap_ms - 1);
    expect(backoffDelayMs(3, policy, () => 0)).toBe(0);
  });

  it('reads Retry-After as seconds or as an HTTP date, capped, and ignores junk', () => {
    const now_ms = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfterMs('2', now_ms, 10_000)).toBe(2_000);
    expect(parseRetryAfterMs('3600', now_ms, 10_000)).toBe(10_000);
    expect(parseRetryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now_ms, 10_000)).toBe(5_000);
    expect(parseRetryAfterMs('Wed, 31 Dec 2025 23:59:00 GMT', now_ms, 10_000)).toBe(0);
    expect(parseRetryAfterMs('soon', now_ms, 10_000)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, now_ms, 10_000)).toBeUndefined();
  });

  it('prefers the server Retry-After over its own backoff', () => {
    expect(retryDelayMs(1, 1_500, policy, () => 0.5)).toBe(1_500);
    expect(retryDelayMs(1, undefined, policy, () => 0.5)).toBe(50);
  });
});
