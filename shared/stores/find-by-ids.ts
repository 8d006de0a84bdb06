// Documents by `_id`, one equality query each. FerretDB (the MongoDB of our development and CI
// machines) reads `_id: x` from its primary key (2 ms) but answers `_id: {$in: [...]}` with a
// scan of the whole collection (800 ms at 3,000 documents, growing with the collection: the
// worker slowed down run after run, to ~70 decisions/s). On MongoDB both use the `_id` index.

import type { Collection, Document, Filter, ObjectId } from 'mongodb';
import { inParallel } from '../in-parallel.ts';

/** Lookups in flight at once (each a primary-key read on its own pooled connection). */
const LOOKUPS_IN_PARALLEL_MAX = 16;

export async function findByIds<T extends { _id: string | ObjectId }>(
  collection: Collection<T>,
  ids: readonly T['_id'][],
  projection?: Document,
): Promise<T[]> {
  const found: T[] = [];
  await inParallel(ids, LOOKUPS_IN_PARALLEL_MAX, async (_id) => {
    const doc = await collection.findOne({ _id } as Filter<T>, { projection });
    if (doc !== null) found.push(doc as T);
  });
  return found;
}
