// `npm run bench` (quick, about 4 minutes) and `npm run bench -- --full`: one command that
// seeds a card program, measures a bare Fastify baseline and then the gateway (and the worker
// when it exists) with the Marqeta traffic simulator: the persisted rate on the ledger as it is
// and after a seeded history, closed loops, capacity at SLO (business-only and the default mix),
// a phase across a cache TTL expiry; checks every answer against the JIT contract and the ledger
// against the answers, and writes bench/RESULTS.md and bench/report/.
// Every figure stands beside the baseline measured in the same run: the machine is shared.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrateMongo, migratePostgres } from '../migrations/migrate.ts';
import { connectMongo } from '../shared/stores/mongo.ts';
import { connectPostgres } from '../shared/stores/postgres.ts';
import { connectRedis } from '../shared/stores/redis.ts';
import { newCardProgram, removeProgram, seedProgram } from './simulator/cards.ts';
import { LedgerExpectations, type LedgerReport } from './simulator/ledger.ts';
import type { AnswerListener, LoadTarget } from './simulator/load.ts';
import { writeReports } from './render/write-reports.ts';
import { BacklogSampler } from './runner/backlog.ts';
import { BrokerProbe, createVhost, deleteVhost } from './runner/broker.ts';
import { type CapacityResult, searchCapacity } from './runner/capacity.ts';
import { type SearchOptions, stepDurationMs } from './runner/capacity-search.ts';
import { summarizeCpuProfiles } from './runner/cpu-profile.ts';
import { devEnvironment, serviceEnvironment, withDatabase, withVhost } from './runner/env.ts';
import { machineInfo } from './runner/machine.ts';
import { type MeasureContext, type MeasuredPhase, measurePhase, type PhaseSpec } from './runner/measure.ts';
import { type SeededHistory, seedHistory } from './runner/history.ts';
import { type PersistRate, measurePersistRate } from './runner/persist-rate.ts';
import { type BenchPlan, PlanError, parsePlan } from './runner/plan.ts';
import { warmCardSet } from './runner/warm-cache.ts';
import { freePort } from '../shared/dev/processes.ts';
import { type Child, startChild } from './runner/processes.ts';
import { pidsByCommand, ProcSampler } from './runner/proc-sampler.ts';
import { QueueDepths } from './runner/queue-depths.ts';
import { BENCH_DATABASE, ensurePostgresDatabase, removeRedisKeys } from './runner/stores.ts';

const root = new URL('..', import.meta.url).pathname;
const REPORT_DIR = join(root, 'bench/report');
const WORK_DIR = join(root, '.run/bench');
const SAMPLE_INTERVAL_MS = 500;
const READY_TIMEOUT_MS = 30_000;
const OUTBOX_DRAIN_MAX_MS = 60_000;
const REDIS_SHARDS = 64;
const OPEN_LOOP_CONNECTIONS = 1_000;
const SETTLE_MAX_MS = 20_000;
const SETTLED_CPU_PERCENT = 30;
/** A backlog (the persisted-rate load's, a closed loop's) gets this long to drain before a measurement. */
const BACKLOG_SETTLE_MAX_MS = 180_000;
/** Cards of the TTL-expiry phase: a set of their own, first cached by the TTL-scaled gateway. */
const TTL_CARDS = 1_000;
/** Connections of the closed loop that builds the persisted-rate backlog. */
const PERSIST_LOAD_CONNECTIONS = 100;
/** Lowest rate the capacity search and the TTL phase try. */
const MIN_RATE_PER_S = 20;
/** The bisection stops once the bracket is within this share of the passing rate. */
const CAPACITY_RESOLUTION = 0.05;

let plan: BenchPlan;
try {
  plan = parsePlan(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof PlanError)) throw error;
  process.stderr.write(`bench: ${error.message}\n`);
  process.exit(64);
}

