// Webhook signatures. Header: X-AFC-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
// where the HMAC key is the endpoint's secret and the signed text is "<t>.<raw body>".
// Signing the timestamp with the body lets a receiver reject a captured request replayed
// later; comparing in constant time keeps the expected signature from leaking by timing.
// During a secret rotation the header carries one v1 per valid secret (newest first), as
// Stripe does: a receiver that still has the old secret, or already the new one, verifies.

import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-afc-signature';
export const EVENT_ID_HEADER = 'x-afc-event-id';
export const EVENT_TYPE_HEADER = 'x-afc-event-type';

/** Receivers should accept a timestamp at most this far from their clock (either way). */
export const DEFAULT_TOLERANCE_S = 300;

/** A header longer than this is refused before any parsing (a few signatures fit easily). */
const HEADER_CHARS_MAX = 1024;

function hmacHex(secret: string, timestamp_s: number, raw_body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp_s}.`).update(raw_body).digest('hex');
}

export function signatureHeader(
  raw_body: string | Buffer,
  secrets: readonly string[],
  timestamp_s: number,
): string {
  if (secrets.length === 0) throw new Error('a webhook signature needs at least one secret');
  return [
    `t=${timestamp_s}`,
    ...secrets.map((secret) => `v1=${hmacHex(secret, timestamp_s, raw_body)}`),
  ].join(',');
}

export type VerifyResult =
  | { readonly valid: true; readonly timestamp_s: number }
  | {
      readonly valid: false;
      readonly reason: 'malformed' | 'timestamp_outside_tolerance' | 'signature_mismatch';
    };

/**
 * Checks an X-AFC-Signature header against the raw request body (the exact bytes received,
 * never a re-serialized body). Several v1 entries are allowed (secret rotation); one match is
 * enough. A timestamp further than tolerance_s from now_s is refused, which bounds replays.
 */
export function verifyWebhookSignature(
  raw_body: string | Buffer,
  header: string | undefined,
  secret: string,
  tolerance_s: number = DEFAULT_TOLERANCE_S,
  now_s: number = Math.floor(Date.now() / 1000),
): VerifyResult {
  if (header === undefined || header.length > HEADER_CHARS_MAX) return { valid: false, reason: 'malformed' };
  let timestamp_s: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't' && value !== undefined && /^\d{1,12}$/.test(value)) timestamp_s = Number(value);
    else if (key === 'v1' && value !== undefined && /^[0-9a-f]{64}$/.test(value)) candidates.push(value);
  }
  if (timestamp_s === undefined || candidates.length === 0) return { valid: false, reason: 'malformed' };
  if (Math.abs(now_s - timestamp_s) > tolerance_s)
    return { valid: false, reason: 'timestamp_outside_tolerance' };
  const expected = Buffer.from(hmacHex(secret, timestamp_s, raw_body), 'hex');
  let matched = false;
  // Every candidate is compared (no early exit), each in constant time.
  for (const candidate of candidates) {
    if (timingSafeEqual(Buffer.from(candidate, 'hex'), expected)) matched = true;
  }
  return matched ? { valid: true, timestamp_s } : { valid: false, reason: 'signature_mismatch' };
}
