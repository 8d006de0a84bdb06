// Reads of a batch's personal documents by `_id`, in one query per collection where the server
// serves `_id: {$in: [...]}` from its `_id` index: MongoDB, and FerretDB's SQLite back end as
// scripts/install-ferretdb.sh patches it (scripts/ferretdb/2-sqlite-id-in.patch). Unpatched, or
// on its PostgreSQL back end, FerretDB scans the whole collection for `$in` (800 ms at 3,000
// documents), so there the documents are read one `_id` equality at a time
// (shared/stores/find-by-ids.ts). FerretDB's explain says which (`filterPushdown`).

import type { Collection, Document, Filter, ObjectId } from 'mongodb';
import { findByIds } from '../../shared/stores/find-by-ids.ts';

/** Ids per `$in` query: one SQLite statement's bound parameters stay far below its limit. */
const IDS_PER_QUERY_MAX = 500;

/** Whether `_id: {$in}` reads from the index on this server (MongoDB's explain has no such field). */
export async function idInUsesIndex<T extends { _id: string }>(collection: Collection<T>): Promise<boolean> {
  const plan = await collection.find({ _id: { $in: ['explain'] } } as Filter<T>).explain();
  return plan.filterPushdown !== false;
}

/** The stored documents of these ids (missing ones left out), in no particular order. */
export async function readByIds<T extends { _id: string | ObjectId }>(
  collection: Collection<T>,
  ids: readonly T['_id'][],
  id_in_uses_index: boolean,
  projection?: Document,
): Promise<T[]> {
  if (!id_in_uses_index) return findByIds(collection, ids, projection);
  const found: T[] = [];
  for (let at = 0; at < ids.length; at += IDS_PER_QUERY_MAX) {
    const filter = { _id: { $in: ids.slice(at, at + IDS_PER_QUERY_MAX) } } as Filter<T>;
    found.push(...((await collection.find(filter, { projection }).toArray()) as T[]));
  }
  return found;
}
