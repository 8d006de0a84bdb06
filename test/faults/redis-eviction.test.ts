// Redis at its memory limit (issue 20): a private redis-server with a small `maxmemory` and
// `volatile-lru` is filled far past the limit with cold cards' cached parts while a hot set of
// cards keeps deciding. Redis evicts cache keys only: decisions stay correct (each hot card
// stops at its daily limit, to the cent), cold cards load again on their next use, and no
// ledger hash, idempotency record, authorization group or outbox entry is lost: checked key by
// key, by replaying every JIT token, and by reconciling Redis with the ledger the worker wrote.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScripts } from '../../gateway/decide/scripts.ts';
import { startPrivateRedis } from '../../shared/dev/processes.ts';
import { CACHE_TTL_S, decisionKeys, outboxKeys } from '../../shared/redis-keys.ts';
import { reconcile } from '../../worker/reconcile/reconcile.ts';
import { createBusinessCard, type CreatedCard, uniqueToken } from '../support/cardholders.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, type JitOptions, jitRequest } from '../support/jit-requests.ts';
import { startTestWorker, waitUntil } from '../support/worker-harness.ts';

const HOT_CARDS = 3;
const COLD_CARDS = 20;
/** Each hot card: 100.00 a purchase against a 50.00 x 100 daily limit, so decision 51 is declined. */
const DAILY_LIMIT_MINOR = 5_000n;
const AMOUNT_MINOR = 100n;
const ROUNDS = 60;
/** Cold cards written per round, about 1 KB each: 60 rounds fill ~30 MB into a few MB of room. */
const BALLAST_PER_ROUND = 500;
/** Room above what the warm system uses, bytes: far less than the ballast. */
const HEADROOM_BYTES = 3 * 1024 * 1024;
const PADDING = ','.repeat(300);

type Answer = { status: number; jit_funding: Record<string, unknown> };

let redis_server: Awaited<ReturnType<typeof startPrivateRedis>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let ballast: Redis;

beforeAll(async () => {
  redis_server = await startPrivateRedis(['--maxmemory-policy', 'volatile-lru', '--maxmemory', '512mb']);
  gw = await startTestGateway(
    { REDIS_URL: redis_server.url },
    { relay_enabled: true, hold_expiry_enabled: false },
  );
  worker = await startTestWorker({ REDIS_URL: redis_server.url });
  ballast = new Redis(redis_server.url);
});
afterAll(async () => {
  ballast?.disconnect();
  await Promise.allSettled([gw?.close(), worker?.close()]);
  await redis_server?.destroy();
});

async function send(options: JitOptions): Promise<Answer> {
  const response = await gw.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization: basicAuth() },
    payload: jitRequest(options),
  });
  const body = response.json() as { jit_funding: Record<string, unknown> };
  return { status: response.statusCode, jit_funding: body.jit_funding };
}

async function info(section: string, field: string): Promise<number> {
  const text = await ballast.info(section);
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(text)?.[1]);
}

/** Cached parts of cards no test decides on, written as a fill writes them (with their TTLs). */
async function writeBallast(scripts: ReturnType<typeof loadScripts>, round: number): Promise<void> {
  const layout = gw.layout;
  await Promise.all(
    Array.from({ length: BALLAST_PER_ROUND }, (_, i) => {
      const user_token = `ballast_user_${round}_${i}`;
      const card_token = `ballast_card_${round}_${i}`;
      const keys = decisionKeys(layout, user_token, card_token, 'ballast');
      const parts = {
        card: {
          status: 'active',
          kind: 'business',
          user_token,
          currency: 'USD',
          card_id: card_token,
          user_id: user_token,
        },
        user: { status: 'active' },
        limits: { v: '2', mcc_block: `${PADDING}${card_token}${PADDING}` },
      };
      return scripts.fill(keys, parts, CACHE_TTL_S);
    }),
  );
}

async function metricValue(name: string): Promise<number> {
  const text = (await gw.internal_app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(' ').at(-1) ?? 0);
}

