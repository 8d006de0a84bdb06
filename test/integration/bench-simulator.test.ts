// The bench's Marqeta traffic simulator, in short mode against an in-process gateway on the
// real services: every answer keeps the JIT contract, must-decline classes decline for their
// reason, replays get the first answer. Correctness only: speed lives in `npm run bench`.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCardProgram, removeProgram, seedProgram, type CardProgram } from '../../bench/simulator/cards.ts';
import { checkAnswer } from '../../bench/simulator/contract.ts';
import { type PhaseResult, runPhase, type LoadTarget } from '../../bench/simulator/load.ts';
import { type RequestClass, TrafficGenerator } from '../../bench/simulator/traffic.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth } from '../support/jit-requests.ts';

type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;
let gw: TestGateway;
let program: CardProgram;
let target: LoadTarget;

beforeAll(async () => {
  gw = await startTestGateway();
  const address = await gw.app.listen({ host: '127.0.0.1', port: 0 });
  target = { origin: address, path: '/api/transactions/authorize', authorization: basicAuth() };
  program = newCardProgram(`bt${randomUUID().slice(0, 6)}`, 200);
  await seedProgram(gw.sql, gw.mongo.db(), program);
});
afterAll(async () => {
  await removeProgram(gw.sql, gw.mongo.db(), program);
  await gw.close();
});

function generator(phase_tag: string, seed: number): TrafficGenerator {
  return new TrafficGenerator({
    run_id: program.run_id,
    card_offset: 0,
    card_count: program.ordinary_count,
    seed,
    phase_tag,
  });
}

function outcomesOf(result: PhaseResult, cls: RequestClass): Record<string, number> {
  return result.outcomes[cls] ?? {};
}

describe('bench traffic simulator', () => {
  it('every answer of a closed-loop run keeps the JIT contract, and must-decline classes decline for their reason', async () => {
    const result = await runPhase(
      target,
      { name: 'closed', mode: 'closed', duration_ms: 2_500, connections: 16 },
      generator('c', 1),
    );
    expect(result.violations).toEqual({});
    expect(result.errors).toBe(0);
    expect(result.timeouts).toBe(0);
    expect(result.completed).toBeGreaterThan(200);
    expect(outcomesOf(result, 'authorization')).toEqual({
      approved: outcomesOf(result, 'authorization').approved,
    });
    expect(Object.keys(outcomesOf(result, 'over_limit'))).toEqual(['limit_exceeded']);
    expect(Object.keys(outcomesOf(result, 'blocked_mcc'))).toEqual(['merchant_restricted']);
    expect(Object.keys(outcomesOf(result, 'unknown_card'))).toEqual(['card_not_found']);
    expect(Object.keys(outcomesOf(result, 'inactive_card'))).toEqual(['card_inactive']);
    // Replays were sent and each matched its first answer (a mismatch would be a violation).
    expect(Object.values(outcomesOf(result, 'duplicate')).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('an open-loop run at a fixed rate answers every request it sent', async () => {
    const result = await runPhase(
      target,
      { name: 'open', mode: 'open', duration_ms: 2_000, connections: 64, rate_per_s: 150 },
      generator('o', 2),
    );
    expect(result.violations).toEqual({});
    expect(result.sent).toBeGreaterThan(250);
    expect(result.completed).toBe(result.sent);
  });

  it('the contract check flags an answer that does not echo the request or uses a reason outside the enum', () => {
    const request = generator('x', 3).next();
    const good = {
      jit_funding: {
        token: request.jit_token,
        method: request.method,
        user_token: request.card.user_token,
        acting_user_token: request.card.user_token,
        amount: Number(request.amount_minor) / 100,
        memo: 'limit_exceeded',
        decline_reason: 'AMOUNT_LIMIT_EXCEEDED',
      },
    };
    expect(checkAnswer(request, 402, JSON.stringify(good)).violation).toBeUndefined();
    const wrong_token = { jit_funding: { ...good.jit_funding, token: 'other' } };
    expect(checkAnswer(request, 402, JSON.stringify(wrong_token)).violation).toBe('token not echoed');
    const bad_reason = { jit_funding: { ...good.jit_funding, decline_reason: 'NOPE' } };
    expect(checkAnswer(request, 402, JSON.stringify(bad_reason)).violation).toMatch(/not in Marqeta's enum/);
    expect(checkAnswer(request, 500, '{}').violation).toMatch(/HTTP 500/);
  });
});
