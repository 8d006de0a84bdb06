// The relay's packing of one read into decision batch messages: one run per routing key, read
// order kept, closed at the count or byte bound; an oversized entry travels alone.
import { describe, expect, it } from 'vitest';
import { packBatches } from '../../gateway/outbox/pack-batches.ts';
import { decodeBatch, encodeBatch, lineBytes, packEntry } from '../../shared/decision-batch.ts';

function entry(i: number, kind: string, status = '0', request = '{}') {
  return { id: `1-${i}`, fields: ['r', request, 's', status, 'k', kind, 't', String(1_000 + i)] };
}

describe('relay batch packing', () => {
  it('groups by routing key in read order and closes a batch at the count bound', () => {
    const entries = [
      entry(0, 'business'),
      entry(1, 'personal'),
      entry(2, 'business'),
      entry(3, 'business', '3'),
      entry(4, 'business'),
    ];
    const { batches, decided_at_ms } = packBatches(entries, 2, 1 << 20);
    expect(batches.map((b) => [b.routing_key, b.message_id])).toEqual([
      ['decision.business.approved', 'batch:1-0..1-2:2'],
      ['decision.personal.approved', 'batch:1-1..1-1:1'],
      ['decision.business.declined', 'batch:1-3..1-3:1'],
      ['decision.business.approved', 'batch:1-4..1-4:1'],
    ]);
    expect(decodeBatch(encodeBatch(batches[0]!.lines)).map((e) => e.outbox_id)).toEqual(['1-0', '1-2']);
    expect(decided_at_ms).toEqual([1000, 1001, 1002, 1003, 1004]);
  });

  it('closes a batch before it passes the byte bound; an entry larger than the bound goes alone', () => {
    const line_bytes = lineBytes(packEntry('1-0', entry(0, 'business').fields).line);
    const big = entry(9, 'business', '0', JSON.stringify({ note: 'x'.repeat(4 * line_bytes) }));
    const entries = [
      entry(0, 'business'),
      entry(1, 'business'),
      entry(2, 'business'),
      big,
      entry(3, 'business'),
    ];
    const { batches } = packBatches(entries, 100, 2 * line_bytes);
    expect(batches.map((b) => b.message_id)).toEqual([
      'batch:1-0..1-1:2',
      'batch:1-2..1-2:1',
      'batch:1-9..1-9:1',
      'batch:1-3..1-3:1',
    ]);
  });
});
