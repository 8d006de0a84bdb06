// HTTP Basic auth for Marqeta's calls, compared in constant time: both sides are hashed to
// fixed-length digests first, so neither the length nor the content leaks through timing.

import { hash, timingSafeEqual } from 'node:crypto';

/** One-shot hashing: no Hash object per request on the hot path. */
function digest(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}

/**
 * `next_password`, when given, is accepted as well: the window of a password rotation. Both
 * candidates are always compared, so timing does not tell which one matched.
 */
export function basicAuthVerifier(
  user: string,
  password: string,
  next_password: string | null = null,
): (header: string | undefined) => boolean {
  const expected = [password, next_password ?? password].map((candidate) =>
    digest(`Basic ${Buffer.from(`${user}:${candidate}`).toString('base64')}`),
  );
  return (header) => {
    const received = digest(header ?? '');
    let matched = false;
    for (const candidate of expected) matched = timingSafeEqual(received, candidate) || matched;
    return matched;
  };
}
