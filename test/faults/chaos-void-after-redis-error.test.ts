// Found by the chaos suite: Redis killed after it ran a decision but before its reply reached
// the gateway. The gateway answered `system_error`, yet Redis came back from its AOF with the
// approval recorded and relayed it. The gateway now voids every call answered `system_error`,
// retrying until Redis answers again, so Redis ends up agreeing with the answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecisionStatus } from '../../shared/decision-status.ts';
import { decisionKeys } from '../../shared/redis-keys.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';
import { createBusinessCard, uniqueToken } from '../support/cardholders.ts';
import { startPrivateRedis, waitFor } from '../../shared/dev/processes.ts';

let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let gw: Awaited<ReturnType<typeof startTestGateway>>;

beforeAll(async () => {
  redis = await startPrivateRedis(['--appendonly', 'yes', '--appendfsync', 'everysec']);
  gw = await startTestGateway({ REDIS_URL: redis.url });
});
afterAll(async () => {
  await gw?.close();
  await redis?.destroy();
});

describe('a decision answered system_error', () => {
  it('is recorded as system_error once Redis is back, so a replay gets the same decline', async () => {
    const card = await createBusinessCard(gw.sql);
    const authorize = (body: Record<string, unknown>) =>
      gw.app.inject({
        method: 'POST',
        url: '/api/transactions/authorize',
        headers: { authorization: basicAuth() },
        payload: body,
      });
    expect((await authorize(jitRequest({ ...card, amount: 1 }))).statusCode).toBe(200);
    const jit_token = uniqueToken('jit');
    const request = jitRequest({ ...card, amount: 5, jit_token });
    await redis.stop();
    let down: Awaited<ReturnType<typeof authorize>>;
    try {
      down = await authorize(request);
    } finally {
      await redis.start();
    }
    expect(down.statusCode).toBe(402);
    expect(down.json().jit_funding.memo).toBe('system_error');
    const record = decisionKeys(gw.layout, card.user_token, card.card_token, jit_token).decision;
    await waitFor(
      async () => (await gw.redis.hget(record, 's')) === String(DecisionStatus.SYSTEM_ERROR),
      'the retried void to record system_error',
      10_000,
    );
    const replay = await authorize(request);
    expect(replay.statusCode).toBe(402);
    expect(replay.json().jit_funding.memo).toBe('system_error');
  });
});
