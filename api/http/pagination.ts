// Cursor pagination: newest first, ordered by (created_at, id). The cursor is opaque to
// clients: base64url JSON of the last row's sort key.

import Type from 'typebox';
import { ApiError } from '../../shared/errors.ts';

export const PAGE_SIZE_DEFAULT = 50;
export const PAGE_SIZE_MAX = 100;

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_SIZE_MAX, default: PAGE_SIZE_DEFAULT })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' })),
};

export interface SortKey {
  /** created_at, as text that round-trips exactly in its store (PostgreSQL keeps microseconds). */
  readonly at: string;
  readonly id: string;
}

export function encodeCursor(key: SortKey): string {
  return Buffer.from(JSON.stringify([key.at, key.id])).toString('base64url');
}

export const UUID_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const OBJECT_ID = /^[0-9a-f]{24}$/;
/** A personal transaction's `_id`: its JIT token (a Marqeta token, gateway/jit/schema.ts) or an ObjectId. */
export const PERSONAL_TRANSACTION_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)$/;

/** Decodes a cursor whose id must match `id_format` (uuid for PostgreSQL, ObjectId for MongoDB). */
export function decodeCursor(cursor: string | undefined, id_format: RegExp): SortKey | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2) {
      const [at, id] = value as unknown[];
      if (typeof at === 'string' && typeof id === 'string' && TIMESTAMP.test(at) && id_format.test(id))
        return { at, id };
    }
  } catch {
    // Falls through to the 400 below.
  }
  throw new ApiError('API_ERR_BAD_REQUEST', 'The cursor is invalid.', [
    { path: 'querystring/cursor', message: 'is invalid' },
  ]);
}

export interface Page<T> {
  readonly data: T[];
  readonly next_cursor: string | null;
}

/** Rows were fetched with limit + 1: the extra row only says there is a next page. */
export function pageOf<R, T>(
  rows: readonly R[],
  limit: number,
  keyOf: (row: R) => SortKey,
  view: (row: R) => T,
): Page<T> {
  const shown = rows.slice(0, limit);
  const last = shown[shown.length - 1];
  return {
    data: shown.map(view),
    next_cursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null,
  };
}
