// Reads a decision batch message (shared/decision-batch.ts) into its decisions. A message that
// is not a batch of a known version fails whole; a line that cannot be decoded or checked
// fails alone (its neighbours are written), both with WorkerErrors that dead-letter at once.
// A message of one decision as JSON (what relays published before batches) is still read, so
// workers can be upgraded before gateways and old messages drain.

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

interface ReadBase {
  readonly outbox_id: string;
  /** This decision as a message of its own (its retry path, the DLQ). */
  readonly alone: () => unknown;
}

export type ReadDecision = ReadBase &
  (
    | { readonly event: DecisionEvent; readonly error: null }
    | { readonly event: null; readonly error: WorkerError }
  );

/** Throws WK_ERR_UNSUPPORTED_VERSION or WK_ERR_INVALID_MESSAGE for the message as a whole. */
export function readDecisionBatch(body: unknown): ReadDecision[] {
  if (typeof body === 'object' && body !== null && !Buffer.isBuffer(body)) {
    const event = checkDecisionEvent(body);
    return [{ outbox_id: event.outbox_id, alone: () => body, event, error: null }];
  }
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
    const base = { outbox_id: entry.outbox_id, alone: () => encodeBatch([entry.line]) };
    try {
      return { ...base, event: checkDecisionEvent(decisionEventOf(entry)), error: null };
    } catch (error) {
      return { ...base, event: null, error: asWorkerError(error) };
    }
  });
}

/** One decision of a message as a message of its own, under its own id. */
export function singleDecision(read: ReadDecision): { body: unknown; message_id: string } {
  return {
    body: read.alone(),
    message_id: read.event === null ? `outbox:${read.outbox_id}` : eventKey(read.event),
  };
}

function asWorkerError(error: unknown): WorkerError {
  if (error instanceof WorkerError) return error;
  if (error instanceof DecisionBatchError && error.code === 'BATCH_ERR_VERSION') {
    return new WorkerError('WK_ERR_UNSUPPORTED_VERSION', error.message);
  }
  return new WorkerError('WK_ERR_INVALID_MESSAGE', error instanceof Error ? error.message : String(error));
}
