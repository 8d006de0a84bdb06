// One chaos run: seed a program of tight cards, start its system, drive simulator load while
// the run's faults are injected, let everything recover and drain, then check the promises.

import type { Redis } from 'ioredis';
import { parseStandinRule } from '../fake-marqeta/commando.ts';
import { SimulatedCommando } from '../bench/simulator/commando.ts';
import { replayExplanation, SHED_EXPLANATION } from '../bench/simulator/explanations.ts';
import { runPhase, type PhaseResult } from '../bench/simulator/load.ts';
import { seededRandom } from '../bench/simulator/random.ts';
import { type RequestClass, TrafficGenerator } from '../bench/simulator/traffic.ts';
import { type KeyLayout, outboxKeys } from '../shared/redis-keys.ts';
import { connectRedis } from '../shared/stores/redis.ts';
import { type SeededCard, seedChaosCards } from './cards.ts';
import { checkCounters } from './checks/counters.ts';
import { checkDecisions, type DecisionCounts } from './checks/decisions.ts';
import { waitDrained } from './checks/drain.ts';
import { Findings } from './checks/findings.ts';
import { checkLimits } from './checks/limits.ts';
import { FAULT_DEPENDENCY, type FaultKind, type InjectedFault, injectFaults, planFaults } from './faults.ts';
import { Journal } from './journal.ts';
import { ReadinessProbe, type ReadinessWindow } from './readiness.ts';
import { ensureRabbitRunning, explainDeadLetters } from './services/rabbitmq.ts';
import type { Crash } from './supervisor.ts';
import { openRunStores } from './stores.ts';
import { REDIS_SHARDS, type RunSystem, startRunSystem } from './system.ts';

/** Authorizations, their lifecycle (incrementals, reversals, clearings, refunds), replays, must-declines. */
const CHAOS_MIX: Readonly<Record<RequestClass, number>> = {
  authorization: 68,
  duplicate: 6,
  over_limit: 2,
  blocked_mcc: 2,
  unknown_card: 1,
  inactive_card: 1,
  incremental: 4,
  reversal: 4,
  clearing: 5,
  refund: 4,
  balance_inquiry: 3,
};
const LOAD_CONNECTIONS_MAX = 64;
/** --undecided=standin: Commando approves a purchase up to 1,000.00 (beyond the chaos cards' limits). */
const CHAOS_STANDIN_RULE = 'approve:100000';

async function settledWithin(work: Promise<void>, limit_ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), limit_ms);
  });
  return Promise.race([work.then(() => true as const), expiry]).finally(() => clearTimeout(timer));
}
const REDIS_CHECK_TIMEOUT_MS = 5_000;

export interface Session {
  readonly log_dir: string;
  readonly origin_ms: number;
}

export interface RunOptions {
  readonly index: number;
  readonly seed: number;
  readonly load_ms: number;
  readonly rate_per_s: number;
  readonly fault_count: number;
  readonly kinds: readonly FaultKind[];
  readonly ordinary_cards: number;
  readonly drain_limit_ms: number;
  readonly undecided_answer: 'decline' | 'standin';
  /** The system on a private Redis Cluster (CLUSTER_FAULT_KINDS). */
  readonly cluster: boolean;
}

export interface FaultSeen extends InjectedFault {
  readonly gateway_ready: ReadinessWindow;
  readonly worker_ready: ReadinessWindow;
}

export interface RunResult {
  readonly index: number;
  readonly seed: number;
  readonly run_id: string;
  readonly faults: FaultSeen[];
  readonly counts: DecisionCounts & { readonly unanswered: number; readonly replays: number };
  readonly outcomes: Record<string, number>;
  readonly crashes: Array<Crash & { readonly process: string }>;
  readonly drained: boolean;
  readonly drain_ms: number;
  readonly cards_compared: number;
  readonly findings: Findings;
  readonly duration_ms: number;
  readonly passed: boolean;
}

function outcomeTotals(result: PhaseResult | null): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const by_outcome of Object.values(result?.outcomes ?? {})) {
    for (const [outcome, n] of Object.entries(by_outcome ?? {})) totals[outcome] = (totals[outcome] ?? 0) + n;
  }
  return totals;
}

