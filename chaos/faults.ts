// The faults of a run, drawn from its seeded PRNG, and their injection while the load runs.
// Faults follow one another (each ends before the next starts), so a report line names one
// cause; every "down" is undone in a finally, whatever happens.

import { masterKill, reshard } from './services/redis-cluster.ts';
import type { PrivateFerretDb } from './services/ferretdb.ts';
import type { PrivatePostgres } from './services/postgres.ts';
import { startRabbitApp, stopRabbitApp } from './services/rabbitmq.ts';
import type { RunSystem } from './system.ts';

export const FAULT_KINDS = [
  'gateway_kill',
  'worker_kill',
  'redis_restart',
  'rabbitmq_restart',
  'postgres_crash',
  'ferretdb_kill',
] as const;
/** The cluster mode's kinds (`--cluster`): a Redis Cluster master killed, or slots moved live. */
export const CLUSTER_FAULT_KINDS = [
  'gateway_kill',
  'worker_kill',
  'redis_master_kill',
  'redis_reshard',
  'rabbitmq_restart',
  'postgres_crash',
  'ferretdb_kill',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number] | (typeof CLUSTER_FAULT_KINDS)[number];

/** The dependency name readiness bodies use for each kind; null: the process itself is down. */
export const FAULT_DEPENDENCY: Readonly<Record<FaultKind, string | null>> = {
  gateway_kill: null,
  worker_kill: null,
  redis_restart: 'redis',
  redis_master_kill: 'redis',
  redis_reshard: 'redis',
  rabbitmq_restart: 'rabbitmq',
  postgres_crash: 'postgresql',
  ferretdb_kill: 'mongodb',
};

/** How often each kind is drawn. RabbitMQ is shared by every engineer on the machine: rarest. */
const FAULT_WEIGHTS: Readonly<Record<FaultKind, number>> = {
  gateway_kill: 3,
  worker_kill: 3,
  redis_restart: 2,
  redis_master_kill: 2,
  redis_reshard: 1.5,
  rabbitmq_restart: 1,
  postgres_crash: 1.5,
  ferretdb_kill: 1.5,
};

const DOWN_MS_MIN = 300;
const DOWN_MS_MAX = 2_500;
/** No fault starts in the load's first second (the system warms up) or in its last two. */
const FIRST_FAULT_MS = 1_000;
const QUIET_TAIL_MS = 2_000;
const GAP_MS_MIN = 300;

export interface PlannedFault {
  readonly kind: FaultKind;
  /** Since the load started. */
  readonly at_ms: number;
  readonly down_ms: number;
}

export interface InjectedFault extends PlannedFault {
  /** When the down command was issued, since the load started. */
  readonly begin_ms: number;
  /** When the service or process was down (the command returned) and came back, since the load started. */
  readonly down_at_ms: number;
  readonly up_at_ms: number;
  readonly error: string | null;
}

export function planFaults(
  random: () => number,
  load_ms: number,
  count: number,
  kinds: readonly FaultKind[],
): PlannedFault[] {
  const weights = kinds.map((kind) => FAULT_WEIGHTS[kind]);
  const total = weights.reduce((a, b) => a + b, 0);
  const pick = (): FaultKind => {
    let point = random() * total;
    for (const [i, kind] of kinds.entries()) {
      point -= weights[i]!;
      if (point < 0) return kind;
    }
    return kinds[kinds.length - 1]!;
  };
  const window_ms = load_ms - FIRST_FAULT_MS - QUIET_TAIL_MS;
  const slot_ms = window_ms / count;
  const faults: PlannedFault[] = [];
  for (let i = 0; i < count; i++) {
    const down_ms = DOWN_MS_MIN + Math.floor(random() * (DOWN_MS_MAX - DOWN_MS_MIN));
    // Each fault starts somewhere in its own slot, leaving room for its outage.
    const room_ms = Math.max(0, slot_ms - down_ms - GAP_MS_MIN);
    faults.push({
      kind: pick(),
      at_ms: Math.round(FIRST_FAULT_MS + i * slot_ms + random() * room_ms),
      down_ms,
    });
  }
  return faults;
}

export interface FaultTargets {
  readonly system: RunSystem;
  /** A key of each shard (the run's outbox streams): the slots that hold the run's data. */
  readonly shard_keys: readonly string[];
  readonly postgres: PrivatePostgres;
  readonly ferretdb: PrivateFerretDb;
}

function actions(kind: FaultKind, t: FaultTargets): { down(): Promise<void>; up(): Promise<void> } {
  const { redis, cluster } = t.system;
  switch (kind) {
    case 'gateway_kill':
      return { down: () => t.system.gateway.kill(), up: () => t.system.gateway.start() };
    case 'worker_kill':
      return { down: () => t.system.worker.kill(), up: () => t.system.worker.start() };
    case 'redis_restart':
      if (redis === null) throw new Error('redis_restart needs the single Redis (not --cluster)');
      return { down: () => redis.stop(), up: () => redis.start() };
    case 'redis_master_kill':
      if (cluster === null) throw new Error('redis_master_kill needs --cluster');
      return masterKill(cluster);
    case 'redis_reshard':
      if (cluster === null) throw new Error('redis_reshard needs --cluster');
      return reshard(cluster, t.shard_keys);
    case 'rabbitmq_restart':
      return { down: stopRabbitApp, up: startRabbitApp };
    case 'postgres_crash':
      return { down: () => t.postgres.crash(), up: () => t.postgres.start() };
    case 'ferretdb_kill':
      return { down: () => t.ferretdb.kill(), up: () => t.ferretdb.start() };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Injects the planned faults on the load's clock; resolves when the last one is undone. */
export async function injectFaults(
  planned: readonly PlannedFault[],
  targets: FaultTargets,
  load_started_ms: number,
  progress: (line: string) => void,
): Promise<InjectedFault[]> {
  const since = () => Math.round(performance.now() - load_started_ms);
  const injected: InjectedFault[] = [];
  for (const fault of planned) {
    await sleep(fault.at_ms - since());
    const { down, up } = actions(fault.kind, targets);
    let error: string | null = null;
    const begin_ms = since();
    let down_at_ms = begin_ms;
    let up_at_ms = down_at_ms;
    try {
      await down();
      down_at_ms = since();
      progress(`  fault ${fault.kind} at ${(down_at_ms / 1000).toFixed(1)} s for ${fault.down_ms} ms`);
      await sleep(fault.down_ms);
    } catch (cause) {
      error = `down: ${cause instanceof Error ? cause.message : String(cause)}`;
    } finally {
      try {
        await up();
      } catch (cause) {
        error = `${error ?? ''} up: ${cause instanceof Error ? cause.message : String(cause)}`.trim();
      }
      up_at_ms = since();
    }
    injected.push({ ...fault, begin_ms, down_at_ms, up_at_ms, error });
  }
  return injected;
}
