// API keys: `afc_<prefix>_<secret>`. The prefix is public (it finds the row and appears in
// listings); the database keeps only the SHA-256 of the whole key, compared in constant time.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const KEY_FORMAT = /^afc_([a-z0-9]{8,32})_([A-Za-z0-9_-]{32,128})$/;
/** Compared against when no row matches, so an unknown prefix costs the same work. */
const DUMMY_SHA256 = createHash('sha256').update('afc_unknown').digest();

export interface ParsedKey {
  readonly prefix: string;
  readonly key: string;
}

export function parseKey(key: string): ParsedKey | null {
  const match = KEY_FORMAT.exec(key);
  return match === null ? null : { prefix: match[1]!, key };
}

export function generateKey(): string {
  return `afc_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`;
}

export function keySha256(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

export function keyMatches(key: string, stored_sha256: Buffer | null): boolean {
  const expected = stored_sha256 ?? DUMMY_SHA256;
  return timingSafeEqual(keySha256(key), expected) && stored_sha256 !== null;
}

const RANK: Readonly<Record<Scope, number>> = { read: 1, write: 2, admin: 3 };

/** Scopes are ranked: admin can do what write can, write what read can. */
export function hasScope(scopes: readonly Scope[], needed: Scope): boolean {
  return scopes.some((scope) => RANK[scope] >= RANK[needed]);
}

/** Who is calling: one API key, program-wide (company_id null) or of one company. */
export interface Principal {
  readonly key_id: string;
  readonly company_id: string | null;
  readonly scopes: readonly Scope[];
}
