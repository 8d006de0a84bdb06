// Money state is never evictable by construction: the decision scripts give a TTL to the cached
// parts only, so a `volatile-*` maxmemory policy can evict nothing else. Decision and
// authorization records live without a TTL for the idempotency window and are deleted by age by
// decide-10.lua (RETENTION_TRIM_MAX per call at most).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETENTION_TRIM_MAX } from '../../gateway/decide/scripts.ts';
import { DecisionStatus } from '../../shared/decision-status.ts';
import { uniqueToken } from '../support/cardholders.ts';
import { scriptHarness } from '../support/script-harness.ts';

/** The harness decides with a 3600 s idempotency window. */
const WINDOW_MS = 3600 * 1000;

let h: Awaited<ReturnType<typeof scriptHarness>>;
beforeAll(async () => {
  h = await scriptHarness();
});
afterAll(async () => {
  await h.close();
});

function cardholder() {
  return { user_token: uniqueToken('u'), card_token: uniqueToken('c') };
}

describe('decide-10.lua: what may be evicted', () => {
  it('only the cached parts carry a TTL; ledger, records, velocity, outbox and retention set never do', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, {
      kind: 'personal',
      balance_minor: 10_000n,
      limits: { vel_max: '5', vel_win_s: '60' },
    });
    const auth = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 700n });
    expect(auth.status).toBe(DecisionStatus.APPROVED);
    const original = auth.keys.decision.split(':jit:')[1]!;
    const reversal = await h.decide({
      ...c,
      jit_token: uniqueToken('j'),
      original_jit_token: original,
      mode: 'reversal',
      amount_minor: 200n,
    });
    const k = reversal.keys;
    for (const key of [k.user, k.card, k.limits, k.balance])
      expect(await h.redis.pttl(key)).toBeGreaterThan(0);
    const money = [k.ledger, auth.keys.decision, k.decision, k.auth, k.velocity, k.outbox, k.retained];
    for (const key of money) expect({ key, pttl: await h.redis.pttl(key) }).toEqual({ key, pttl: -1 });
    expect(await h.redis.zscore(k.retained, auth.keys.decision)).not.toBeNull();
    expect(await h.redis.zscore(k.retained, k.auth)).not.toBeNull();
    // The ledger names its last change for the start-up preload.
    expect(Number((await h.ledger(c.user_token, c.card_token)).t)).toBeGreaterThan(0);
  });

  it('a void records its TIMEOUT decline without a TTL, listed for the window', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token);
    const keys = (await h.decide({ ...c, jit_token: uniqueToken('x'), amount_minor: 1n })).keys;
    const tomb = { ...keys, decision: keys.decision.replace(/:jit:.*$/, `:jit:${uniqueToken('j')}`) };
    await h.scripts.void(tomb, {
      request_json: '{}',
      status_code: DecisionStatus.TIMEOUT,
      now_ms: Date.now(),
      call_id: 'c1',
    });
    expect(await h.redis.pttl(tomb.decision)).toBe(-1);
    expect(await h.redis.zscore(tomb.retained, tomb.decision)).not.toBeNull();
  });
});

describe('decide-10.lua: records kept for the idempotency window, then deleted by age', () => {
  it('a replay within the window answers the first answer; past it, later calls delete the records', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { kind: 'personal', balance_minor: 1_000_000n });
    const start_ms = Date.now() - 2 * WINDOW_MS;
    const old: Array<Awaited<ReturnType<typeof h.decide>>> = [];
    for (let i = 0; i < RETENTION_TRIM_MAX; i++) {
      old.push(
        await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 10n, now_ms: start_ms + i }),
      );
    }
    const first = old[0]!;
    const jit_of = (r: (typeof old)[number]) => r.keys.decision.split(':jit:')[1]!;
    // Within the window: the first answer, nothing moved twice.
    const replay = await h.decide({
      ...c,
      jit_token: jit_of(first),
      amount_minor: 99n,
      now_ms: start_ms + WINDOW_MS - 1,
    });
    expect(replay).toMatchObject({ status: DecisionStatus.APPROVED, approved: 10, replayed: true });

    // Past the window of the old records: each decision deletes at most RETENTION_TRIM_MAX of
    // them (decisions and their authorization groups, 2 keys per old authorization), oldest first.
    const later_ms = start_ms + WINDOW_MS + RETENTION_TRIM_MAX + 1;
    const fresh = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 10n, now_ms: later_ms });
    const remaining = async () =>
      (
        await Promise.all(old.flatMap((r) => [h.redis.exists(r.keys.decision), h.redis.exists(r.keys.auth)]))
      ).reduce((a, b) => a + b, 0);
    expect(await remaining()).toBe(RETENTION_TRIM_MAX);
    expect(await h.redis.exists(first.keys.decision)).toBe(0);
    await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 10n, now_ms: later_ms + 1 });
    expect(await remaining()).toBe(0);
    expect(await h.redis.zcount(fresh.keys.retained, '-inf', later_ms - WINDOW_MS)).toBe(0);
    // The records of the recent decisions stay, and so does the ledger: 9 holds of 10 remain.
    expect(await h.redis.exists(fresh.keys.decision, fresh.keys.auth)).toBe(2);
    expect((await h.ledger(c.user_token, c.card_token)).held).toBe(String(10 * (RETENTION_TRIM_MAX + 2)));
  });

  it('a hold restarts its authorization group window', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token);
    const start_ms = Date.now() - 2 * WINDOW_MS;
    const auth = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 10n, now_ms: start_ms });
    const original = auth.keys.decision.split(':jit:')[1]!;
    const incremental = await h.decide({
      ...c,
      jit_token: uniqueToken('j'),
      original_jit_token: original,
      mode: 'incremental',
      amount_minor: 5n,
      now_ms: start_ms + WINDOW_MS - 1,
    });
    expect(incremental.status).toBe(DecisionStatus.APPROVED);
    await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1n, now_ms: start_ms + WINDOW_MS + 1 });
    // The original decision is past its window; its group was held in again within it.
    expect(await h.redis.exists(auth.keys.decision)).toBe(0);
    expect(await h.redis.hget(auth.keys.auth, 'held')).toBe('15');
  });
});
