import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RETENTION_TRIM_MAX } from '../../gateway/decide/scripts.ts';
import { DecisionStatus } from '../../shared/decision-status.ts';
import { bookedRetainedScore, decisionKeys, STANDIN_BOOKED_S } from '../../shared/redis-keys.ts';
import { uniqueToken } from '../support/cardholders.ts';
import { scriptHarness } from '../support/script-harness.ts';

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

describe('decide-10.lua against Redis', () => {
  it('reports a cache miss with the mask of missing parts and writes nothing', async () => {
    const c = cardholder();
    const r = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 100n });
    expect(r.status).toBe(-1);
    expect(r.missing).toBe(2 + 1 + 4 + 16);
    expect(await h.redis.exists(r.keys.decision)).toBe(0);
    expect(await h.redis.xlen(r.keys.outbox)).toBe(0);
  });

  it('a personal card without its cached balance is a miss (8), not an approval', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { kind: 'personal' });
    const r = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 100n });
    expect(r.status).toBe(-1);
    expect(r.missing).toBe(8);
  });

  it('approves, reserves the amount, counts it in the windows and writes one outbox entry', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { kind: 'personal', balance_minor: 10_000n });
    const r = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 2_500n });
    expect(r).toMatchObject({
      status: DecisionStatus.APPROVED,
      approved: 2500,
      replayed: false,
      kind: 'personal',
    });
    expect(await h.ledger(c.user_token, c.card_token)).toMatchObject({
      held: '2500',
      ds: '2500',
      ms: '2500',
    });
    const jit_token = r.keys.decision.split(':jit:')[1]!;
    const entries = await h.redis.xrange(r.keys.outbox, '-', '+');
    const mine = entries.filter(([, fields]) => fields[1]!.includes(jit_token));
    expect(mine).toHaveLength(1);
    expect(mine[0]![1]).toEqual(expect.arrayContaining(['s', '0', 'a', '2500', 'k', 'personal']));
    const fields = mine[0]![1];
    const fx = fields[fields.indexOf('fx') + 1]!;
    expect(fx.split(';')).toEqual(
      expect.arrayContaining(['spend:d:20261125:2500:1', 'spend:a:all:2500:1', 'held:2500', 'hold:2500']),
    );
  });

  it('a purchase records the limits and spend its amount rules saw; other messages record none', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, {
      kind: 'personal',
      balance_minor: 9_000n,
      limits: { per_txn: '5000', d_amt: '20000', vel_max: '5', vel_win_s: '60' },
    });
    const seen = async (r: Awaited<ReturnType<typeof h.decide>>) => {
      const jit_token = r.keys.decision.split(':jit:')[1]!;
      const entry = (await h.redis.xrange(r.keys.outbox, '-', '+')).find(([, f]) =>
        f[1]!.includes(jit_token),
      )!;
      const fields = entry[1];
      return fields.includes('ls') ? fields[fields.indexOf('ls') + 1] : null;
    };
    const first = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1_000n });
    expect(await seen(first)).toBe('txn:5000;d:0/20000;vel:0/5;bal:9000');
    const second = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 6_000n });
    expect(second.status).toBe(DecisionStatus.LIMIT_PER_TRANSACTION);
    expect(await seen(second)).toBe('txn:5000;d:1000/20000;vel:1/5;bal:8000');
    const balance = await h.decide({ ...c, jit_token: uniqueToken('j'), mode: 'balance', amount_minor: 0n });
    expect(await seen(balance)).toBeNull();
  });

  it('a replayed token returns the first answer and changes nothing', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { kind: 'personal', balance_minor: 1_000n });
    const jit_token = uniqueToken('j');
    const first = await h.decide({ ...c, jit_token, amount_minor: 600n });
    const outbox_len = await h.redis.xlen(first.keys.outbox);
    const replay = await h.decide({ ...c, jit_token, amount_minor: 600n });
    expect(replay).toMatchObject({ status: first.status, approved: first.approved, replayed: true });
    expect(await h.redis.xlen(first.keys.outbox)).toBe(outbox_len);
    expect((await h.ledger(c.user_token, c.card_token)).held).toBe('600');
  });

  it.each([
    ['card not active', { status: 'suspended' }, {}, DecisionStatus.CARD_INACTIVE],
    ['cardholder not active', { user_status: 'suspended' }, {}, DecisionStatus.CARDHOLDER_INACTIVE],
    ['currency differs', { currency: 'EUR' }, {}, DecisionStatus.CURRENCY_MISMATCH],
    ['zero amount', {}, { amount_minor: 0n }, DecisionStatus.INVALID_AMOUNT],
    ['per-transaction limit', { limits: { per_txn: '999' } }, {}, DecisionStatus.LIMIT_PER_TRANSACTION],
    ['daily limit', { limits: { d_amt: '999' } }, {}, DecisionStatus.LIMIT_DAILY],
    ['monthly limit', { limits: { m_amt: '999' } }, {}, DecisionStatus.LIMIT_MONTHLY],
    ['blocked MCC', { limits: { mcc_block: ',5812,7995,' } }, {}, DecisionStatus.MERCHANT_RESTRICTED],
    ['MCC not in allow list', { limits: { mcc_allow: ',5411,' } }, {}, DecisionStatus.MERCHANT_RESTRICTED],
    [
      'allow list and no MCC (fail closed)',
      { limits: { mcc_allow: ',5812,' } },
      { mcc: '' },
      DecisionStatus.MERCHANT_RESTRICTED,
    ],
    ['blocked merchant id', { limits: { mid_block: ',mid-1,' } }, {}, DecisionStatus.MERCHANT_RESTRICTED],
    [
      'insufficient balance',
      { kind: 'personal' as const, balance_minor: 999n },
      {},
      DecisionStatus.INSUFFICIENT_BALANCE,
    ],
  ])('declines: %s', async (_name, state, args, expected) => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, state);
    const r = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1_000n, ...args });
    expect(r.status).toBe(expected);
    expect(r.approved).toBe(0);
    expect((await h.ledger(c.user_token, c.card_token)).held).toBe('0');
    expect(await h.redis.hget(r.keys.decision, 's')).toBe(String(expected));
  });

  it.each([
    ['weekly limit', { w_amt: '999' }, DecisionStatus.LIMIT_WEEKLY],
    ['yearly limit', { y_amt: '999' }, DecisionStatus.LIMIT_YEARLY],
    ['all-time limit', { a_amt: '999' }, DecisionStatus.LIMIT_ALL_TIME],
    ['blocked country', { cc_block: ',USA,' }, DecisionStatus.COUNTRY_RESTRICTED],
    ['country not allowed', { cc_allow: ',CAN,MEX,' }, DecisionStatus.COUNTRY_RESTRICTED],
    ['dining category limit', { 'g:dining:d': '999' }, DecisionStatus.LIMIT_CATEGORY],
  ])('declines: %s', async (_name, limits, expected) => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { limits });
    const r = await h.decide({
      ...c,
      jit_token: uniqueToken('j'),
      amount_minor: 1_000n,
      mcc_group: 'dining',
    });
    expect(r.status).toBe(expected);
  });

  it('velocity: at most N approvals within the sliding window, then room again after it', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { limits: { vel_max: '2', vel_win_s: '60' } });
    const at = Date.parse('2026-11-25T12:00:00Z');
    expect((await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1n, now_ms: at })).status).toBe(
      0,
    );
    expect(
      (await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1n, now_ms: at + 1_000 })).status,
    ).toBe(0);
    expect(
      (await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1n, now_ms: at + 2_000 })).status,
    ).toBe(DecisionStatus.LIMIT_VELOCITY);
    expect(
      (await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1n, now_ms: at + 60_500 })).status,
    ).toBe(0);
  });

  it('a category limit counts only its own category', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { limits: { 'g:dining:d': '1500' } });
    expect(
      (await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1_000n, mcc_group: 'dining' }))
        .status,
    ).toBe(0);
    expect(
      (await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1_000n, mcc_group: 'grocery' }))
        .status,
    ).toBe(0);
    expect(
      (await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 600n, mcc_group: 'dining' })).status,
    ).toBe(DecisionStatus.LIMIT_CATEGORY);
  });

  it('declines a card that belongs to another cardholder', async () => {
    const c = cardholder();
    const keys = await h.seedCard(c.user_token, c.card_token);
    // The cached card names its real owner; the request claims another cardholder.
    await h.redis.hset(keys.card, 'user_token', 'someone-else');
    const r = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 100n });
    expect(r.status).toBe(DecisionStatus.CARD_USER_MISMATCH);
  });

  it('starts a new day window at zero without touching the month', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { limits: { d_amt: '1000', m_amt: '1500' } });
    expect(
      (await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1000n, day_id: '20261125' })).status,
    ).toBe(0);
    expect(
      (await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1n, day_id: '20261125' })).status,
    ).toBe(DecisionStatus.LIMIT_DAILY);
    expect(
      (await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 500n, day_id: '20261126' })).status,
    ).toBe(0);
    expect(
      (await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1n, day_id: '20261126' })).status,
    ).toBe(DecisionStatus.LIMIT_MONTHLY);
    expect(await h.ledger(c.user_token, c.card_token)).toMatchObject({
      dw: '20261126',
      ds: '500',
      ms: '1500',
    });
  });

  it('records a forced status without checks (unsupported method)', async () => {
    const c = cardholder();
    const r = await h.decide({
      ...c,
      jit_token: uniqueToken('j'),
      amount_minor: 100n,
      forced: DecisionStatus.UNSUPPORTED_METHOD,
    });
    expect(r.status).toBe(DecisionStatus.UNSUPPORTED_METHOD);
    expect(await h.redis.xlen(r.keys.outbox)).toBeGreaterThan(0);
  });

  it('void after a timeout releases an approval exactly once and turns it into a TIMEOUT decline', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { kind: 'personal', balance_minor: 5_000n });
    const jit_token = uniqueToken('j');
    const r = await h.decide({ ...c, jit_token, amount_minor: 1_200n, call_id: 'slow-call' });
    const voidArgs = {
      request_json: '{}',
      status_code: DecisionStatus.TIMEOUT,
      now_ms: Date.now(),
      call_id: 'slow-call',
    };
    const voided = await h.scripts.void(r.keys, voidArgs);
    expect(voided).toEqual({ previous_status: 0, released_minor: 1200n });
    const again = await h.scripts.void(r.keys, voidArgs);
    expect(again).toEqual({ previous_status: DecisionStatus.TIMEOUT, released_minor: 0n });
    expect(await h.ledger(c.user_token, c.card_token)).toMatchObject({ held: '0', ds: '0', ms: '0' });
    const replay = await h.decide({ ...c, jit_token, amount_minor: 1_200n });
    expect(replay).toMatchObject({ status: DecisionStatus.TIMEOUT, replayed: true });
  });

  it('a void after its group was cleared or reversed releases nothing more: held never goes below zero', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { kind: 'personal', balance_minor: 50_000n });
    const voidOf = (r: Awaited<ReturnType<typeof h.decide>>, call_id: string) =>
      h.scripts.void(r.keys, {
        request_json: '{}',
        status_code: DecisionStatus.TIMEOUT,
        now_ms: Date.now(),
        call_id,
      });
    // An incremental answered `timeout` whose void runs after the clearing of its group.
    const auth = uniqueToken('j');
    await h.decide({ ...c, jit_token: auth, amount_minor: 1_000n });
    const incremental = await h.decide({
      ...c,
      jit_token: uniqueToken('j'),
      original_jit_token: auth,
      mode: 'incremental',
      amount_minor: 200n,
      call_id: 'slow-incremental',
    });
    expect(incremental.status).toBe(DecisionStatus.APPROVED);
    const clearing = await h.decide({
      ...c,
      jit_token: uniqueToken('j'),
      original_jit_token: auth,
      mode: 'clearing',
      amount_minor: 1_200n,
    });
    expect(clearing.status).toBe(DecisionStatus.APPROVED);
    expect(await voidOf(incremental, 'slow-incremental')).toEqual({ previous_status: 0, released_minor: 0n });
    expect((await h.ledger(c.user_token, c.card_token)).held).toBe('0');
    expect(await h.redis.hget(incremental.keys.auth, 'held')).toBe('0');
    // A purchase answered `timeout` whose void runs after a partial reversal: only what is left.
    const second = await h.decide({
      ...c,
      jit_token: uniqueToken('j'),
      amount_minor: 500n,
      call_id: 'slow-auth',
    });
    await h.decide({
      ...c,
      jit_token: uniqueToken('j'),
      original_jit_token: second.keys.auth.split(':auth:')[1]!,
      mode: 'reversal',
      amount_minor: 300n,
    });
    expect(await voidOf(second, 'slow-auth')).toEqual({ previous_status: 0, released_minor: 200n });
    expect((await h.ledger(c.user_token, c.card_token)).held).toBe('0');
    // A later reversal of the settled group releases nothing and reports no negative amount.
    const late = await h.decide({
      ...c,
      jit_token: uniqueToken('j'),
      original_jit_token: auth,
      mode: 'reversal',
      amount_minor: 200n,
    });
    expect(late).toMatchObject({ status: DecisionStatus.APPROVED, approved: 0 });
  });

  it("a void after a slow replay never undoes the earlier call's approval", async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { kind: 'personal', balance_minor: 5_000n });
    const jit_token = uniqueToken('j');
    const first = await h.decide({ ...c, jit_token, amount_minor: 1_200n, call_id: 'first-call' });
    // The replay is answered from the record but took longer than the budget: its void comes.
    await h.decide({ ...c, jit_token, amount_minor: 1_200n, call_id: 'replay-call' });
    const k = first.keys;
    expect(
      await h.scripts.void(k, {
        request_json: '{}',
        status_code: DecisionStatus.TIMEOUT,
        now_ms: Date.now(),
        call_id: 'replay-call',
      }),
    ).toEqual({ previous_status: 0, released_minor: 0n });
    expect((await h.ledger(c.user_token, c.card_token)).held).toBe('1200');
    expect(await h.decide({ ...c, jit_token, amount_minor: 1_200n })).toMatchObject({
      status: 0,
      replayed: true,
    });
  });

  it('void before any decision leaves a TIMEOUT tombstone so a late decide is a replay', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token);
    const jit_token = uniqueToken('j');
    const keys = (await h.decide({ ...c, jit_token: uniqueToken('x'), amount_minor: 1n })).keys;
    const tomb = { ...keys, decision: keys.decision.replace(/:jit:.*$/, `:jit:${jit_token}`) };
    expect(
      await h.scripts.void(tomb, {
        request_json: '{}',
        status_code: DecisionStatus.TIMEOUT,
        now_ms: Date.now(),
        call_id: 'c1',
      }),
    ).toEqual({ previous_status: null, released_minor: 0n });
    const late = await h.decide({ ...c, jit_token, amount_minor: 100n });
    expect(late).toMatchObject({ status: DecisionStatus.TIMEOUT, replayed: true });
  });

  it("orders a group's states strictly, in the order applied, even within one millisecond", async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token);
    const now_ms = Date.now();
    const auth = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 50n, now_ms });
    const group = auth.keys.auth.split(':auth:')[1]!;
    const step = (mode: string, amount_minor: bigint, at_ms = now_ms) =>
      h.decide({
        ...c,
        jit_token: uniqueToken('j'),
        original_jit_token: group,
        mode,
        amount_minor,
        now_ms: at_ms,
      });
    const steps = [await step('clearing', 35n), await step('force_auth', 20n), await step('reversal', 20n)];
    const orders: Array<number | null> = [];
    for (const r of [auth, ...steps]) {
      const jit_token = r.keys.decision.split(':jit:')[1]!;
      const fields = (await h.redis.xrange(r.keys.outbox, '-', '+')).find(([, f]) =>
        f[1]!.includes(jit_token),
      )![1];
      orders.push(fields.includes('so') ? Number(fields[fields.indexOf('so') + 1]) : null);
    }
    // The authorization sets no state (the group starts pending); cleared, reopened, reversed do.
    expect(orders).toEqual([null, now_ms, now_ms + 1, now_ms + 2]);
    expect(await h.redis.hmget(auth.keys.auth, 'state', 'so')).toEqual(['reversed', String(now_ms + 2)]);
    // A state decided later is ordered by its decision time.
    await step('force_auth', 5n, now_ms + 100);
    expect(await h.redis.hmget(auth.keys.auth, 'state', 'so')).toEqual(['pending', String(now_ms + 100)]);
  });

  it('fill never overwrites an existing live ledger', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { held_minor: 700n });
    await h.seedCard(c.user_token, c.card_token, { held_minor: 0n });
    expect((await h.ledger(c.user_token, c.card_token)).held).toBe('700');
  });
});

