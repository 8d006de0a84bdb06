// Reads a decision batch message (shared/decision-batch.ts) into its decisions. A message that
// is not a batch of a known version fails whole; a line that cannot be decoded or checked
// fails alone (its neighbours are written), both with WorkerErrors that dead-letter at once.

import { Buffer } from 'node:buffer';
import {
  type BatchEntry,
  DecisionBatchError,
  decisionEventOf,
  decodeBatch,
  encodeBatch,
} from '../../shared/decision-batch.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { WorkerError } from '../errors.ts';
import { checkDecisionEvent, eventKey } from './event-schema.ts';

export type ReadDecision =
  | { readonly entry: BatchEntry; readonly event: DecisionEvent; readonly error: null }
  | { readonly entry: BatchEntry; readonly event: null; readonly error: WorkerError };

/** Throws WK_ERR_UNSUPPORTED_VERSION or WK_ERR_INVALID_MESSAGE for the message as a whole. */
export function readDecisionBatch(body: unknown): ReadDecision[] {
  if (!Buffer.isBuffer(body) && typeof body !== 'string') {
    throw new WorkerError('WK_ERR_INVALID_MESSAGE', 'not a decision batch (body is not text)');
  }
  let entries: BatchEntry[];
  try {
    entries = decodeBatch(body);
  } catch (error) {
    throw asWorkerError(error);
  }
  return entries.map((entry) => {
    try {
      return { entry, event: checkDecisionEvent(decisionEventOf(entry)), error: null };
    } catch (error) {
      return { entry, event: null, error: asWorkerError(error) };
    }
  });
}

/** One decision of a batch as a message of its own, for its retry path or the DLQ. */
export function singleDecision(read: ReadDecision): { body: Buffer; message_id: string } {
  return {
    body: encodeBatch([read.entry.line]),
    message_id: read.event === null ? `outbox:${read.entry.outbox_id}` : eventKey(read.event),
  };
}

function asWorkerError(error: unknown): WorkerError {
  if (error instanceof WorkerError) return error;
  if (error instanceof DecisionBatchError && error.code === 'BATCH_ERR_VERSION') {
    return new WorkerError('WK_ERR_UNSUPPORTED_VERSION', error.message);
  }
  return new WorkerError('WK_ERR_INVALID_MESSAGE', error instanceof Error ? error.message : String(error));
}
