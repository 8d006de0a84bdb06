// `npm run bench:cluster`: docs/capacity.md's model checked where this machine can check it, and
// what REDIS_WAIT_REPLICAS=1 costs. The same closed loop (business cards, warm cache) on:
//  1. one gateway and one worker on the single Redis: the model's input, measured in this run;
//  2. two gateways (half the connections each) and one worker on a Redis Cluster of 3 masters
//     with a replica each (REDIS_CLUSTER_NODES): the configuration the model is checked on;
//  3. the same with REDIS_WAIT_REPLICAS=1 (a WAIT for one replica after each decision script);
//  4. configuration 1 again: the run's own noise, against which the check is judged.
// For each: decisions/s, p99, CPU microseconds per decision of every process (/proc). The model
// predicts each process's cores in 2 from 1's microseconds at 2's rate. Every answered decision
// is looked up in the ledger at the end. Writes bench/CLUSTER.md. With --cpu-profile the gateways
// run with --cpu-prof, and the report splits each configuration's gateway microseconds by module.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { migrateMongo, migratePostgres } from '../migrations/migrate.ts';
import { freePort } from '../shared/dev/processes.ts';
import { type RedisCluster, startRedisCluster } from '../shared/dev/redis-cluster.ts';
import type { KeyLayout } from '../shared/redis-keys.ts';
import { connectMongo } from '../shared/stores/mongo.ts';
import { connectPostgres } from '../shared/stores/postgres.ts';
import { connectRedis } from '../shared/stores/redis.ts';
import { markdownTable } from './render/documents.ts';
import type { Table } from './render/tables.ts';
import { fmt } from './render/targets.ts';
import { BacklogSampler } from './runner/backlog.ts';
import { type CpuProfileSummary, summarizeCpuProfiles } from './runner/cpu-profile.ts';
import { createVhost, deleteVhost } from './runner/broker.ts';
import {
  type ConfigurationUsage,
  checkModel,
  TOLERANCE_FLOOR,
  usPerDecision,
} from './runner/cluster-model.ts';
import { devEnvironment, serviceEnvironment, withDatabase, withVhost } from './runner/env.ts';
import { machineInfo } from './runner/machine.ts';
import { type MeasureContext, type MeasuredPhase, measurePhase } from './runner/measure.ts';
import { type Child, startChild } from './runner/processes.ts';
import { pidsByCommand, ProcSampler } from './runner/proc-sampler.ts';
import { QueueDepths } from './runner/queue-depths.ts';
import { BENCH_DATABASE, ensurePostgresDatabase, removeRedisKeys } from './runner/stores.ts';
import { warmCardSet } from './runner/warm-cache.ts';
import { newCardProgram, removeProgram, seedProgram } from './simulator/cards.ts';
import { LedgerExpectations } from './simulator/ledger.ts';

const root = new URL('..', import.meta.url).pathname;
const WORK_DIR = join(root, '.run/bench');
const RESULTS_PATH = join(root, 'bench/CLUSTER.md');
const CPU_PROFILE = process.argv.includes('--cpu-profile');
const COMMAND = `npm run bench:cluster${CPU_PROFILE ? ' -- --cpu-profile' : ''}`;
const CARDS = 1_000;
const CONNECTIONS = 100;
const MEASURE_MS = 10_000;
const WARMUP_MS = 3_000;
const SAMPLE_INTERVAL_MS = 500;
const READY_TIMEOUT_MS = 60_000;
const REDIS_SHARDS = 64;
/** Before each measurement the previous one's backlog is persisted and the machine quiet again. */
const QUIET_MAX_MS = 30_000;
/** Idle (no load, nothing queued) this long before each measurement: the configuration's fixed cost. */
const IDLE_MS = 4_000;
const QUIET_CPU_PERCENT = 30;
const LEDGER_WAIT_MAX_MS = 120_000;
/** Process groups, in report order; 'redis' is the single Redis or the cluster's masters. */
const GROUPS = [
  'gateway',
  'worker',
  'redis',
  'redis replicas',
  'rabbitmq',
  'postgresql',
  'ferretdb',
] as const;
const LOAD_GENERATOR = 'bench (load generator)';
/** The profiler's name for time the process slept. */
const IDLE_FRAME = '(idle)';

