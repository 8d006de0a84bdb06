// Issue 22: Redis stopped under simulator load, in both UNDECIDED_ANSWER modes. A private
// redis-server (AOF, fsync always) for the gateway under test, a private RabbitMQ vhost, the
// gateway (relay on) and the worker (decisions and notifications) in-process, and the simulated
// Marqeta with Commando Mode (approve up to 1,000.00) in front of them.
//   decline: as today: undecided requests are declined (402 system_error/timeout), nothing is
//            left to Marqeta's stand-in, every decision answered is in the ledger as answered.
//   standin: every undecided request gets the stand-in answer (503 GW_ERR_UNDECIDED) within
//            Marqeta's 3 s, none is approved or declined by us; after recovery every stand-in
//            approval is booked exactly once, Redis equals the ledger, and the over-limit
//            report is what the simulator approved beyond the cards' limits.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStandinRule } from '../../fake-marqeta/commando.ts';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withVhost } from '../../bench/runner/env.ts';
import { newCardProgram, removeProgram, seedProgram, type CardProgram } from '../../bench/simulator/cards.ts';
import { SimulatedCommando } from '../../bench/simulator/commando.ts';
import { UNDECIDED_OUTCOME } from '../../bench/simulator/contract.ts';
import { LedgerExpectations } from '../../bench/simulator/ledger.ts';
import { type LoadTarget, runPhase } from '../../bench/simulator/load.ts';
import { DEFAULT_MIX, TrafficGenerator } from '../../bench/simulator/traffic.ts';
import {
  QUEUE_DECISIONS,
  QUEUE_NOTIFICATIONS,
  QUEUE_PERSONAL_DECISIONS,
} from '../../shared/broker/topology.ts';
import { loadWorkerConfig } from '../../shared/config.ts';
import { startPrivateRedis, waitFor } from '../../shared/dev/processes.ts';
import { createLogger } from '../../shared/logger.ts';
import { outboxKeys } from '../../shared/redis-keys.ts';
import { startDecisionConsumer, startPersonalDecisionConsumer } from '../../worker/decisions/consumer.ts';
import { startNotificationConsumer } from '../../worker/notifications/consumer.ts';
import { reconcile } from '../../worker/reconcile/reconcile.ts';
import { createWorker, type Worker } from '../../worker/worker.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth } from '../support/jit-requests.ts';

const RATE_PER_S = 80;
const LOAD_MS = 5_000;
const REDIS_STOP_AT_MS = 1_500;
const REDIS_DOWN_MS = 2_000;
const DRAIN_MS_MAX = 90_000;
/** The default mix but for balance inquiries (nothing to book), with more over-limit cards. */
const MIX = { ...DEFAULT_MIX, balance_inquiry: 0, over_limit: 6 };

let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let vhost: string;
let rabbitmq_url: string;
let program: CardProgram;
let seeding: Awaited<ReturnType<typeof startTestGateway>>;

beforeAll(async () => {
  redis = await startPrivateRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  vhost = `afc-standin-test-${randomUUID().slice(0, 8)}`;
  await createVhost(vhost);
  rabbitmq_url = withVhost(process.env.RABBITMQ_URL!, vhost);
  seeding = await startTestGateway({ REDIS_URL: redis.url, RABBITMQ_URL: rabbitmq_url });
  program = newCardProgram(`si${randomUUID().slice(0, 6)}`, 80);
  await seedProgram(seeding.sql, seeding.mongo.db(), program);
});
afterAll(async () => {
  await removeProgram(seeding.sql, seeding.mongo.db(), program);
  await seeding?.close();
  await deleteVhost(vhost);
  await redis?.destroy();
});

async function queuesDrained(worker: Worker): Promise<boolean> {
  for (const queue of [QUEUE_DECISIONS, QUEUE_PERSONAL_DECISIONS, QUEUE_NOTIFICATIONS]) {
    if ((await worker.rabbit.queueDeclare({ queue, passive: true })).messageCount > 0) return false;
  }
  return true;
}

