// The decision batch format (shared/decision-batch.ts): what the relay packs is what the reader
// decodes, whatever the strings hold; unknown versions and malformed lines are refused, a bad
// line alone.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  batchMessageId,
  decisionEventOf,
  decodeBatch,
  encodeBatch,
  entryFields,
  lineBytes,
  packEntry,
} from '../../shared/decision-batch.ts';
import { effectsToJson, parseLedgerEffects } from '../../shared/ledger-effects.ts';
import { readDecisionBatch } from '../../worker/decisions/read-batch.ts';
import { outboxFields } from '../support/decision-batches.ts';

const REQUEST = {
  jit_token: 'jit-1',
  method: 'pgfs.authorization',
  transaction_token: 'txn-1',
  card_token: 'card-1',
  user_token: 'user-1',
  acting_user_token: 'user-1',
  amount_minor: '2500',
  currency_code: 'USD',
  network: 'VISA',
  merchant: { mid: '000000000011111', mcc: '5411', name: 'Café "Zoë"', country_code: 'USA' },
  day_id: '20261125',
  week_id: '2026-W48',
  month_id: '202611',
  year_id: '2026',
  original_jit_token: null,
  mode: 'auth',
  mcc_group: '',
};
const CARD_ID = '0f8fad5b-d9cb-469f-a165-70867728950e';
const USER_ID = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const FX = 'spend:d:20261125:2500:1;spend:a:all:2500:1;held:2500;hold:2500';

/** An outbox entry as decide-10.lua `record()` writes it. */
function approval(overrides: Record<string, string> = {}): string[] {
  const fields: Record<string, string> = {
    r: JSON.stringify(REQUEST),
    s: '0',
    a: '2500',
    k: 'business',
    ci: CARD_ID,
    ui: USER_ID,
    t: '1764000000000',
    rev: '1',
    mode: 'auth',
    av: '0',
    grp: 'jit-1',
    fx: FX,
    ls: 'txn:5000;d:0/20000',
    ...overrides,
  };
  return Object.entries(fields).flat();
}

