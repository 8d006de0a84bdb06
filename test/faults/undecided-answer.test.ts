// UNDECIDED_ANSWER=standin: a request the gateway cannot decide (Redis down, Redis past the
// budget, a replay of such a token) is answered 503 GW_ERR_UNDECIDED, never 200 or 402, holds
// nothing in Redis, and readiness and /metrics say so. A private Redis, stopped freely.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecisionStatus } from '../../shared/decision-status.ts';
import { decisionKeys } from '../../shared/redis-keys.ts';
import { createPersonalCard } from '../support/cardholders.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';
import { whileRedisPaused, whileRedisStopped } from '../support/redis-outage.ts';
import { startPrivateRedis, waitFor } from '../../shared/dev/processes.ts';

let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;

beforeAll(async () => {
  redis = await startPrivateRedis();
  gw = await startTestGateway({
    REDIS_URL: redis.url,
    DECISION_BUDGET_MS: '50',
    UNDECIDED_ANSWER: 'standin',
  });
});
afterAll(async () => {
  await gw?.close();
  await redis?.destroy();
});

function authorize(body: Record<string, unknown>) {
  return gw.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization: basicAuth() },
    payload: body,
  });
}

async function readiness() {
  return (await gw.internal_app.inject({ method: 'GET', url: '/api/health/ready' })).json() as {
    undecided: { mode: string; answered: { decline: number; standin: number; shed: number } };
  };
}

describe('UNDECIDED_ANSWER=standin', () => {
  it('answers 503 GW_ERR_UNDECIDED while Redis is down, and a replay gets it again once Redis is back', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    expect((await authorize(jitRequest({ ...card, amount: 1 }))).statusCode).toBe(200);
    const before = (await readiness()).undecided;
    expect(before.mode).toBe('standin');
    const request = jitRequest({ ...card, amount: 5 });
    const down = await whileRedisStopped(redis, () => authorize(request));
    expect(down.statusCode).toBe(503);
    expect(down.json().error.code).toBe('GW_ERR_UNDECIDED');
    const jit_token = (request.gpa_order as { jit_funding: { token: string } }).jit_funding.token;
    const keys = decisionKeys(gw.layout, card.user_token, card.card_token, jit_token);
    await waitFor(
      async () => (await gw.redis.hget(keys.decision, 's')) === String(DecisionStatus.SYSTEM_ERROR),
      'the void to record the undecided token',
      10_000,
    );
    const replay = await authorize(request);
    expect(replay.statusCode).toBe(503);
    const after = (await readiness()).undecided;
    expect(after.answered.standin).toBe(before.answered.standin + 2);
    expect(after.answered.decline).toBe(0);
  });

  it('answers 503 when Redis passes the budget, and the late approval is voided (nothing held)', async () => {
    const card = await createPersonalCard(gw.mongo.db(), { balance_minor: 10_000n });
    expect((await authorize(jitRequest({ ...card, amount: 1 }))).statusCode).toBe(200);
    const stalled = await whileRedisPaused(redis, () => authorize(jitRequest({ ...card, amount: 25 })));
    expect(stalled.statusCode).toBe(503);
    expect(stalled.json().error.code).toBe('GW_ERR_UNDECIDED');
    const ledger = decisionKeys(gw.layout, card.user_token, card.card_token, '').ledger;
    await waitFor(async () => (await gw.redis.hget(ledger, 'held')) === '100', 'void to release', 5_000);
    const metrics = (await gw.internal_app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/afc_undecided_answer_mode\{mode="standin"[^}]*\} 1/);
    expect(metrics).toMatch(/afc_undecided_requests_total\{cause="timeout",answer="standin"[^}]*\} 1/);
  });
});