describe('Redis at maxmemory with volatile-lru', () => {
  it('evicts cold cache only: decisions stay correct, every record survives, Redis equals the ledger', async () => {
    const hot: CreatedCard[] = [];
    for (let i = 0; i < HOT_CARDS; i++)
      hot.push(await createBusinessCard(gw.sql, { daily_limit_minor: DAILY_LIMIT_MINOR }));
    const cold: CreatedCard[] = [];
    for (let i = 0; i < COLD_CARDS; i++)
      cold.push(await createBusinessCard(gw.sql, { daily_limit_minor: 1_000_000n }));

    const sent: Array<{ options: JitOptions; answer: Answer }> = [];
    // Every message names its JIT token, so a replay is the same message.
    const decide = async (message: JitOptions) => {
      const options = { ...message, jit_token: uniqueToken('jit') };
      const answer = await send(options);
      sent.push({ options, answer });
      return answer;
    };
    // Warm: every cold card decides once (its cache and ledger are now in Redis).
    for (const card of cold) expect((await decide({ ...card, amount: '1.00' })).status).toBe(200);
    await decide({ ...hot[0]!, amount: '0.00', method: 'pgfs.balanceinquiry' });

    // The limit: a little above what the warm system uses.
    const limit_bytes = (await info('memory', 'used_memory')) + HEADROOM_BYTES;
    await ballast.config('SET', 'maxmemory', String(limit_bytes));
    const evicted_before = await info('stats', 'evicted_keys');

    const approved_minor = new Map<string, bigint>(hot.map((card) => [card.card_token, 0n]));
    const scripts = loadScripts(ballast);
    for (let round = 0; round < ROUNDS; round++) {
      await writeBallast(scripts, round);
      for (const card of hot) {
        const answer = await decide({ ...card, amount: '1.00' });
        const spent = approved_minor.get(card.card_token)!;
        // The model: approved while it fits the daily limit, declined (not a system error) after.
        if (spent + AMOUNT_MINOR <= DAILY_LIMIT_MINOR) {
          expect(answer.status, `round ${round}`).toBe(200);
          approved_minor.set(card.card_token, spent + AMOUNT_MINOR);
        } else {
          expect(answer.status, `round ${round}`).toBe(402);
          expect(answer.jit_funding.memo).not.toMatch(/system_error|timeout/);
        }
      }
    }
    expect(await info('stats', 'evicted_keys')).toBeGreaterThan(evicted_before);
    expect(await info('memory', 'used_memory')).toBeLessThan(limit_bytes + 1024 * 1024);

    // Cold cards lost cached parts; their next decision loads them again and is approved.
    const card_keys = cold.map((card) => decisionKeys(gw.layout, card.user_token, card.card_token, '').card);
    const still_cached = await Promise.all(card_keys.map((key) => ballast.exists(key)));
    expect(still_cached.filter((n) => n === 0).length).toBeGreaterThan(0);
    for (const card of cold) expect((await decide({ ...card, amount: '1.00' })).status).toBe(200);
    expect(await Promise.all(card_keys.map((key) => ballast.exists(key)))).toEqual(card_keys.map(() => 1));

    // Key by key: every card's live ledger, every decision's idempotency record and every
    // authorization group is still there, none with a TTL; so are the outbox streams.
    for (const { options } of sent) {
      const keys = decisionKeys(gw.layout, options.user_token, options.card_token, options.jit_token!);
      expect(await ballast.exists(keys.ledger), options.card_token).toBe(1);
      expect(await ballast.pttl(keys.decision), options.jit_token).toBe(-1);
    }
    for (const { options, answer } of sent.filter(
      (s) => s.answer.status === 200 && s.options.method === undefined,
    )) {
      const keys = decisionKeys(gw.layout, options.user_token, options.card_token, options.jit_token!);
      expect(await ballast.hget(keys.auth, 'held'), `${options.jit_token} ${answer.status}`).toBe('100');
    }
    for (const stream of outboxKeys(gw.layout)) expect(await ballast.pttl(stream)).toBe(-1);

    // A replay of every token answers the first answer.
    for (const { options, answer } of sent) expect(await send(options), options.jit_token).toEqual(answer);

    // The metric saw the evictions (the gateway samples Redis every few seconds).
    await waitUntil(async () => (await metricValue('afc_redis_evicted_keys_total')) > 0);

    // Every decision reached the ledger through the outbox, and Redis equals it.
    const tokens = sent.map((s) => s.options.jit_token!);
    await waitUntil(async () => {
      const [row] = await gw.sql<{ count: number }[]>`
        SELECT count(*)::int AS count FROM transactions WHERE jit_token = ANY(${tokens}::text[])`;
      return row?.count === tokens.length;
    });
    await waitUntil(async () =>
      (await Promise.all(outboxKeys(gw.layout).map((s) => ballast.xlen(s)))).every((n) => n === 0),
    );
    const report = await reconcile(
      { redis: gw.redis, sql: gw.sql, db: gw.mongo.db(), key_prefix: gw.config.redis_key_prefix },
      { card_token: null, scope: 'checked_cards' },
    );
    expect(report.cards_checked).toBe(HOT_CARDS + COLD_CARDS);
    expect(report.differences).toEqual([]);
  });
});