/** The contract check's words for an over-limit request declined for the balance (bench/simulator/contract.ts). */
const STANDIN_DRAINED_BALANCE =
  'over_limit answered insufficient_balance, expected limit_exceeded (AMOUNT_LIMIT_EXCEEDED)';

/**
 * The answers against the contract: the load driver's violations (shape, must-decline reasons)
 * and, judged here from the journal, replays answered otherwise than the first time. A 503 of
 * the load shedding is no answer (nothing was decided; Marqeta stands in or declines).
 */
function contractFindings(
  result: PhaseResult,
  journal: Journal,
  findings: Findings,
  undecided_answer: RunOptions['undecided_answer'],
): void {
  for (const [reason, { count, examples }] of Object.entries(result.violations)) {
    if (reason.startsWith('replayed JIT token')) continue;
    // Commando approves by its own rules (up to 1,000.00 here): a stand-in booked on an
    // over-limit personal card can take its balance below its limit, and the balance, the
    // least room left, then names the decline. Still a decline, for a reason that holds.
    const standin_balance = undecided_answer === 'standin' && reason === STANDIN_DRAINED_BALANCE;
    for (let i = 0; i < count; i++) {
      if (standin_balance)
        findings.explain(
          'over-limit personal card declined for its balance: stand-ins booked beyond it',
          examples[i] ?? reason,
        );
      else findings.fail(`contract: ${reason}`, examples[i] ?? reason);
    }
  }
  const shed = result.explained[SHED_EXPLANATION];
  for (let i = 0; i < (shed?.count ?? 0); i++)
    findings.explain(SHED_EXPLANATION, shed!.examples[i] ?? 'shed');
  for (const mismatch of journal.replay_mismatches) {
    const example = `${mismatch.entry.request.cls} ${mismatch.entry.request.jit_token}: first ${mismatch.first.outcome}, replay ${mismatch.replay.outcome}`;
    const explanation = replayExplanation(
      mismatch.entry.request.cls,
      mismatch.first.outcome,
      mismatch.replay.outcome,
    );
    if (explanation !== null) findings.explain(explanation, example);
    else findings.fail('contract: replay answered otherwise than the first time', example);
  }
}