const origin_ms = performance.now();
function progress(line: string): void {
  process.stderr.write(`[${((performance.now() - origin_ms) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
}

const env = devEnvironment();
const run_id = `bn${Date.now().toString(36).slice(-6)}`;
const vhost = `afc-bench-${run_id}`;
const database_url = withDatabase(env.DATABASE_URL!, BENCH_DATABASE);
const mongodb_uri = withDatabase(env.MONGODB_URI!, BENCH_DATABASE);
const amqp_url = withVhost(env.RABBITMQ_URL!, vhost);
const worker_script = join(root, 'worker/main.ts');
const with_worker = plan.worker && existsSync(worker_script);
mkdirSync(WORK_DIR, { recursive: true });
mkdirSync(REPORT_DIR, { recursive: true });

progress(
  `bench ${plan.profile} run ${run_id}: cards ${plan.card_sets.join(' + ')}, ${plan.phase_ms / 1000} s phases`,
);
await ensurePostgresDatabase(env.DATABASE_URL!);
const sql = connectPostgres({ url: database_url, application_name: 'afc-bench', max_connections: 4 });
const mongo = connectMongo({ uri: mongodb_uri, app_name: 'afc-bench', server_selection_timeout_ms: 10_000 });
// REDIS_CLUSTER_NODES (in the environment the bench's processes inherit) benches a Redis Cluster.
const redis = connectRedis({
  url: env.REDIS_URL!,
  cluster_nodes: env.REDIS_CLUSTER_NODES?.split(',') ?? [],
  connection_name: 'afc-bench',
  command_timeout_ms: 10_000,
});
await redis.connect();
await migratePostgres(sql);
await migrateMongo(mongo.db());
await createVhost(vhost);
const machine = await machineInfo(sql, mongo.db(), redis);
const card_sets_total = plan.card_sets.reduce((a, b) => a + b, 0);
const program = newCardProgram(run_id, card_sets_total + TTL_CARDS);

const sampler = new ProcSampler(
  [
    { name: 'bench (load generator)', pids: () => [process.pid] },
    { name: 'redis', pids: () => pidsByCommand(['redis-server']) },
    { name: 'postgresql', pids: () => pidsByCommand(['postgres']) },
    { name: 'rabbitmq', pids: () => pidsByCommand(['beam.smp']) },
    { name: 'ferretdb', pids: () => pidsByCommand(['ferretdb']) },
  ],
  origin_ms,
);
const backlog = new BacklogSampler(redis, { prefix: run_id, shards: REDIS_SHARDS }, origin_ms);
const phases: MeasuredPhase[] = [];
const children: Child[] = [];
let probe: BrokerProbe | null = null;
let ledger: LedgerReport | null = null;
let cpu_profile: Awaited<ReturnType<typeof summarizeCpuProfiles>> = null;
const expectations = new LedgerExpectations(run_id);
const capacity: CapacityResult[] = [];
const persist: PersistRate[] = [];
let history: SeededHistory | null = null;
/** Seconds from the end of the last load to every answered decision persisted (null: not all were). */
let persisted_after_load_s: number | null = null;
let failure: unknown;

function context(metrics_url: string | null, listener = expectations.listener): MeasureContext {
  return {
    origin_ms,
    run_id,
    seed: plan.seed,
    warmup_ms: plan.warmup_ms,
    sampler,
    redis,
    metrics_url,
    probe,
    listener,
    progress,
  };
}

/** The capacity search's options, starting from a share of a closed loop's throughput. */
function searchOptions(closed_throughput_per_s: number): SearchOptions {
  return {
    start_rate_per_s: Math.max(MIN_RATE_PER_S, closed_throughput_per_s * plan.capacity_start_share),
    growth_factor: plan.capacity.growth_factor,
    max_steps: plan.capacity.max_steps,
    resolution: CAPACITY_RESOLUTION,
    min_rate_per_s: MIN_RATE_PER_S,
  };
}

/** An open-loop capacity step at `rate_per_s`, long enough for its p99 to mean something. */
function capacityStepPhase(name: string, rate_per_s: number): PhaseSpec['phase'] {
  return {
    name,
    mode: 'open',
    duration_ms: stepDurationMs(rate_per_s, plan.capacity),
    connections: OPEN_LOOP_CONNECTIONS,
    rate_per_s,
  };
}

function target(port: number, authorization: string): LoadTarget {
  return { origin: `http://127.0.0.1:${port}`, path: '/api/transactions/authorize', authorization };
}

/** Waits (bounded) until the relay has confirmed every outbox entry to RabbitMQ. */
/**
 * Waits (bounded) until the outbox and the decision queues are empty and the machine is quiet:
 * the persisted-rate backlog drains at FerretDB's pace for its personal part, and measuring the
 * gateway beside that drain measured the drain (FerretDB and the worker at most of the cores).
 */
async function waitBacklogDrained(backlog_sampler: BacklogSampler, with_worker: boolean): Promise<void> {
  const deadline_ms = performance.now() + BACKLOG_SETTLE_MAX_MS;
  const depth = async () =>
    (await backlog_sampler.outboxDepth()) + (with_worker ? await backlog_sampler.queueDepth() : 0);
  while ((await depth()) > 0 && performance.now() < deadline_ms) {
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_INTERVAL_MS));
  }
  while (sampler.recentMachineCpu(2) > SETTLED_CPU_PERCENT && performance.now() < deadline_ms) {
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_INTERVAL_MS));
  }
  progress(
    `backlog ${await depth()} and machine CPU ${Math.round(sampler.recentMachineCpu(2))}% before the gateway phases`,
  );
}