const origin_ms = performance.now();
function progress(line: string): void {
  process.stderr.write(`[${((performance.now() - origin_ms) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
}

const env = devEnvironment();
const run_id = `bc${Date.now().toString(36).slice(-6)}`;
const layout: KeyLayout = { prefix: run_id, shards: REDIS_SHARDS };
const vhost = `afc-bench-${run_id}`;
const database_url = withDatabase(env.DATABASE_URL!, BENCH_DATABASE);
const mongodb_uri = withDatabase(env.MONGODB_URI!, BENCH_DATABASE);
const amqp_url = withVhost(env.RABBITMQ_URL!, vhost);

await ensurePostgresDatabase(env.DATABASE_URL!);
const sql = connectPostgres({ url: database_url, application_name: 'afc-bench-cluster', max_connections: 4 });
const mongo = connectMongo({
  uri: mongodb_uri,
  app_name: 'afc-bench-cluster',
  server_selection_timeout_ms: 10_000,
});
const single_redis = connectRedis({ url: env.REDIS_URL!, connection_name: 'afc-bench-cluster' });
await single_redis.connect();
await migratePostgres(sql);
await migrateMongo(mongo.db());
await createVhost(vhost);
const machine = await machineInfo(sql, mongo.db(), single_redis);
const program = newCardProgram(run_id, CARDS);
const expectations = new LedgerExpectations(run_id);
const depths = new QueueDepths(amqp_url);
const single_redis_pids = pidsByCommand(['redis-server']);

let cluster = null as RedisCluster | null;
let cluster_redis = null as Redis | null;
let master_pids: number[] = [];
let replica_pids: number[] = [];
let gateways: Child[] = [];
let worker: Child | null = null;
let on_cluster = false;

const sampler = new ProcSampler(
  [
    { name: LOAD_GENERATOR, pids: () => [process.pid] },
    { name: 'gateway', pids: () => gateways.map((g) => g.pid) },
    { name: 'worker', pids: () => (worker ? [worker.pid] : []) },
    { name: 'redis', pids: () => (on_cluster ? master_pids : single_redis_pids) },
    { name: 'redis replicas', pids: () => (on_cluster ? replica_pids : []) },
    { name: 'rabbitmq', pids: () => pidsByCommand(['beam.smp']) },
    { name: 'postgresql', pids: () => pidsByCommand(['postgres']) },
    { name: 'ferretdb', pids: () => pidsByCommand(['ferretdb']) },
  ],
  origin_ms,
);

const service_env = serviceEnvironment(env, {
  database_url,
  mongodb_uri,
  amqp_url,
  key_prefix: run_id,
  shards: REDIS_SHARDS,
});

interface Configuration {
  readonly name: string;
  readonly tag: string;
  readonly gateways: number;
  readonly cluster: boolean;
  readonly wait_replicas: number;
}

const CONFIGURATIONS: readonly Configuration[] = [
  { name: '1 gateway, single Redis', tag: 'S', gateways: 1, cluster: false, wait_replicas: 0 },
  { name: '2 gateways, Redis Cluster 3+3', tag: 'C', gateways: 2, cluster: true, wait_replicas: 0 },
  {
    name: '2 gateways, Redis Cluster 3+3, REDIS_WAIT_REPLICAS=1',
    tag: 'W',
    gateways: 2,
    cluster: true,
    wait_replicas: 1,
  },
  { name: '1 gateway, single Redis, again', tag: 'A', gateways: 1, cluster: false, wait_replicas: 0 },
];

interface Measured {
  readonly configuration: Configuration;
  readonly phases: MeasuredPhase[];
  readonly usage: ConfigurationUsage;
  /** Cores the pipeline's processes used while idle, just before the load. */
  readonly idle_cores: number;
  readonly profile: CpuProfileSummary | null;
}

function redisEnv(configuration: Configuration): Record<string, string> {
  if (!configuration.cluster || cluster === null) return { REDIS_URL: env.REDIS_URL! };
  return {
    REDIS_URL: cluster.url,
    REDIS_CLUSTER_NODES: cluster.nodes.join(','),
    REDIS_WAIT_REPLICAS: String(configuration.wait_replicas),
  };
}

async function startProcesses(
  configuration: Configuration,
): Promise<Array<{ port: number; internal_port: number }>> {
  const extra = redisEnv(configuration);
  const health_port = await freePort();
  worker = await startChild({
    name: 'worker',
    script: join(root, 'worker/main.ts'),
    env: { ...service_env, ...extra, WORKER_HEALTH_PORT: String(health_port) },
    ready_url: `http://127.0.0.1:${health_port}/ready`,
    ready_timeout_ms: READY_TIMEOUT_MS,
    log_path: join(WORK_DIR, `${run_id}-worker-${configuration.tag}.log`),
  });
  const ports: Array<{ port: number; internal_port: number }> = [];
  for (let i = 0; i < configuration.gateways; i++) {
    const port = await freePort();
    const internal_port = await freePort();
    gateways.push(
      await startChild({
        name: `gateway ${i + 1}`,
        script: join(root, 'gateway/main.ts'),
        env: {
          ...service_env,
          ...extra,
          GATEWAY_HOST: '127.0.0.1',
          GATEWAY_PORT: String(port),
          GATEWAY_INTERNAL_PORT: String(internal_port),
          RELAY_CONSUMER_NAME: `bench-${run_id}-${i + 1}`,
        },
        ready_url: `http://127.0.0.1:${internal_port}/api/health/ready`,
        ready_timeout_ms: READY_TIMEOUT_MS,
        log_path: join(WORK_DIR, `${run_id}-gateway-${configuration.tag}${i + 1}.log`),
        node_args: CPU_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', profileDir(configuration)] : [],
      }),
    );
    ports.push({ port, internal_port });
  }
  return ports;
}

