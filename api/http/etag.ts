// Optimistic concurrency: a resource's ETag is its version ("3"); a write with If-Match
// applies only to that version, else 409. Without If-Match the write applies to the
// version the server just read (still atomic: a concurrent change makes it a 409).

import type { FastifyReply } from 'fastify';
import { ApiError } from '../../shared/errors.ts';

const IF_MATCH = /^(?:W\/)?"(\d{1,9})"$/;

export function etagOf(version: number): string {
  return `"${version}"`;
}

export function setEtag(reply: FastifyReply, version: number): void {
  reply.header('etag', etagOf(version));
}

/** The version If-Match asks for; undefined when absent or `*`. */
export function ifMatchVersion(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const match = IF_MATCH.exec(header.trim());
  if (match === null) {
    throw new ApiError('API_ERR_BAD_REQUEST', 'If-Match must be an ETag of this API, e.g. "3".', [
      { path: 'headers/if-match', message: 'is not a valid ETag' },
    ]);
  }
  return Number(match[1]);
}