describe('decision batch format', () => {
  it('routes by card kind and approval without parsing the request', () => {
    expect(packEntry('1-0', approval()).routing_key).toBe('decision.business.approved');
    expect(packEntry('1-0', approval({ k: 'personal', s: '1' })).routing_key).toBe(
      'decision.personal.declined',
    );
    expect(packEntry('1-0', approval({ k: '' })).routing_key).toBe('decision.unknown.approved');
    expect(packEntry('1-0', approval()).decided_at_ms).toBe(1764000000000);
  });

  it('decodes what the relay packed into the decision event, effects included', () => {
    const lines = [packEntry('1-0', approval()).line, packEntry('1-1', approval({ s: '14', rev: '2' })).line];
    const entries = decodeBatch(encodeBatch(lines));
    expect(entries.map((e) => e.outbox_id)).toEqual(['1-0', '1-1']);
    const event = decisionEventOf(entries[0]!);
    expect(event).toEqual({
      v: 1,
      request: REQUEST,
      kind: 'business',
      card_id: CARD_ID,
      user_id: USER_ID,
      status_code: 0,
      approved: true,
      memo: event.memo,
      decline_reason: null,
      approved_amount_minor: '2500',
      released_amount_minor: '0',
      available_minor: '0',
      group_token: 'jit-1',
      effects: effectsToJson(parseLedgerEffects(FX)),
      revision: 1,
      decided_at_ms: 1764000000000,
      state_order_ms: 1764000000000,
      limits_seen: 'txn:5000;d:0/20000',
      outbox_id: '1-0',
    });
    expect(decisionEventOf(entries[1]!)).toMatchObject({ approved: false, revision: 2, status_code: 14 });
    // The worker accepts both, and a decision as JSON (relays before batches) as one decision.
    expect(readDecisionBatch(encodeBatch(lines)).map((d) => d.error)).toEqual([null, null]);
    expect(readDecisionBatch(event).map((d) => d.event)).toEqual([event]);
  });

  it("orders a group's state by the script's `so`, else by the decision time", () => {
    const decoded = (fields: Record<string, string>) =>
      decisionEventOf(decodeBatch(encodeBatch([packEntry('1-0', approval(fields)).line]))[0]!);
    expect(decoded({ so: '1764000000002' }).state_order_ms).toBe(1764000000002);
    expect(decoded({}).state_order_ms).toBe(1764000000000);
    // A decision sent as JSON before the field existed: ordered by its decision time.
    const { state_order_ms: _, ...json } = decoded({});
    expect(readDecisionBatch(json)[0]!.event?.state_order_ms).toBe(1764000000000);
    // Never before its own decision: the script only ever moves a state later.
    expect(() => readDecisionBatch({ ...json, state_order_ms: 1 })).toThrow(/ordered before its decision/);
  });

  it('property: any field strings survive the trip (quotes, tabs, newlines, non-ASCII)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string({ unit: 'binary' }), (grp, mode, name) => {
        const request = { ...REQUEST, merchant: { ...REQUEST.merchant, name } };
        const flat = approval({ grp, mode, r: JSON.stringify(request) });
        const [entry] = decodeBatch(encodeBatch([packEntry('5-7', flat).line]));
        const fields = entryFields(entry!);
        expect(fields).toEqual(Object.fromEntries(chunks(flat)));
        expect(JSON.parse(fields.r!)).toEqual(request);
      }),
      { numRuns: 50 },
    );
    // A loaded shared machine makes this slow, never wrong.
  }, 30_000);

  it('the test harness writes events back as the scripts would', () => {
    const event = decisionEventOf(decodeBatch(encodeBatch([packEntry('1-0', approval()).line]))[0]!);
    const again = decisionEventOf(decodeBatch(encodeBatch([packEntry('1-0', outboxFields(event)).line]))[0]!);
    expect(again).toEqual(event);
  });

  it('refuses an unknown version and what is not a batch, naming why', () => {
    const body = encodeBatch([packEntry('1-0', approval()).line]).toString('utf8');
    expect(() => decodeBatch(body.replace('afc-decision-batch 1 ', 'afc-decision-batch 9 '))).toThrow(
      expect.objectContaining({ code: 'BATCH_ERR_VERSION', message: expect.stringMatching(/version 9/) }),
    );
    expect(() => decodeBatch('{"v":1}')).toThrow(expect.objectContaining({ code: 'BATCH_ERR_FORMAT' }));
    expect(() => decodeBatch(body.replace(' 1\n', ' 2\n'))).toThrow(/says 2 decisions, body has 1/);
    expect(() => readDecisionBatch(Buffer.from(body.replace(' 1 1\n', ' 2 1\n')))).toThrow(
      expect.objectContaining({ code: 'WK_ERR_UNSUPPORTED_VERSION' }),
    );
    expect(() => readDecisionBatch({ v: 1 })).toThrow(
      expect.objectContaining({ code: 'WK_ERR_INVALID_MESSAGE' }),
    );
  });

  it('a malformed decision fails alone; its neighbours decode', () => {
    const good = packEntry('1-0', approval()).line;
    const lines = [good, '1-1\t["s"]\t{}', packEntry('1-2', approval({ r: '{not json' })).line, good];
    const read = readDecisionBatch(encodeBatch(lines));
    expect(read.map((d) => d.error?.code ?? 'ok')).toEqual([
      'ok',
      'WK_ERR_INVALID_MESSAGE',
      'WK_ERR_INVALID_MESSAGE',
      'ok',
    ]);
  });

  it('counts bytes as UTF-8 and names a batch by its first and last outbox ids', () => {
    expect(lineBytes('é')).toBe(3);
    expect(batchMessageId('1-0', '1-9', 10)).toBe('batch:1-0..1-9:10');
  });
});

function chunks(flat: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
  return pairs;
}