function profileDir(configuration: Configuration): string {
  return join(WORK_DIR, `${run_id}-profile-${configuration.tag}`);
}

async function stopProcesses(): Promise<void> {
  const stopping = [...gateways, ...(worker ? [worker] : [])];
  await Promise.all(stopping.map((child) => child.stop()));
  gateways = [];
  worker = null;
}

async function decisionBacklog(redis: Redis): Promise<number> {
  const queued = await depths.read();
  return (
    (await new BacklogSampler(redis, layout, origin_ms).outboxDepth()) + queued.business + queued.personal
  );
}

/** Waits (bounded) until the outbox and the decision queues are empty and the machine is quiet. */
async function waitQuiet(redis: Redis): Promise<void> {
  const deadline_ms = performance.now() + QUIET_MAX_MS;
  const pause = () => new Promise((resolve) => setTimeout(resolve, SAMPLE_INTERVAL_MS));
  while ((await decisionBacklog(redis)) > 0 && performance.now() < deadline_ms) await pause();
  await pause();
  while (sampler.recentMachineCpu(2) > QUIET_CPU_PERCENT && performance.now() < deadline_ms) await pause();
}

async function measureConfiguration(configuration: Configuration, index: number): Promise<Measured> {
  on_cluster = configuration.cluster;
  if (configuration.cluster && cluster === null) {
    progress('starting a Redis Cluster: 3 masters, a replica each');
    cluster = await startRedisCluster({ masters: 3, replicas_per_master: 1, node_timeout_ms: 5_000 });
    cluster_redis = connectRedis({
      url: cluster.url,
      cluster_nodes: cluster.nodes,
      connection_name: 'afc-bench-cluster',
    });
    await cluster_redis.connect();
    const topology = await cluster.topology();
    const pidsOf = (role: 'master' | 'replica') =>
      topology.filter((node) => node.role === role).map((node) => cluster!.pid(node.port) ?? -1);
    master_pids = pidsOf('master');
    replica_pids = pidsOf('replica');
  }
  const redis = configuration.cluster ? cluster_redis! : single_redis;
  progress(`${configuration.name}: starting`);
  const ports = await startProcesses(configuration);
  const warmed = await warmCardSet(
    { sql, db: mongo.db(), redis },
    layout,
    run_id,
    0,
    CARDS,
    env.PROGRAM_TIME_ZONE ?? 'UTC',
  );
  progress(`${configuration.name}: ${warmed} cards loaded into the cache`);
  await waitQuiet(redis);
  const idle_from_s = (performance.now() - origin_ms) / 1000;
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const idle = sampler.summary(idle_from_s, (performance.now() - origin_ms) / 1000);
  const idle_cores = GROUPS.reduce((sum, group) => sum + (idle[group]?.cpu_percent_mean ?? 0), 0) / 100;
  const authorization = `Basic ${Buffer.from(`${env.GATEWAY_BASIC_AUTH_USER}:${env.GATEWAY_BASIC_AUTH_PASSWORD}`).toString('base64')}`;
  const context = (internal_port: number): MeasureContext => ({
    origin_ms,
    run_id,
    seed: 1,
    warmup_ms: WARMUP_MS,
    sampler,
    redis,
    metrics_url: `http://127.0.0.1:${internal_port}/metrics`,
    probe: null,
    listener: expectations.listener,
    progress,
  });
  // One load per gateway at once, the connections shared out: a balancer in front of both.
  const phases = await Promise.all(
    ports.map(({ port, internal_port }, i) =>
      measurePhase(
        context(internal_port),
        {
          label: `${configuration.name}, gateway ${i + 1}`,
          tag: `${configuration.tag}${i + 1}`,
          target: 'gateway',
          load: {
            origin: `http://127.0.0.1:${port}`,
            path: '/api/transactions/authorize',
            authorization,
          },
          phase: {
            name: `${configuration.tag}${i + 1}`,
            mode: 'closed',
            duration_ms: MEASURE_MS,
            connections: CONNECTIONS / ports.length,
          },
          card_offset: 0,
          cards: CARDS,
          card_kind: 'business',
        },
        index * ports.length + i,
      ),
    ),
  );
  // The loads ran side by side: the first's window stands for both (they differ by milliseconds).
  const usage = phases[0]!.usage;
  const cpu_percent: Record<string, number> = {};
  for (const group of [...GROUPS, LOAD_GENERATOR]) cpu_percent[group] = usage[group]?.cpu_percent_mean ?? 0;
  const decisions_per_s = phases.reduce((sum, phase) => sum + phase.result.throughput_per_s, 0);
  progress(`${configuration.name}: ${Math.round(decisions_per_s)} decisions/s`);
  await waitQuiet(redis);
  await stopProcesses();
  const profile = CPU_PROFILE ? await summarizeCpuProfiles(profileDir(configuration)) : null;
  return {
    profile,
    configuration,
    phases,
    usage: { name: configuration.name, decisions_per_s, cpu_percent },
    idle_cores,
  };
}

