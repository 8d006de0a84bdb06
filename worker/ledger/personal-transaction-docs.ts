// `personal_transactions` documents: one per JIT token (`_id`), created by the first revision
// persisted and updated by later ones; `applied_revisions` says whose effects are applied.
// Pure: PersonalLedger reads which documents exist under the card's lock, then inserts the new
// ones of a card in one command (FerretDB writes a multi-document insert in one transaction,
// without the read an upsert makes) and updates each stored one with a single-statement update.

import { type Document, ObjectId } from 'mongodb';
import type { DecisionEvent } from '../../shared/messages.ts';
import { groupToken, recordAmounts, type TransactionStatus } from './lifecycle.ts';
import { type RecordFormat, transactionRecord } from './transaction-record.ts';

export interface TransactionDoc {
  _id: string;
  revision?: number;
  applied_revisions?: number[];
  [field: string]: unknown;
}

/** One event's write: its record status (its own, or its group's once settled) and times. */
export interface TransactionWrite {
  readonly event: DecisionEvent;
  readonly status: TransactionStatus;
  /** The key's first registration time (shared/personal-transaction-keys.ts). */
  readonly created_at: Date;
  readonly now: Date;
}

/** Fields a later revision replaces: the decision's outcome. The rest stay as first written. */
const OUTCOME_FIELDS = [
  'status',
  'status_code',
  'decline_reason',
  'memo',
  'approved_amount_minor',
  'revision',
  'released_amount_minor',
  'held_amount_minor',
] as const;

/** Revisions whose effects a transaction document says are applied (older documents: up to `revision`). */
export function recordedRevisions(doc: TransactionDoc | undefined): readonly number[] {
  if (doc === undefined) return [];
  if (Array.isArray(doc.applied_revisions)) return doc.applied_revisions.map(Number);
  return Array.from({ length: Number(doc.revision ?? 0) }, (_, i) => i + 1);
}

/** Ids as ObjectIds, windows as their ids (`20260115`, `2026W03`, ...). */
const DOCUMENT_FORMAT: RecordFormat<ObjectId, string> = {
  id: (id) => new ObjectId(id!),
  window: (_period, window_id) => window_id,
};

function transactionFields(event: DecisionEvent, status: TransactionStatus): Record<string, unknown> {
  const record = transactionRecord(event, recordAmounts(event), status, DOCUMENT_FORMAT);
  return { ...record, group_token: groupToken(event) };
}

function outcome(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(OUTCOME_FIELDS.map((f) => [f, fields[f]]));
}

/** The document of a JIT token none is stored for yet. */
export function newTransactionDoc(write: TransactionWrite): TransactionDoc {
  const { event, status, created_at, now } = write;
  return {
    ...transactionFields(event, status),
    _id: event.request.jit_token,
    created_at,
    updated_at: now,
    applied_revisions: [event.revision],
  };
}

/**
 * Adds a later event of the same JIT token to a document not stored yet (both revisions in one
 * batch), as transactionUpdate would change it once stored.
 */
export function addToNewDoc(doc: TransactionDoc, write: TransactionWrite): void {
  const { event, status, now } = write;
  const revisions = doc.applied_revisions ?? [];
  if (!revisions.includes(event.revision)) doc.applied_revisions = [...revisions, event.revision];
  if (event.revision !== 1)
    Object.assign(doc, outcome(transactionFields(event, status)), { updated_at: now });
}

/** The update of a stored document: revision 1 only marks itself (a later one may be stored). */
export function transactionUpdate(write: TransactionWrite): Document {
  const { event, status, now } = write;
  const mark = { $addToSet: { applied_revisions: event.revision } };
  if (event.revision === 1) return mark;
  return { ...mark, $set: { ...outcome(transactionFields(event, status)), updated_at: now } };
}