async function runOutage(mode: 'decline' | 'standin', phase_tag: string) {
  const gw = await startTestGateway(
    { REDIS_URL: redis.url, RABBITMQ_URL: rabbitmq_url, UNDECIDED_ANSWER: mode },
    { relay_enabled: true, hold_expiry_enabled: false },
  );
  const worker = await createWorker(
    loadWorkerConfig({ ...process.env, RABBITMQ_URL: rabbitmq_url, WORKER_HEALTH_PORT: '0' }),
    createLogger('worker-test', process.env.LOG_LEVEL ?? 'silent'),
    { consumers: [startDecisionConsumer, startPersonalDecisionConsumer, startNotificationConsumer] },
  );
  const address = await gw.app.listen({ host: '127.0.0.1', port: 0 });
  const target: LoadTarget = {
    origin: address,
    path: '/api/transactions/authorize',
    authorization: basicAuth(),
  };
  const commando = new SimulatedCommando(parseStandinRule('approve:100000'), {
    url: `${address}/api/webhooks/marqeta`,
    user: process.env.MARQETA_WEBHOOK_USER!,
    password: process.env.MARQETA_WEBHOOK_PASSWORD!,
  });
  const traffic = (tag: string, seed: number) =>
    new TrafficGenerator({
      run_id: program.run_id,
      card_offset: 0,
      card_count: program.ordinary_count,
      seed,
      phase_tag: tag,
      mix: MIX,
    });
  try {
    // A warm cache, as a running gateway has: the outage is Redis's, not a cold start's.
    await runPhase(
      target,
      { name: 'warm', mode: 'closed', duration_ms: 1_500, connections: 4 },
      traffic(`${phase_tag}w`, 7),
    );
    const expectations = new LedgerExpectations(`${program.run_id}${phase_tag}L`);
    const outage = (async () => {
      await sleep(REDIS_STOP_AT_MS);
      await redis.stop();
      await sleep(REDIS_DOWN_MS);
      await redis.start();
    })();
    const result = await runPhase(
      target,
      { name: mode, mode: 'open', duration_ms: LOAD_MS, connections: 64, rate_per_s: RATE_PER_S },
      traffic(`${phase_tag}L`, mode === 'decline' ? 11 : 12),
      expectations.listener,
      commando.listener,
    );
    await outage;
    await waitFor(
      async () =>
        (await gw.internal_app.inject({ method: 'GET', url: '/api/health/ready' })).statusCode === 200,
      'gateway ready again',
      20_000,
    );
    // Marqeta's notifications are retried until our webhook books them (503 while Redis was down).
    await commando.drained();
    const streams = outboxKeys(gw.layout);
    await waitFor(
      async () =>
        (await Promise.all(streams.map((s) => gw.redis.xlen(s)))).every((n) => n === 0) &&
        (await queuesDrained(worker)),
      'outbox relayed and queues drained',
      DRAIN_MS_MAX,
    );
    const ledger = await expectations.verify(
      gw.sql,
      gw.mongo.db(),
      DRAIN_MS_MAX,
      () => {},
      async () => 0,
    );
    const readiness = (await gw.internal_app.inject({ method: 'GET', url: '/api/health/ready' })).json();
    const report = await reconcile(
      { redis: gw.redis, sql: gw.sql, db: gw.mongo.db(), key_prefix: gw.config.redis_key_prefix },
      { card_token: null, scope: 'checked_cards' },
    );
    const standin_problems = await commando.verifyBooked(gw.sql, gw.mongo.db());
    return { result, commando, ledger, readiness, report, standin_problems };
  } finally {
    await commando.close();
    await worker.close();
    await gw.close();
  }
}