function us(value: number | null): string {
  return value === null ? '-' : String(Math.round(value));
}

function configurationTable(measured: readonly Measured[]): Table {
  return {
    title: 'Configurations: the same closed loop (100 connections, 1,000 business cards, warm cache)',
    header: [
      'configuration',
      'decisions/s',
      'p99 ms (per gateway)',
      'past 3 s',
      'errors',
      'contract violations',
      ...GROUPS.map((group) => `${group} us`),
      'pipeline us',
      'load generator us',
      'pipeline idle cores',
    ],
    rows: measured.map(({ configuration, phases, usage, idle_cores }) => [
      configuration.name,
      String(Math.round(usage.decisions_per_s)),
      phases.map((phase) => fmt(phase.result.latency.p99_ms)).join(' / '),
      String(phases.reduce((sum, phase) => sum + phase.result.timeouts, 0)),
      String(phases.reduce((sum, phase) => sum + phase.result.errors, 0)),
      String(phases.reduce((sum, phase) => sum + phase.result.violation_count, 0)),
      ...GROUPS.map((group) => us(usPerDecision(usage, group))),
      us(GROUPS.reduce((sum, group) => sum + (usPerDecision(usage, group) ?? 0), 0)),
      us(usPerDecision(usage, LOAD_GENERATOR)),
      idle_cores.toFixed(3),
    ]),
    note:
      'CPU microseconds per decision: process CPU time (/proc utime + stime) over the measurement / decisions answered. ' +
      '"redis" is the single Redis, or the cluster\'s three masters; "pipeline" is every process but the load generator; ' +
      `its idle cores were measured over ${IDLE_MS / 1000} s with no load and nothing queued, just before. ` +
      'PostgreSQL, RabbitMQ and FerretDB are machine-wide processes, shared with whatever else runs here.',
  };
}