export async function runOnce(
  session: Session,
  options: RunOptions,
  progress: (line: string) => void,
): Promise<RunResult> {
  const started_ms = performance.now();
  const run_id = `c${options.index}s${options.seed.toString(36)}`;
  const layout: KeyLayout = { prefix: run_id, shards: REDIS_SHARDS };
  const findings = new Findings();
  const random = seededRandom(options.seed);
  const planned = planFaults(random, options.load_ms, options.fault_count, options.kinds);
  progress(
    `run ${options.index} seed ${options.seed}: ${planned.map((f) => `${f.kind}@${(f.at_ms / 1000).toFixed(1)}s`).join(', ')}`,
  );
  const stores = await openRunStores();
  let system: RunSystem;
  let cards: SeededCard[];
  try {
    cards = await seedChaosCards(stores.sql, stores.db, run_id, options.ordinary_cards);
    system = await startRunSystem(
      run_id,
      stores,
      session.log_dir,
      session.origin_ms,
      options.undecided_answer,
      options.cluster,
    );
  } catch (error) {
    await stores.close();
    throw error;
  }
  const journal = new Journal(
    new TrafficGenerator({
      run_id,
      card_offset: 0,
      card_count: options.ordinary_cards,
      mix: CHAOS_MIX,
      seed: options.seed,
      phase_tag: 'L',
    }),
  );
  let phase: PhaseResult | null = null;
  let faults: InjectedFault[] = [];
  let drained = false;
  let drain_ms = 0;
  let cards_compared = 0;
  let counts: DecisionCounts = { sent: 0, answered: 0, approved: 0, persisted: 0 };
  let redis: Redis | null = null;
  // UNDECIDED_ANSWER=standin: Marqeta's Commando stands in for what the gateway leaves undecided.
  const commando =
    options.undecided_answer === 'standin'
      ? new SimulatedCommando(parseStandinRule(CHAOS_STANDIN_RULE), system.webhook)
      : null;
  const gateway_probe = new ReadinessProbe(system.gateway.ready_url);
  const worker_probe = new ReadinessProbe(system.worker.ready_url);
  try {
    const load_started_ms = performance.now();
    gateway_probe.start(load_started_ms);
    worker_probe.start(load_started_ms);
    [phase, faults] = await Promise.all([
      runPhase(
        {
          origin: system.gateway_origin,
          path: '/api/transactions/authorize',
          authorization: system.authorization,
        },
        {
          name: `chaos ${run_id}`,
          mode: 'open',
          duration_ms: options.load_ms,
          connections: LOAD_CONNECTIONS_MAX,
          rate_per_s: options.rate_per_s,
        },
        journal,
        journal.listener,
        commando?.listener,
      ),
      injectFaults(
        planned,
        { system, shard_keys: outboxKeys(layout), postgres: stores.postgres, ferretdb: stores.ferretdb },
        load_started_ms,
        progress,
      ),
    ]);
    for (const fault of faults)
      if (fault.error) findings.fail('fault injection failed', `${fault.kind}: ${fault.error}`);
    await ensureRabbitRunning();
    await Promise.all([system.gateway.waitReady(), system.worker.waitReady()]);
    await Promise.all([gateway_probe.stop(), worker_probe.stop()]);
    redis = connectRedis({
      url: system.redis_url,
      cluster_nodes: system.redis_cluster_nodes,
      connection_name: `afc-chaos-${run_id}`,
      command_timeout_ms: REDIS_CHECK_TIMEOUT_MS,
    });
    await redis.connect();
    progress(`  load done: ${journal.entries.size} sent, ${journal.answered_count} answered; draining`);
    // Marqeta's stand-in notifications first: their bookings go through the outbox as well.
    if (commando !== null && !(await settledWithin(commando.drained(), options.drain_limit_ms)))
      findings.fail('stand-in notifications not delivered', JSON.stringify(commando.deliveries()));
    const drain = await waitDrained(redis, layout, system.vhost, options.drain_limit_ms);
    drained = drain.drained;
    drain_ms = drain.waited_ms;
    if (!drain.drained) {
      findings.fail(
        'not drained',
        `outbox ${drain.outbox}, queues ${drain.queues.in_flight} after ${Math.round(drain.waited_ms)} ms` +
          (drain.last_unsettled.length > 0 ? `; last unsettled: ${drain.last_unsettled.join(', ')}` : ''),
      );
    }
    const dlqs = Object.keys(drain.queues.dead_letters);
    if (dlqs.length > 0) {
      for (const line of await explainDeadLetters(system.amqp_url, dlqs))
        findings.fail('dead-lettered', line);
    }
    contractFindings(phase, journal, findings, options.undecided_answer);
    counts = await checkDecisions(stores.sql, stores.db, journal, findings, options.undecided_answer);
    checkLimits(cards, journal, findings);
    cards_compared = await checkCounters(redis, stores.sql, stores.db, run_id, findings);
    for (const problem of (await commando?.verifyBooked(stores.sql, stores.db)) ?? [])
      findings.fail('stand-in booking', problem);
  } catch (error) {
    findings.fail('run error', error instanceof Error ? (error.stack ?? error.message) : String(error));
  } finally {
    await Promise.all([gateway_probe.stop(), worker_probe.stop()]);
    await commando?.close();
    redis?.disconnect();
    await ensureRabbitRunning().catch((error) => findings.fail('RabbitMQ restart', String(error)));
    await system.close();
    await stores.close();
  }
  let replays = 0;
  let unanswered = 0;
  for (const entry of journal.entries.values()) {
    replays += entry.replays;
    if (entry.first === null) unanswered++;
  }
  const crashes = [
    ...system.gateway.crashes.map((c) => ({ ...c, process: 'gateway' })),
    ...system.worker.crashes.map((c) => ({ ...c, process: 'worker' })),
  ];
  return {
    index: options.index,
    seed: options.seed,
    run_id,
    faults: faults.map((f) => ({
      ...f,
      gateway_ready: gateway_probe.window(f.down_at_ms, f.up_at_ms, FAULT_DEPENDENCY[f.kind]),
      worker_ready: worker_probe.window(f.down_at_ms, f.up_at_ms, FAULT_DEPENDENCY[f.kind]),
    })),
    counts: { ...counts, unanswered, replays },
    outcomes: outcomeTotals(phase),
    crashes,
    drained,
    drain_ms,
    cards_compared,
    findings,
    duration_ms: performance.now() - started_ms,
    passed: findings.failure_count === 0,
  };
}