/** Every outcome of the run, summed over request classes. */
function outcomes(result: Awaited<ReturnType<typeof runOutage>>['result']): Record<string, number> {
  const total: Record<string, number> = {};
  for (const by_outcome of Object.values(result.outcomes)) {
    for (const [outcome, n] of Object.entries(by_outcome ?? {})) total[outcome] = (total[outcome] ?? 0) + n;
  }
  return total;
}

describe('Redis stopped under simulator load', () => {
  it('decline: undecided requests are declined as today, nothing is left to the stand-in', async () => {
    const run = await runOutage('decline', 'd');
    const seen = outcomes(run.result);
    expect((seen.system_error ?? 0) + (seen.timeout ?? 0)).toBeGreaterThan(0);
    expect(seen[UNDECIDED_OUTCOME]).toBeUndefined();
    expect(run.result.timeouts).toBe(0);
    expect(run.result.errors).toBe(0);
    // The only contract findings a decline-mode outage makes: replays of earlier answers declined.
    expect(Object.keys(run.result.violations).every((v) => v.startsWith('replayed JIT token answered'))).toBe(
      true,
    );
    expect(run.commando.approvals).toEqual([]);
    expect(run.commando.declined).toBe(0);
    expect(run.readiness.undecided).toMatchObject({ mode: 'decline', answered: { standin: 0 } });
    expect(run.readiness.undecided.answered.decline).toBeGreaterThan(0);
    expect(run.ledger.examples).toEqual([]);
    expect(run.ledger).toMatchObject({ missing: 0, mismatched: 0, in_both_stores: 0 });
    expect(run.report.differences).toEqual([]);
    expect(run.report.notifications).toEqual([]);
  });

  it('standin: undecided requests get the stand-in answer, its approvals are booked once, Redis equals the ledger', async () => {
    const run = await runOutage('standin', 's');
    const seen = outcomes(run.result);
    // Within Marqeta's 3 s, every one, and never our decline: the stand-in answer instead.
    expect(seen[UNDECIDED_OUTCOME]).toBeGreaterThan(0);
    expect(seen.system_error).toBeUndefined();
    expect(seen.timeout).toBeUndefined();
    expect(run.result.timeouts).toBe(0);
    expect(run.result.errors).toBe(0);
    expect(run.result.violations).toEqual({});
    expect(run.readiness.undecided).toMatchObject({ mode: 'standin', answered: { decline: 0 } });
    expect(run.readiness.undecided.answered.standin).toBe(seen[UNDECIDED_OUTCOME]);
    // Commando stood in, and approved some beyond the over-limit cards' per-transaction limit.
    expect(run.commando.approvals.length).toBeGreaterThan(0);
    expect(run.commando.deliveries()).toMatchObject({ queued: 0 });
    // Our own decisions are in the ledger as answered; each stand-in approval is booked exactly
    // once as approved with its amount, and none of the stood-in tokens was approved by us.
    expect(run.ledger.examples).toEqual([]);
    expect(run.ledger).toMatchObject({ missing: 0, mismatched: 0, in_both_stores: 0 });
    expect(run.standin_problems).toEqual([]);
    // Redis equals the ledger, every notification is accounted for.
    expect(run.report.differences).toEqual([]);
    expect(run.report.notifications).toEqual([]);
    // The over-limit report, per card and for the program, is what the simulator approved beyond the limits.
    const expected = run.commando.expectedOverLimit();
    expect(expected.size).toBeGreaterThan(0);
    const reported = new Map(
      run.report.standins.cards
        .filter((c) => c.over_limit_minor > 0n)
        .map((c) => [c.card_token, c.over_limit_minor]),
    );
    expect(reported).toEqual(expected);
    const program_over = [...expected.values()].reduce((sum, n) => sum + n, 0n);
    expect(run.report.standins.program.get('USD')).toMatchObject({
      standins: run.commando.approvals.filter((a) => a.cls !== 'unknown_card').length,
      over_limit_minor: program_over,
    });
  });
});