function modelTable(measured: readonly Measured[]): Table {
  const [input, checked, , input_again] = measured;
  const checks = checkModel(input!.usage, input_again!.usage, checked!.usage, GROUPS);
  const pipeline = checkModel(
    { ...input!.usage, cpu_percent: { all: sumOf(input!.usage) } },
    { ...input_again!.usage, cpu_percent: { all: sumOf(input_again!.usage) } },
    { ...checked!.usage, cpu_percent: { all: sumOf(checked!.usage) } },
    ['all'],
  );
  return {
    title: `Model check: ${checked!.configuration.name}, predicted from ${input!.configuration.name}`,
    header: [
      'process',
      'input us (mean of both)',
      'predicted cores',
      'measured cores',
      'measured / predicted',
      'run noise',
      'within noise',
    ],
    rows: [
      ...checks,
      ...pipeline.map((check) => ({ ...check, group: 'pipeline (all but the load generator)' })),
    ].map((check) => [
      check.group,
      us(check.input_us),
      check.predicted_cores.toFixed(3),
      check.measured_cores.toFixed(3),
      check.ratio === null ? '-' : check.ratio.toFixed(2),
      `${Math.round(check.noise * 100)}%`,
      check.within_noise === null ? 'not predicted' : check.within_noise ? 'yes' : 'NO',
    ]),
    note:
      `Predicted cores = the checked configuration's decisions/s x the input's microseconds per decision (docs/capacity.md). ` +
      `Run noise: the spread of the input measured before and after; "within noise" allows max(noise, ${TOLERANCE_FLOOR * 100}%). ` +
      'The replicas are not in the input (a single Redis has none): their cost is what the cluster adds. On one shared ' +
      'machine throughput is the cores the pipeline gets divided by its microseconds per decision, so the pipeline row is the throughput check.',
  };
}

function sumOf(usage: ConfigurationUsage): number {
  return GROUPS.reduce((sum, group) => sum + (usage.cpu_percent[group] ?? 0), 0);
}

function waitTable(measured: readonly Measured[]): Table {
  const [, without, with_wait] = measured;
  return {
    title: 'What REDIS_WAIT_REPLICAS=1 costs (cluster, same run)',
    header: ['figure', 'without WAIT', 'with WAIT', 'difference'],
    rows: [
      ['decisions/s', without!.usage.decisions_per_s, with_wait!.usage.decisions_per_s],
      ...(['gateway', 'redis', 'redis replicas'] as const).map((group) => [
        `${group} us per decision`,
        usPerDecision(without!.usage, group) ?? 0,
        usPerDecision(with_wait!.usage, group) ?? 0,
      ]),
      [
        'pipeline us per decision',
        (sumOf(without!.usage) * 1e4) / without!.usage.decisions_per_s,
        (sumOf(with_wait!.usage) * 1e4) / with_wait!.usage.decisions_per_s,
      ],
      [
        'p99 ms (worst gateway)',
        Math.max(...without!.phases.map((p) => p.result.latency.p99_ms)),
        Math.max(...with_wait!.phases.map((p) => p.result.latency.p99_ms)),
      ],
    ].map(([figure, a, b]) => [String(figure), fmt(Number(a)), fmt(Number(b)), fmt(Number(b) - Number(a))]),
  };
}

