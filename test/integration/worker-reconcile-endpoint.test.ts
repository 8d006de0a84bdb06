// The worker's GET /reconcile (worker/reconcile/standing-differences.ts), which the console's
// operations page shows: a difference between Redis and the ledger that stands is reported; one
// that is gone when compared again (a decision on its way to the ledger) is not.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/logger.ts';
import { decisionKeys } from '../../shared/redis-keys.ts';
import { connectRedis } from '../../shared/stores/redis.ts';
import { createWorker, type Worker } from '../../worker/worker.ts';
import { createBusinessCard } from '../support/cardholders.ts';
import { testWorkerConfig } from '../support/worker-harness.ts';

// A key prefix of its own: only this test's ledger hashes are compared card by card.
const config = testWorkerConfig({ REDIS_KEY_PREFIX: `rc${randomUUID().slice(0, 8)}` });
const redis = connectRedis({
  url: config.redis_url,
  cluster_nodes: [],
  connection_name: 'afc-test-reconcile',
});
let worker: Worker;

beforeAll(async () => {
  await redis.connect();
  worker = await createWorker(config, createLogger('worker-test', process.env.LOG_LEVEL ?? 'silent'), {
    consumers: [],
  });
});
afterAll(async () => {
  const keys = await redis.keys(`${config.redis_key_prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await worker?.close();
});

describe('worker GET /reconcile', () => {
  it('reports a difference that stands, not one the ledger catches up with meanwhile', async () => {
    const layout = { prefix: config.redis_key_prefix, shards: config.redis_shards };
    const standing = await createBusinessCard(worker.sql);
    const passing = await createBusinessCard(worker.sql);
    const ledgerKey = (card: { user_token: string; card_token: string }) =>
      decisionKeys(layout, card.user_token, card.card_token, '').ledger;
    // Redis holds 500 the ledger does not know; for the second card only for a moment.
    await redis.hset(ledgerKey(standing), { held: '500', pend: '0' });
    await redis.hset(ledgerKey(passing), { held: '700', pend: '0' });
    const answer = fetch(`http://127.0.0.1:${worker.health_port}/reconcile`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await redis.hset(ledgerKey(passing), { held: '0' });
    const response = await answer;
    expect(response.status).toBe(200);
    const report = (await response.json()) as {
      cards_checked: number;
      cards_with_differences: number;
      differences: Array<{ card_token: string; field: string; redis: string | null; ledger: string | null }>;
    };
    expect(report.cards_checked).toBe(2);
    // The ledger-wide checks (negative rows) also see what other tests left in PostgreSQL.
    const mine = report.differences.filter((d) =>
      [standing.card_token, passing.card_token].includes(d.card_token),
    );
    expect(mine).toEqual([{ card_token: standing.card_token, field: 'held', redis: '500', ledger: '0' }]);
    expect(report.cards_with_differences).toBeGreaterThanOrEqual(1);
  });
});
