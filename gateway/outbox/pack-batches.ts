// Groups the outbox entries of one relay read into decision batch messages
// (shared/decision-batch.ts): one run per routing key, in read order, each closed at
// `decisions_max` entries or before its lines would pass `bytes_max` (an entry larger than that
// goes alone: never refused, never split).

import { batchMessageId, lineBytes, packEntry } from '../../shared/decision-batch.ts';

export interface OutboxBatch {
  readonly routing_key: string;
  readonly message_id: string;
  readonly lines: readonly string[];
}

interface OpenBatch {
  readonly lines: string[];
  bytes: number;
  readonly first_id: string;
  last_id: string;
}

export function packBatches(
  entries: ReadonlyArray<{ readonly id: string; readonly fields: readonly string[] }>,
  decisions_max: number,
  bytes_max: number,
): { batches: OutboxBatch[]; decided_at_ms: number[] } {
  const open = new Map<string, OpenBatch>();
  const batches: OutboxBatch[] = [];
  const decided_at_ms: number[] = [];
  const close = (routing_key: string, batch: OpenBatch) => {
    open.delete(routing_key);
    const message_id = batchMessageId(batch.first_id, batch.last_id, batch.lines.length);
    batches.push({ routing_key, message_id, lines: batch.lines });
  };
  for (const { id, fields } of entries) {
    const packed = packEntry(id, fields);
    decided_at_ms.push(packed.decided_at_ms);
    const bytes = lineBytes(packed.line);
    let batch = open.get(packed.routing_key);
    if (batch !== undefined && batch.bytes + bytes > bytes_max) {
      close(packed.routing_key, batch);
      batch = undefined;
    }
    if (batch === undefined) {
      batch = { lines: [], bytes: 0, first_id: id, last_id: id };
      open.set(packed.routing_key, batch);
    }
    batch.lines.push(packed.line);
    batch.bytes += bytes;
    batch.last_id = id;
    if (batch.lines.length >= decisions_max) close(packed.routing_key, batch);
  }
  for (const [routing_key, batch] of open) close(routing_key, batch);
  return { batches, decided_at_ms };
}