/** The gateway's microseconds per decision split by module (profile self time x measured CPU). */
function profileTable(measured: readonly Measured[]): Table | null {
  const profiled = measured.filter((m) => m.profile !== null);
  if (profiled.length === 0) return null;
  const modules = [
    ...new Set(
      profiled.flatMap((m) => m.profile!.by_module.map((f) => f.frame).filter((f) => f !== IDLE_FRAME)),
    ),
  ];
  return {
    title: 'Gateway microseconds per decision by module (CPU profile self time)',
    header: ['module', ...profiled.map((m) => m.configuration.name)],
    rows: modules.map((module) => [
      module,
      ...profiled.map((m) => {
        const by_module = m.profile!.by_module;
        const busy_percent = 100 - (by_module.find((f) => f.frame === IDLE_FRAME)?.self_percent ?? 0);
        const share = by_module.find((f) => f.frame === module)?.self_percent;
        const gateway_us = usPerDecision(m.usage, 'gateway') ?? 0;
        return share === undefined || busy_percent <= 0 ? '-' : us((share / busy_percent) * gateway_us);
      }),
    ]),
    note:
      "Each module's share of the gateways' busy samples (idle excluded) times their measured microseconds per decision. " +
      "The profile spans the process's life (start-up included) and lists the top modules only.",
  };
}

let failure: unknown;
const measured: Measured[] = [];
let ledger_line = 'not verified';
try {
  progress(`bench:cluster run ${run_id}: seeding ${CARDS} cards`);
  await seedProgram(sql, mongo.db(), program);
  sampler.start(SAMPLE_INTERVAL_MS);
  for (const [index, configuration] of CONFIGURATIONS.entries())
    measured.push(await measureConfiguration(configuration, index));
  const ledger = await expectations.verify(sql, mongo.db(), LEDGER_WAIT_MAX_MS, progress, async () => {
    const queued = await depths.read();
    return queued.business + queued.personal;
  });
  ledger_line = `${ledger.persisted}/${ledger.expected} answered decisions persisted, ${ledger.missing} missing, ${ledger.mismatched} mismatched`;
  progress(`ledger: ${ledger_line}`);
} catch (error) {
  failure = error;
  progress(`bench:cluster failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  sampler.stop();
  await stopProcesses().catch(() => {});
  await depths.close().catch(() => {});
  cluster_redis?.disconnect();
  await cluster?.destroy();
  await Promise.all([
    removeProgram(sql, mongo.db(), program).catch((error) =>
      progress(`cleanup (databases) failed: ${String(error)}`),
    ),
    removeRedisKeys(single_redis, run_id).catch((error) =>
      progress(`cleanup (redis) failed: ${String(error)}`),
    ),
    deleteVhost(vhost).catch((error) => progress(`cleanup (vhost) failed: ${String(error)}`)),
  ]);
  await sql.end({ timeout: 5 });
  await mongo.close();
  single_redis.disconnect();
}

if (failure === undefined && measured.length === CONFIGURATIONS.length) {
  const lines = [
    '# Bench results: two gateways on a Redis Cluster, and the capacity model checked',
    '',
    `Command: \`${COMMAND}\` (what it measures: the comment at the top of bench/cluster.ts)`,
    '',
    `- Machine: ${machine.nproc} CPUs (${machine.cpu_model}), load average ${fmt(machine.load_average_1m_at_start)} at start, shared: every process below, the load generator and the Redis Cluster run on the same cores`,
    `- Commit: ${machine.git_commit}; run ${run_id}, finished ${new Date().toISOString()}, took ${Math.round((performance.now() - origin_ms) / 1000)} s`,
    `- Ledger: ${ledger_line}`,
    '',
    markdownTable(configurationTable(measured)),
    '',
    markdownTable(modelTable(measured)),
    '',
    markdownTable(waitTable(measured)),
    '',
  ];
  const profile = profileTable(measured);
  if (profile) lines.push(markdownTable(profile), '');
  writeFileSync(RESULTS_PATH, lines.join('\n'));
  progress(`wrote ${RESULTS_PATH}`);
}
process.exit(failure === undefined ? 0 : 1);
