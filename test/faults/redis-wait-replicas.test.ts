// REDIS_WAIT_REPLICAS=1: a decision is answered only once a replica holds it. A private master
// with one replica; while the replica is stopped (SIGSTOP) no decision can be acknowledged, so
// each is answered `system_error` and voided (its hold released, nothing approved in Redis);
// once the replica runs again, decisions are approved again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, waitFor } from '../../shared/dev/processes.ts';
import { createBusinessCard } from '../support/cardholders.ts';
import { authorizeThrough, startTestGateway } from '../support/gateway-harness.ts';
import { jitRequest } from '../support/jit-requests.ts';

let master: Awaited<ReturnType<typeof startPrivateRedis>>;
let replica: Awaited<ReturnType<typeof startPrivateRedis>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;

beforeAll(async () => {
  master = await startPrivateRedis(['--repl-diskless-sync-delay', '0']);
  replica = await startPrivateRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  gw = await startTestGateway({
    REDIS_URL: master.url,
    REDIS_WAIT_REPLICAS: '1',
    // Generous: on a loaded machine a running replica can take well over 100 ms to acknowledge.
    REDIS_WAIT_TIMEOUT_MS: '1000',
    DECISION_BUDGET_MS: '2000',
  });
  await waitFor(
    async () => (await gw.redis.info('replication')).includes('connected_slaves:1'),
    'replica linked',
  );
});
afterAll(async () => {
  await gw?.close();
  await replica?.destroy();
  await master?.destroy();
});

function authorize(body: Record<string, unknown>) {
  return authorizeThrough(gw, body);
}

describe('REDIS_WAIT_REPLICAS=1', () => {
  it('answers once a replica holds the decision; without a replica, system_error and the hold voided', async () => {
    const card = await createBusinessCard(gw.sql, { daily_limit_minor: 5_000n });
    expect((await authorize(jitRequest({ ...card, amount: 10 }))).status).toBe(200);

    replica.pause();
    let unacknowledged: Awaited<ReturnType<typeof authorize>>;
    try {
      unacknowledged = await authorize(jitRequest({ ...card, amount: 40 }));
    } finally {
      replica.resume();
    }
    expect(unacknowledged.status).toBe(402);
    expect(unacknowledged.jit).toMatchObject({ memo: 'system_error' });
    // 10.00 spent: 40.00 more fits the 50.00 day only because the unacknowledged 40.00 was voided.
    expect((await authorize(jitRequest({ ...card, amount: 40 }))).status).toBe(200);
  });
});
