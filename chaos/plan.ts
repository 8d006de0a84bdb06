// What one `npm run chaos` does. Flags:
//   (none)        quick: 3 runs, 12 s of load each, 3 faults per run
//   --full        50 runs, 12 s of load each, 2-4 faults per run; writes chaos/REPORT.md
//   --seed=N      one run with seed N (replays a reported run: same traffic and faults)
//   --runs=N      number of runs          --load-s=N   seconds of load per run
//   --rate=N      requests per second     --faults=N   faults per run (fixed)
//   --kinds=a,b   draw faults from these kinds only (default: all of FAULT_KINDS)
//   --undecided=standin  the gateway runs with UNDECIDED_ANSWER=standin and the simulated
//                 Marqeta stands in (approve up to 1,000.00) for what it leaves undecided
//   --cluster     the system on a private 3-master, 3-replica Redis Cluster with
//                 REDIS_WAIT_REPLICAS=1; faults from CLUSTER_FAULT_KINDS (a master killed,
//                 slots moved live) instead of restarts of the single Redis
// Every run prints the exact command that replays it.

import { CLUSTER_FAULT_KINDS, FAULT_KINDS, type FaultKind } from './faults.ts';

export interface RunPlan {
  readonly seed: number;
  readonly fault_count: number;
  readonly kinds: readonly FaultKind[];
}

export interface ChaosPlan {
  readonly profile: 'quick' | 'full' | 'short' | 'replay';
  readonly runs: readonly RunPlan[];
  readonly load_ms: number;
  readonly rate_per_s: number;
  readonly ordinary_cards: number;
  readonly drain_limit_ms: number;
  /** UNDECIDED_ANSWER of the run's gateway; `standin` also turns the simulator's Commando on. */
  readonly undecided_answer: 'decline' | 'standin';
  /** --cluster: the run's Redis is a private Redis Cluster. */
  readonly cluster: boolean;
  readonly write_report: boolean;
  readonly command: string;
}

export class PlanError extends Error {
  readonly code = 'CHAOS_ERR_USAGE';
}

const SEED_MAX = 2 ** 31 - 1;
const ORDINARY_CARDS = 200;
const DRAIN_LIMIT_MS = 90_000;

function integer(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new PlanError(`--${name} must be an integer between ${min} and ${max} (got "${raw}")`);
  }
  return Number(raw);
}

/** Seeds of a session's runs: drawn once, each printed, so any run can be replayed alone. */
function freshSeed(): number {
  return 1 + Math.floor(Math.random() * (SEED_MAX - 1));
}

/** The fault kinds of a mode: the single Redis's, or the cluster's. */
function modeKinds(cluster: boolean): readonly FaultKind[] {
  return cluster ? CLUSTER_FAULT_KINDS : FAULT_KINDS;
}

function parseKinds(raw: string, cluster: boolean): FaultKind[] {
  const known = modeKinds(cluster);
  const kinds = raw.split(',');
  for (const kind of kinds) {
    if (!(known as readonly string[]).includes(kind))
      throw new PlanError(
        `--kinds: unknown fault kind "${kind}"${cluster ? ' with --cluster' : ''} (known: ${known.join(', ')})`,
      );
  }
  return kinds as FaultKind[];
}

function parseFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (match === null) throw new PlanError(`unknown argument "${arg}"`);
    flags.set(match[1]!, match[2] ?? '');
  }
  const known = new Set([
    'full',
    'seed',
    'runs',
    'load-s',
    'rate',
    'faults',
    'kinds',
    'undecided',
    'cluster',
  ]);
  for (const name of flags.keys()) if (!known.has(name)) throw new PlanError(`unknown flag --${name}`);
  return flags;
}

export function parsePlan(argv: readonly string[]): ChaosPlan {
  const flags = parseFlags(argv);
  const full = flags.has('full');
  const seed = flags.get('seed');
  const runs = seed !== undefined ? 1 : integer('runs', flags.get('runs') ?? (full ? '50' : '3'), 1, 1_000);
  const fixed_faults = flags.has('faults') ? integer('faults', flags.get('faults')!, 0, 10) : null;
  const cluster = flags.has('cluster');
  const kinds = flags.has('kinds') ? parseKinds(flags.get('kinds')!, cluster) : modeKinds(cluster);
  const undecided = flags.get('undecided') ?? 'decline';
  if (undecided !== 'decline' && undecided !== 'standin')
    throw new PlanError(`--undecided must be decline or standin (got "${undecided}")`);
  const seeds =
    seed !== undefined ? [integer('seed', seed, 1, SEED_MAX)] : Array.from({ length: runs }, freshSeed);
  return Object.freeze({
    profile: seed !== undefined ? 'replay' : full ? 'full' : 'quick',
    runs: seeds.map((s) => ({
      seed: s,
      // The count derives from the seed, so a replay injects as many faults as the original run.
      fault_count: fixed_faults ?? (full || seed !== undefined ? 2 + (s % 3) : 3),
      kinds,
    })),
    load_ms: integer('load-s', flags.get('load-s') ?? '12', 3, 600) * 1000,
    rate_per_s: integer('rate', flags.get('rate') ?? '100', 1, 5_000),
    ordinary_cards: ORDINARY_CARDS,
    drain_limit_ms: DRAIN_LIMIT_MS,
    undecided_answer: undecided,
    cluster,
    write_report: full,
    command: ['npm run chaos', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
  });
}

/**
 * The short mode `npm test` runs: 3 runs of 8 s, each drawing its 3 faults from two kinds, so
 * the three runs cover every kind between them.
 */
export function shortPlan(): ChaosPlan {
  const runs = 3;
  return Object.freeze({
    profile: 'short',
    runs: Array.from({ length: runs }, (_, i) => ({
      seed: freshSeed(),
      fault_count: 3,
      kinds: FAULT_KINDS.slice(2 * i, 2 * i + 2),
    })),
    load_ms: 8_000,
    rate_per_s: 80,
    ordinary_cards: ORDINARY_CARDS,
    drain_limit_ms: 60_000,
    undecided_answer: 'decline',
    cluster: false,
    write_report: false,
    command: 'vitest run --project faults test/faults/chaos-short.test.ts',
  });
}

/**
 * The cluster's short mode `npm test` runs: one run of 8 s on a private Redis Cluster, its 3
 * faults drawn from a master killed and slots moved live.
 */
export function clusterShortPlan(): ChaosPlan {
  return Object.freeze({
    ...shortPlan(),
    runs: [
      { seed: freshSeed(), fault_count: 3, kinds: ['redis_master_kill', 'redis_reshard'] as FaultKind[] },
    ],
    cluster: true,
  });
}

/** The command that replays one run of a plan: same seed, so the same traffic and faults. */
export function replayCommand(plan: ChaosPlan, run: RunPlan): string {
  const flags = [
    `--seed=${run.seed}`,
    `--faults=${run.fault_count}`,
    `--load-s=${plan.load_ms / 1000}`,
    `--rate=${plan.rate_per_s}`,
  ];
  if (run.kinds.length !== modeKinds(plan.cluster).length) flags.push(`--kinds=${run.kinds.join(',')}`);
  if (plan.undecided_answer !== 'decline') flags.push(`--undecided=${plan.undecided_answer}`);
  if (plan.cluster) flags.push('--cluster');
  return `npm run chaos -- ${flags.join(' ')}`;
}
