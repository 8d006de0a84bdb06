// Marqeta webhook signature: HMAC of the raw body bytes with the shared secret (SHA-1 or
// SHA-256, hex), in a configurable header. Compared in constant time over the raw bytes,
// never over a re-serialized body.

import { createHmac, timingSafeEqual } from 'node:crypto';

export type HmacAlgorithm = 'sha1' | 'sha256';

export function signatureMatches(
  raw_body: Buffer,
  header: string | undefined,
  secret: string,
  algorithm: HmacAlgorithm,
): boolean {
  if (!header) return false;
  const expected = createHmac(algorithm, secret).update(raw_body).digest();
  // Accept a bare hex digest, optionally prefixed like "sha256=".
  const hex = header.includes('=') ? header.slice(header.indexOf('=') + 1) : header;
  if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== expected.length * 2) return false;
  return timingSafeEqual(Buffer.from(hex, 'hex'), expected);
}