// Money state is never evictable by construction: the scripts give a TTL to the cached parts
// only, so a `volatile-*` maxmemory policy can evict nothing else. Decision and authorization
// records have no TTL; decide-10.lua deletes them by age past the idempotency window.
/** The harness decides with a 3600 s idempotency window. */
const WINDOW_MS = 3600 * 1000;

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

  it('the velocity set (no TTL) stays within vel_max, and a window without a count keeps none', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token, { limits: { vel_max: '2', vel_win_s: '60' } });
    const now_ms = Date.now();
    for (let i = 0; i < 5; i++)
      await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1n, now_ms: now_ms + i });
    const keys = decisionKeys(h.layout, c.user_token, c.card_token, '');
    expect(await h.redis.zcard(keys.velocity)).toBe(2);
    const later = await h.decide({
      ...c,
      jit_token: uniqueToken('j'),
      amount_minor: 1n,
      now_ms: now_ms + 61_000,
    });
    expect(later.status).toBe(DecisionStatus.APPROVED);
    expect(await h.redis.zcard(keys.velocity)).toBe(1);

    const w = cardholder();
    await h.seedCard(w.user_token, w.card_token, { limits: { vel_win_s: '60' } });
    expect((await h.decide({ ...w, jit_token: uniqueToken('j'), amount_minor: 1n })).status).toBe(
      DecisionStatus.APPROVED,
    );
    expect(await h.redis.exists(decisionKeys(h.layout, w.user_token, w.card_token, '').velocity)).toBe(0);
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
  // The retained set is per shard: another test's cardholder on the same shard, with records
  // dated in the past, would take trim slots. Each test here gets its own key prefix.
  beforeEach(async () => {
    await h.close();
    h = await scriptHarness();
  });
  const jit_of = (r: { keys: { decision: string } }) => r.keys.decision.split(':jit:')[1]!;

  it('a replay within the window answers the first answer; past it, later calls delete the records', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token);
    const start_ms = Date.now() - 2 * WINDOW_MS;
    // Account verifications: decision records without an authorization group.
    const old: Array<Awaited<ReturnType<typeof h.decide>>> = [];
    for (let i = 0; i < 2 * RETENTION_TRIM_MAX; i++) {
      const jit_token = uniqueToken('j');
      old.push(await h.decide({ ...c, jit_token, mode: 'verify', amount_minor: 0n, now_ms: start_ms + i }));
    }
    const replay = await h.decide({
      ...c,
      jit_token: jit_of(old[0]!),
      mode: 'verify',
      amount_minor: 0n,
      now_ms: start_ms + WINDOW_MS - 1,
    });
    expect(replay).toMatchObject({ status: DecisionStatus.APPROVED, replayed: true });

    // Past their window: each decision deletes at most RETENTION_TRIM_MAX of them, oldest first.
    const later_ms = start_ms + WINDOW_MS + 2 * RETENTION_TRIM_MAX;
    const remaining = async () =>
      (await Promise.all(old.map((r) => h.redis.exists(r.keys.decision)))).reduce((a, b) => a + b, 0);
    const fresh = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 10n, now_ms: later_ms });
    expect(await remaining()).toBe(RETENTION_TRIM_MAX);
    expect(await h.redis.exists(old[0]!.keys.decision)).toBe(0);
    await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 10n, now_ms: later_ms + 1 });
    expect(await remaining()).toBe(0);
    expect(await h.redis.zcount(fresh.keys.retained, '-inf', later_ms - WINDOW_MS)).toBe(0);
    // Recent records stay, and the ledger is untouched by the trim.
    expect(await h.redis.exists(fresh.keys.decision, fresh.keys.auth)).toBe(2);
    expect((await h.ledger(c.user_token, c.card_token)).held).toBe('20');
  });

  it('an authorization group still holding money outlives the window; a settled one goes', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token);
    const start_ms = Date.now() - 2 * WINDOW_MS;
    const open = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 10n, now_ms: start_ms });
    const settled = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 7n, now_ms: start_ms });
    const reversal = await h.decide({
      ...c,
      jit_token: uniqueToken('j'),
      original_jit_token: jit_of(settled),
      mode: 'reversal',
      amount_minor: 7n,
      now_ms: start_ms + 1,
    });
    const now_ms = start_ms + WINDOW_MS + 10;
    await h.decide({ ...c, jit_token: uniqueToken('j'), mode: 'verify', amount_minor: 0n, now_ms });
    for (const r of [open, settled, reversal]) expect(await h.redis.exists(r.keys.decision)).toBe(0);
    expect(await h.redis.exists(settled.keys.auth)).toBe(0);
    // The open hold's group: kept, listed again from now, so a clearing still settles it.
    expect(await h.redis.hmget(open.keys.auth, 'state', 'held')).toEqual(['pending', '10']);
    expect(Number(await h.redis.zscore(open.keys.retained, open.keys.auth))).toBe(now_ms);
    const clearing = await h.decide({
      ...c,
      jit_token: uniqueToken('j'),
      original_jit_token: jit_of(open),
      mode: 'clearing',
      amount_minor: 10n,
      now_ms: now_ms + 1,
    });
    expect(clearing.status).toBe(DecisionStatus.APPROVED);
    expect((await h.ledger(c.user_token, c.card_token)).held).toBe('0');
  });

  it('a hold restarts its authorization group window', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token);
    const start_ms = Date.now() - 2 * WINDOW_MS;
    const auth = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 10n, now_ms: start_ms });
    const original = jit_of(auth);
    const step = (mode: string, amount_minor: bigint, now_ms: number) =>
      h.decide({
        ...c,
        jit_token: uniqueToken('j'),
        original_jit_token: original,
        mode,
        amount_minor,
        now_ms,
      });
    expect((await step('incremental', 5n, start_ms + WINDOW_MS - 2)).status).toBe(DecisionStatus.APPROVED);
    // Settled (nothing held), so only the restarted window keeps it.
    expect((await step('reversal', 15n, start_ms + WINDOW_MS - 1)).status).toBe(DecisionStatus.APPROVED);
    await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 1n, now_ms: start_ms + WINDOW_MS + 1 });
    expect(await h.redis.exists(auth.keys.decision)).toBe(0);
    expect(await h.redis.hmget(auth.keys.auth, 'state', 'held')).toEqual(['reversed', '0']);
  });

  it('a booked stand-in marker (no TTL) is listed dated forward: the same trim deletes it 400 days on', async () => {
    const c = cardholder();
    await h.seedCard(c.user_token, c.card_token);
    const booked_ms = Date.now() - STANDIN_BOOKED_S * 1000 - 2 * WINDOW_MS;
    const k = decisionKeys(h.layout, c.user_token, c.card_token, `standin:${uniqueToken('j')}`);
    await h.redis
      .multi()
      .set(k.booked, 'book_standin:100:0')
      .zadd(k.retained, bookedRetainedScore(booked_ms, WINDOW_MS / 1000), k.booked)
      .exec();
    expect(await h.redis.ttl(k.booked)).toBe(-1);
    // Long past the idempotency window, still short of 400 days: kept.
    const decide = (now_ms: number) =>
      h.decide({ ...c, jit_token: uniqueToken('j'), mode: 'verify', amount_minor: 0n, now_ms });
    await decide(booked_ms + STANDIN_BOOKED_S * 1000 - 1);
    expect(await h.redis.get(k.booked)).toBe('book_standin:100:0');
    await decide(booked_ms + STANDIN_BOOKED_S * 1000);
    expect(await h.redis.exists(k.booked)).toBe(0);
    expect(await h.redis.zscore(k.retained, k.booked)).toBeNull();
  });
});
