// Refuses JSON bodies with MongoDB operator keys ("$ne", "$where", ...) anywhere in them,
// before validation: our schemas already refuse objects where strings are expected, and this
// makes sure no "$" key ever reaches a query or an update, even inside fields a schema lets
// through unchecked (Marqeta's messages carry many fields we accept and ignore).
// Marqeta never sends "$" keys, so a legitimate message is never refused.

import type { FastifyInstance } from 'fastify';
import { ApiError, type ErrorCode } from '../errors.ts';

/** Deeper bodies are refused outright: no message we accept nests this deep. */
const DEPTH_MAX = 32;

/** A JSON pointer segment (RFC 6901 escapes). */
function segment(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * The pointer segments of the first "$" key (or of the first level past DEPTH_MAX), innermost
 * first; null when none. Built on a hit only: walking a clean body (every JIT request) makes no
 * string per key.
 */
function operatorKeySegments(value: unknown, depth: number): string[] | null {
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= DEPTH_MAX) return [];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = operatorKeySegments(value[i], depth + 1);
      if (found !== null) {
        found.push(String(i));
        return found;
      }
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    if (key.startsWith('$')) return [segment(key)];
    const found = operatorKeySegments((value as Record<string, unknown>)[key], depth + 1);
    if (found !== null) {
      found.push(segment(key));
      return found;
    }
  }
  return null;
}

/** JSON pointer of the first "$" key (or of the first level past DEPTH_MAX), null when none. */
export function operatorKeyPath(value: unknown): string | null {
  const found = operatorKeySegments(value, 0);
  if (found === null) return null;
  return found.length === 0 ? '/' : `/${found.reverse().join('/')}`;
}

/** path_prefix names the request part in field paths where the service does ("body" in the API). */
export function refuseOperatorKeys(app: FastifyInstance, code: ErrorCode, path_prefix = ''): void {
  app.addHook('preValidation', (request, _reply, done) => {
    const path = operatorKeyPath(request.body);
    if (path === null) return done();
    done(
      new ApiError(code, 'The body contains a key starting with "$" or nests too deep.', [
        { path: `${path_prefix}${path}`, message: 'is not allowed' },
      ]),
    );
  });
}
