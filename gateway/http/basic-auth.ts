// HTTP Basic auth for Marqeta's calls, compared in constant time: both sides are hashed to
// fixed-length digests first, so neither the length nor the content leaks through timing.

import { createHash, timingSafeEqual } from 'node:crypto';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export function basicAuthVerifier(user: string, password: string): (header: string | undefined) => boolean {
  const expected = digest(`Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
  return (header) => timingSafeEqual(digest(header ?? ''), expected);
}