async function waitOutboxEmpty(sampler: BacklogSampler): Promise<void> {
  const deadline_ms = performance.now() + OUTBOX_DRAIN_MAX_MS;
  while ((await sampler.outboxDepth()) > 0 && performance.now() < deadline_ms) {
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_INTERVAL_MS));
  }
}

async function stopChild(child: Child): Promise<void> {
  children.splice(children.indexOf(child), 1);
  const code = await child.stop();
  progress(`${child.name} stopped (exit ${code})`);
}

/** Stops every child at once (each has its own shutdown deadline). */
async function stopChildren(): Promise<void> {
  await Promise.all([...children].map(stopChild));
}

try {
  progress(`seeding ${program.ordinary_count} cards (PostgreSQL COPY + MongoDB insertMany)`);
  const seeded = await seedProgram(sql, mongo.db(), program);
  progress(
    `seeded ${seeded.business_cards} business + ${seeded.personal_cards} personal cards in ${(seeded.duration_ms / 1000).toFixed(1)} s`,
  );
  sampler.start(SAMPLE_INTERVAL_MS);
  backlog.start(SAMPLE_INTERVAL_MS);
  // Let the stores finish what seeding started (FerretDB keeps a core busy for a while) before measuring.
  const settle_deadline_ms = performance.now() + SETTLE_MAX_MS;
  await new Promise((resolve) => setTimeout(resolve, 2 * SAMPLE_INTERVAL_MS));
  while (sampler.recentMachineCpu(2) > SETTLED_CPU_PERCENT && performance.now() < settle_deadline_ms) {
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_INTERVAL_MS));
  }
  progress(`machine CPU ${Math.round(sampler.recentMachineCpu(2))}% before measuring (100% = one core)`);

  // Baseline: a bare Fastify server with the same schema validation, same client, same mix.
  const baseline_port = await freePort();
  const baseline = await startChild({
    name: 'baseline',
    script: join(root, 'bench/baseline-server.ts'),
    env: { ...env, BASELINE_PORT: String(baseline_port) },
    ready_url: `http://127.0.0.1:${baseline_port}/ready`,
    ready_timeout_ms: READY_TIMEOUT_MS,
    log_path: join(WORK_DIR, `${run_id}-baseline.log`),
  });
  children.push(baseline);
  sampler.add({ name: 'baseline', pids: () => [baseline.pid] });
  const first_cards = plan.card_sets[0]!;
  let baseline_closed_per_s = 0;
  for (const [i, connections] of plan.connections.entries()) {
    const measured = await measurePhase(
      context(null),
      {
        label: `baseline closed ${connections}c`,
        tag: `B${i}`,
        target: 'baseline',
        load: target(baseline_port, 'Basic none'),
        phase: {
          name: `baseline ${connections}c`,
          mode: 'closed',
          duration_ms: plan.phase_ms,
          connections,
        },
        card_offset: 0,
        cards: first_cards,
      },
      phases.length,
    );
    phases.push(measured);
    if (i === 0) baseline_closed_per_s = measured.result.throughput_per_s;
  }
  // The machine's floor: the same capacity search on the bare baseline (no store, no worker).
  // On this shared 2-core machine an idle core's wake-up alone costs milliseconds.
  const { result: baseline_capacity } = await searchCapacity({
    traffic: 'baseline',
    options: searchOptions(baseline_closed_per_s),
    drain_max_ms: 0,
    measure: async (rate_per_s, index) => {
      const measured = await measurePhase(
        context(null),
        {
          label: `capacity baseline open ${rate_per_s}/s`,
          tag: `Cb${index}`,
          target: 'baseline',
          role: 'capacity baseline',
          load: target(baseline_port, 'Basic none'),
          phase: capacityStepPhase(`capacity baseline ${rate_per_s}/s`, rate_per_s),
          card_offset: 0,
          cards: first_cards,
          card_kind: 'business',
          warmup_ms: plan.capacity.warmup_ms,
        },
        phases.length,
      );
      phases.push(measured);
      return measured;
    },
    backlogDepth: async () => 0,
    backlogPoints: () => [],
    progress,
  });
  capacity.push(baseline_capacity);
  progress(`capacity at SLO, bare baseline: ${baseline_capacity.capacity_per_s}/s`);
  await stopChildren();

  // The gateway (and the worker) on the bench's own databases, Redis prefix and vhost.
  const gateway_port = await freePort();
  const gateway_internal_port = await freePort();
  const profile_dir = join(WORK_DIR, `${run_id}-profile`);
  const service_env = serviceEnvironment(env, {
    database_url,
    mongodb_uri,
    amqp_url,
    key_prefix: run_id,
    shards: REDIS_SHARDS,
  });
  const startGateway = async (extra_env: Record<string, string>, log_tag: string): Promise<Child> => {
    const child = await startChild({
      name: 'gateway',
      script: join(root, 'gateway/main.ts'),
      env: {
        ...service_env,
        ...extra_env,
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(gateway_port),
        GATEWAY_INTERNAL_PORT: String(gateway_internal_port),
        RELAY_CONSUMER_NAME: `bench-${run_id}`,
      },
      ready_url: `http://127.0.0.1:${gateway_internal_port}/api/health/ready`,
      ready_timeout_ms: READY_TIMEOUT_MS,
      log_path: join(WORK_DIR, `${run_id}-gateway${log_tag}.log`),
      node_args: plan.cpu_profile ? ['--cpu-prof', '--cpu-prof-dir', profile_dir] : [],
    });
    children.push(child);
    return child;
  };
  let gateway = await startGateway({}, '');
  sampler.add({ name: 'gateway', pids: () => [gateway.pid] });
  let worker: Child | null = null;
  const startWorker = async (): Promise<void> => {
    const health_port = await freePort();
    worker = await startChild({
      name: 'worker',
      script: worker_script,
      env: { ...service_env, WORKER_HEALTH_PORT: String(health_port) },
      ready_url: `http://127.0.0.1:${health_port}/ready`,
      ready_timeout_ms: READY_TIMEOUT_MS,
      log_path: join(WORK_DIR, `${run_id}-worker-${Date.now().toString(36)}.log`),
    });
    children.push(worker);
  };
  if (with_worker) {
    await startWorker();
    sampler.add({ name: 'worker', pids: () => (worker ? [worker.pid] : []) });
  }
  probe = new BrokerProbe(amqp_url, run_id);
  await probe.startTap();
  backlog.watch(probe);

  const authorization = `Basic ${Buffer.from(`${env.GATEWAY_BASIC_AUTH_USER}:${env.GATEWAY_BASIC_AUTH_PASSWORD}`).toString('base64')}`;
  const metrics_url = `http://127.0.0.1:${gateway_internal_port}/metrics`;
  const gatewayPhase = async (
    spec: Omit<PhaseSpec, 'target' | 'load'>,
    listener?: AnswerListener,
  ): Promise<MeasuredPhase> => {
    const measured = await measurePhase(
      context(metrics_url, listener),
      { ...spec, target: 'gateway', load: target(gateway_port, authorization) },
      phases.length,
    );
    phases.push(measured);
    return measured;
  };

  // 1. Persisted per second: a backlog built with the worker stopped, then drained; on the ledger
  // as it is, and again after a seeded history of prior transactions.
  if (with_worker) {
    const depths = new QueueDepths(amqp_url);
    const persistOnce = (ledger_name: string, tag: string, history_rows: number) =>
      measurePersistRate(
        {
          stopWorker: async () => {
            if (worker === null) return;
            const stopping = worker;
            worker = null;
            await stopChild(stopping);
          },
          startWorker,
          load: async (listener) => {
            await gatewayPhase(
              {
                label: `persist load (worker stopped), ${ledger_name}`,
                tag,
                role: 'persist load',
                phase: {
                  name: `persist load ${tag}`,
                  mode: 'closed',
                  duration_ms: plan.persist.load_ms,
                  // The same backlog on both ledgers: only the history differs between the rates.
                  requests_max: plan.persist.requests,
                  connections: PERSIST_LOAD_CONNECTIONS,
                },
                card_offset: 0,
                cards: first_cards,
                warmup_ms: 0,
              },
              (request, status_code, outcome) => {
                expectations.listener(request, status_code, outcome);
                listener(request, status_code, outcome);
              },
            );
          },
          outboxEmpty: () => waitOutboxEmpty(backlog),
          depths,
          sql,
          db: mongo.db(),
          token_prefix: `${run_id}${tag}`,
          drain_max_ms: plan.persist.drain_max_ms,
        },
        ledger_name,
        history_rows,
      );
    try {
      const report = (rate: PersistRate) =>
        progress(
          `persisted on the ${rate.ledger}: business ${Math.round(rate.business.rate_per_s ?? 0)}/s ` +
            `(${rate.business.persisted}/${rate.business.decisions}), personal ${Math.round(rate.personal.rate_per_s ?? 0)}/s ` +
            `(${rate.personal.persisted}/${rate.personal.decisions})`,
        );
      persist.push(await persistOnce('ledger without history', 'P0', 0));
      report(persist.at(-1)!);
      if (plan.history_rows > 0) {
        progress(`seeding ${plan.history_rows} prior transactions (half pending, with holds)`);
        history = await seedHistory(sql, program.company_id, run_id, plan.history_rows);
        progress(`seeded ${history.rows} prior transactions in ${(history.duration_ms / 1000).toFixed(1)} s`);
        persist.push(await persistOnce(`ledger with ${history.rows} prior transactions`, 'P1', history.rows));
        report(persist.at(-1)!);
      }
    } finally {
      await depths.close();
    }
  }

  if (with_worker) await waitBacklogDrained(backlog, true);

  // 2. Closed loops: every concurrency level on the first card set (every set with --full). The
  // first (100 connections, first set) warms the cache and gives the capacity search its start;
  // the overload levels (1000 connections) run after the search, whose steps they would disturb.
  const closed: Array<{ set_index: number; cards: number; card_offset: number; connections: number }> = [];
  let card_offset = 0;
  for (const [set_index, cards] of plan.card_sets.entries()) {
    const every_level = set_index === 0 || plan.profile === 'full';
    for (const connections of every_level ? plan.connections : plan.connections.slice(0, 1))
      closed.push({ set_index, cards, card_offset, connections });
    card_offset += cards;
  }
  const first_level = plan.connections[0];
  closed.sort((a, b) => Number(a.connections !== first_level) - Number(b.connections !== first_level));
  const closedPhase = (c: (typeof closed)[number]) =>
    gatewayPhase({
      label: `gateway closed ${c.connections}c, ${c.cards} cards`,
      tag: `G${c.set_index}c${c.connections}`,
      phase: {
        name: `gateway ${c.connections}c`,
        mode: 'closed',
        duration_ms: plan.phase_ms,
        connections: c.connections,
      },
      card_offset: c.card_offset,
      cards: c.cards,
    });
  const closed_throughput = (await closedPhase(closed[0]!)).result.throughput_per_s;

  // 3. Capacity at SLO: open-loop steps on the first card set, made fully warm first (the steady
  // state: a tail card's first fill is a store read, not a decision), business-only and the mix,
  // once the closed loop's personal decisions are persisted (they drain at FerretDB's pace).
  if (with_worker) await waitBacklogDrained(backlog, true);
  const warmed = await warmCardSet(
    { sql, db: mongo.db(), redis },
    { prefix: run_id, shards: REDIS_SHARDS },
    run_id,
    0,
    first_cards,
    env.PROGRAM_TIME_ZONE ?? 'UTC',
  );
  progress(`cache warm for the capacity search: ${warmed} cards loaded (parts already cached kept)`);
  const backlogNow = async () =>
    (await backlog.outboxDepth()) + (with_worker ? await backlog.queueDepth() : 0);
  for (const traffic of ['business', 'mix'] as const) {
    const { result } = await searchCapacity({
      traffic,
      options: searchOptions(closed_throughput),
      drain_max_ms: plan.capacity.drain_max_ms,
      measure: (rate_per_s, index) =>
        gatewayPhase({
          label: `capacity ${traffic} open ${rate_per_s}/s`,
          tag: `C${traffic[0]}${index}`,
          role: `capacity ${traffic}`,
          phase: capacityStepPhase(`capacity ${traffic} ${rate_per_s}/s`, rate_per_s),
          card_offset: 0,
          cards: first_cards,
          card_kind: traffic === 'business' ? 'business' : 'any',
          warmup_ms: plan.capacity.warmup_ms,
        }),
      backlogDepth: backlogNow,
      backlogPoints: (from_s, to_s) =>
        backlog.samples
          .filter((s) => s.t_s >= from_s && s.t_s <= to_s)
          .map((s) => ({ t_s: s.t_s, depth: s.outbox + (with_worker ? s.decisions_queue : 0) })),
      progress,
    });
    capacity.push(result);
    progress(`capacity at SLO, ${traffic}: ${result.capacity_per_s}/s`);
  }

  for (const c of closed.slice(1)) await closedPhase(c);

  // 4. Across a cache TTL expiry: the gateway restarted with the seed's TTLs scaled down
  // (CACHE_TTL_SCALE), on cards of their own that it caches first, at half the business capacity.
  await waitOutboxEmpty(backlog);
  await stopChild(gateway);
  gateway = await startGateway({ CACHE_TTL_SCALE: String(plan.ttl.scale) }, '-ttl');
  const ttl_rate_per_s = Math.max(
    MIN_RATE_PER_S,
    Math.round(
      (capacity.find((c) => c.traffic === 'business')?.capacity_per_s ||
        closed_throughput * plan.capacity_start_share) / 2,
    ),
  );
  await gatewayPhase({
    label: `TTL expiry (TTLs x${plan.ttl.scale}) open ${ttl_rate_per_s}/s, business`,
    tag: 'T',
    role: 'ttl expiry',
    phase: {
      name: `ttl expiry ${ttl_rate_per_s}/s`,
      mode: 'open',
      duration_ms: plan.ttl.phase_ms,
      connections: OPEN_LOOP_CONNECTIONS,
      rate_per_s: ttl_rate_per_s,
    },
    card_offset: card_sets_total,
    cards: TTL_CARDS,
    card_kind: 'business',
    warmup_ms: plan.capacity.warmup_ms,
  });
  const load_ended_ms = performance.now();

  progress('draining the outbox');
  await waitOutboxEmpty(backlog);
  // The gateway's part is done once its outbox is empty: let it shut down while the worker drains.
  const gateway_stopped = stopChild(gateway);
  if (with_worker) {
    progress(`verifying the ledger against ${expectations.size} answered decisions`);
    const verify_started_ms = performance.now();
    ledger = await expectations.verify(sql, mongo.db(), plan.ledger_wait_max_ms, progress, () =>
      backlog.queueDepth(),
    );
    const dead = new QueueDepths(amqp_url);
    ledger = { ...ledger, dead_letters: await dead.deadLetters().finally(() => dead.close()) };
    if (ledger.drained)
      persisted_after_load_s = (verify_started_ms + ledger.waited_ms - load_ended_ms) / 1000;
    progress(
      `ledger: ${ledger.persisted}/${ledger.expected} persisted, ${ledger.missing} missing, ${ledger.mismatched} mismatched, ` +
        `${ledger.in_both_stores} in both stores, ${ledger.dead_letters} dead letters`,
    );
  }
  await gateway_stopped;
} catch (error) {
  failure = error;
  progress(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  sampler.stop();
  backlog.stop();
  await probe?.close().catch(() => {});
  await stopChildren();
  if (plan.cpu_profile) cpu_profile = await summarizeCpuProfiles(join(WORK_DIR, `${run_id}-profile`));
  if (!plan.keep) {
    progress('cleaning up the run (cards, Redis keys, vhost)');
    await Promise.all([
      removeProgram(sql, mongo.db(), program).catch((error) =>
        progress(`cleanup (databases) failed: ${String(error)}`),
      ),
      removeRedisKeys(redis, run_id).catch((error) => progress(`cleanup (redis) failed: ${String(error)}`)),
      deleteVhost(vhost).catch((error) => progress(`cleanup (vhost) failed: ${String(error)}`)),
    ]);
  }
  await sql.end({ timeout: 5 });
  await mongo.close();
  redis.disconnect();
}

if (phases.length > 0) {
  const written = await writeReports(REPORT_DIR, join(root, 'bench/RESULTS.md'), {
    run_id,
    plan,
    machine,
    with_worker,
    phases,
    usage: sampler.samples,
    backlog: backlog.samples,
    ledger,
    capacity,
    persist,
    history,
    ttl_scale: plan.ttl.scale,
    persisted_after_load_s,
    cpu_profile,
    failure: failure === undefined ? null : String(failure instanceof Error ? failure.message : failure),
    finished_at: new Date().toISOString(),
    duration_s: (performance.now() - origin_ms) / 1000,
  });
  progress(`wrote ${written.join(', ')}`);
}
process.exit(failure === undefined ? 0 : 1);
