// The bench's Marqeta traffic simulator, in short mode against an in-process gateway on the
// real services: every answer keeps the JIT contract, must-decline classes decline for their
// reason, replays get the first answer. Correctness only: speed lives in `npm run bench`.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withVhost } from '../../bench/runner/env.ts';
import { LedgerExpectations } from '../../bench/simulator/ledger.ts';
import { QUEUE_DECISIONS, QUEUE_PERSONAL_DECISIONS } from '../../shared/broker/topology.ts';
import { loadWorkerConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import { startDecisionConsumer, startPersonalDecisionConsumer } from '../../worker/decisions/consumer.ts';
import { createWorker } from '../../worker/worker.ts';
import { newCardProgram, removeProgram, seedProgram, type CardProgram } from '../../bench/simulator/cards.ts';
import { checkAnswer } from '../../bench/simulator/contract.ts';
import { FAIL_SAFE_MEMOS } from '../../bench/simulator/explanations.ts';
import { type PhaseResult, runPhase, type LoadTarget } from '../../bench/simulator/load.ts';
import { DEFAULT_MIX, type RequestClass, TrafficGenerator } from '../../bench/simulator/traffic.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth } from '../support/jit-requests.ts';

type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;
let gw: TestGateway;
let program: CardProgram;
let target: LoadTarget;

beforeAll(async () => {
  // Correctness, not speed: a budget that a busy test machine cannot blow (a replay past the
  // budget is answered `timeout`, by design, and the contract check would count it).
  gw = await startTestGateway({ DECISION_BUDGET_MS: '2000' });
  const address = await gw.app.listen({ host: '127.0.0.1', port: 0 });
  target = { origin: address, path: '/api/transactions/authorize', authorization: basicAuth() };
  program = newCardProgram(`bt${randomUUID().slice(0, 6)}`, 200);
  await seedProgram(gw.sql, gw.mongo.db(), program);
  // A cold cache makes every card a database load at once; warm it first, as a running gateway is.
  await runPhase(
    target,
    { name: 'warm-up', mode: 'closed', duration_ms: 1_500, connections: 2 },
    generator('w', 9),
  );
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
    expect(outcomesOf(result, 'authorization').approved).toBeGreaterThan(0);
    // Never approved; declined for their reason (or fail-safe when the gateway could not decide in time).
    const must_decline: Array<[RequestClass, string]> = [
      ['over_limit', 'limit_exceeded'],
      ['blocked_mcc', 'merchant_restricted'],
      ['unknown_card', 'card_not_found'],
      ['inactive_card', 'card_inactive'],
    ];
    for (const [cls, memo] of must_decline) {
      expect(
        Object.keys(outcomesOf(result, cls)).every((outcome) => [memo, ...FAIL_SAFE_MEMOS].includes(outcome)),
      ).toBe(true);
    }
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

  it('a closed loop with a request cap sends exactly that many, however long its duration', async () => {
    const result = await runPhase(
      target,
      { name: 'capped', mode: 'closed', duration_ms: 60_000, connections: 8, requests_max: 50 },
      generator('q', 3),
    );
    expect(result.sent).toBe(50);
    expect(result.completed).toBe(50);
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
    // Shed by the overload protection: nothing decided, explained rather than a violation.
    const shed = checkAnswer(request, 503, JSON.stringify({ error: { code: 'GW_ERR_UNAVAILABLE' } }));
    expect(shed).toMatchObject({ outcome: 'shed', explained: expect.stringMatching(/overload/) });
    expect(shed.violation).toBeUndefined();
    // A replay over the budget answers timeout: explained; a replay approving a decline is not.
    const replayed = (answer: unknown, status_code: number) => ({
      ...request,
      cls: 'duplicate' as const,
      expect: { kind: 'replay' as const, first: { request, status_code, answer } },
    });
    const timeout = {
      jit_funding: { ...good.jit_funding, memo: 'timeout', decline_reason: 'TRANSACTION_NOT_PERMITTED' },
    };
    expect(
      checkAnswer(
        replayed({ jit_funding: { ...good.jit_funding, memo: 'approved' } }, 200),
        402,
        JSON.stringify(timeout),
      ),
    ).toMatchObject({ explained: expect.stringMatching(/over the decision budget/) });
    const approved = { jit_funding: { ...good.jit_funding, memo: 'approved', decline_reason: undefined } };
    expect(checkAnswer(replayed(good, 402), 200, JSON.stringify(approved)).violation).toMatch(
      /replayed JIT token/,
    );
  });
});

describe('bench ledger check', () => {
  it('every decision answered under load is persisted once by the worker, with the answered status and amount', async () => {
    // A private vhost: these decisions reach only this test's worker.
    const vhost = `afc-bench-test-${randomUUID().slice(0, 8)}`;
    await createVhost(vhost);
    const rabbitmq_url = withVhost(process.env.RABBITMQ_URL!, vhost);
    const relaying = await startTestGateway(
      { RABBITMQ_URL: rabbitmq_url, DECISION_BUDGET_MS: '2000' },
      { relay_enabled: true },
    );
    const worker = await createWorker(
      loadWorkerConfig({ ...process.env, RABBITMQ_URL: rabbitmq_url, WORKER_HEALTH_PORT: '0' }),
      createLogger('worker-test', process.env.LOG_LEVEL ?? 'silent'),
      { consumers: [startDecisionConsumer, startPersonalDecisionConsumer] },
    );
    try {
      const address = await relaying.app.listen({ host: '127.0.0.1', port: 0 });
      const expectations = new LedgerExpectations(`${program.run_id}L`);
      // Purchases, replays and must-decline classes: what the ledger books one row each for.
      const mix = { ...DEFAULT_MIX, incremental: 0, reversal: 0, clearing: 0, balance_inquiry: 0 };
      const traffic = new TrafficGenerator({
        run_id: program.run_id,
        card_offset: 0,
        card_count: program.ordinary_count,
        seed: 4,
        phase_tag: 'L',
        mix,
      });
      const result = await runPhase(
        { ...target, origin: address },
        { name: 'ledger', mode: 'open', duration_ms: 2_000, connections: 32, rate_per_s: 100 },
        traffic,
        expectations.listener,
      );
      expect(result.violations).toEqual({});
      expect(expectations.size).toBeGreaterThan(100);
      const backlog = async () => {
        let depth = 0;
        for (const queue of [QUEUE_DECISIONS, QUEUE_PERSONAL_DECISIONS]) {
          depth += (await worker.rabbit.queueDeclare({ queue, passive: true })).messageCount;
        }
        return depth;
      };
      const report = await expectations.verify(relaying.sql, relaying.mongo.db(), 60_000, () => {}, backlog);
      expect(report.examples).toEqual([]);
      expect(report).toMatchObject({ drained: true, missing: 0, mismatched: 0, in_both_stores: 0 });
    } finally {
      await worker.close();
      await relaying.close();
      await deleteVhost(vhost);
    }
  });
});
