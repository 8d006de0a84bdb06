// What one `npm run bench` does: the quick default (about 4 minutes) or `--full`. Flags:
//   --full               1k, 100k and 1M cards; longer phases; every phase at 100 and 1000 connections
//   --cards=1000,50000   card set sizes (ordinary cards per set; each set is seeded disjoint)
//   --phase-s=6          measured seconds per phase (a warm-up of the same settings precedes it)
//   --seed=42            traffic seed
//   --history=100000     prior transactions seeded into the ledger (half pending, with their holds)
//                        before the persisted rate is measured again (1,000,000 with --full; 0: none)
//   --cpu-profile        run the gateway under --cpu-prof and summarize its top frames
//   --no-worker          measure the gateway alone even when worker/main.ts exists
//   --keep               keep the run's cards, Redis keys and RabbitMQ vhost afterwards

export interface BenchPlan {
  readonly profile: 'quick' | 'full';
  readonly card_sets: readonly number[];
  readonly warmup_ms: number;
  readonly phase_ms: number;
  /** Closed-loop concurrency levels run on the first card set (and on every set with --full). */
  readonly connections: readonly number[];
  /** Capacity search: first rate at this share of the closed-loop throughput at the first level. */
  readonly capacity_start_share: number;
  readonly capacity: {
    readonly warmup_ms: number;
    readonly step_ms: number;
    /** Low-rate steps last until about this many answers are expected (capacity-search.ts). */
    readonly step_min_answers: number;
    readonly step_max_ms: number;
    readonly max_steps: number;
    readonly growth_factor: number;
    /** Longest wait after a step for its backlog to drain (longer: the backlog was growing). */
    readonly drain_max_ms: number;
  };
  /** Prior transactions seeded before the second persisted-rate measurement (0: not measured). */
  readonly history_rows: number;
  readonly persist: {
    /** Load (worker stopped) that builds the backlog the worker then drains: at most this long, */
    readonly load_ms: number;
    /** and at most this many requests: the same backlog on the ledger with and without history. */
    readonly requests: number;
    readonly drain_max_ms: number;
  };
  readonly ttl: {
    /** CACHE_TTL_SCALE of the gateway in the TTL-expiry phase (limits 300 s * scale). */
    readonly scale: number;
    readonly phase_ms: number;
  };
  readonly seed: number;
  readonly cpu_profile: boolean;
  readonly worker: boolean;
  readonly keep: boolean;
  /** How long the ledger check waits for the worker to persist every decision. */
  readonly ledger_wait_max_ms: number;
  readonly command: string;
}

export class PlanError extends Error {
  readonly code = 'BENCH_ERR_USAGE';
}

const CARD_SET_MAX = 2_000_000;

function positiveInteger(name: string, raw: string, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new PlanError(`--${name} must be an integer between 1 and ${max} (got "${raw}")`);
  }
  return Number(raw);
}

export function parsePlan(argv: readonly string[]): BenchPlan {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (match === null) throw new PlanError(`unknown argument "${arg}"`);
    flags.set(match[1]!, match[2] ?? '');
  }
  const known = new Set(['full', 'cards', 'phase-s', 'seed', 'history', 'cpu-profile', 'no-worker', 'keep']);
  for (const name of flags.keys()) if (!known.has(name)) throw new PlanError(`unknown flag --${name}`);
  const full = flags.has('full');
  const cards = flags.get('cards');
  const phase_s = flags.get('phase-s');
  const seed = flags.get('seed');
  const history = flags.get('history');
  return Object.freeze({
    profile: full ? 'full' : 'quick',
    card_sets: cards
      ? cards.split(',').map((n) => positiveInteger('cards', n, CARD_SET_MAX))
      : full
        ? [1_000, 100_000, 1_000_000]
        : [1_000, 50_000],
    warmup_ms: full ? 5_000 : 2_000,
    phase_ms: phase_s ? positiveInteger('phase-s', phase_s, 600) * 1000 : full ? 20_000 : 6_000,
    connections: [100, 1000],
    capacity_start_share: 0.5,
    capacity: full
      ? {
          warmup_ms: 2_000,
          step_ms: 10_000,
          step_min_answers: 2_000,
          step_max_ms: 40_000,
          max_steps: 9,
          growth_factor: 1.5,
          drain_max_ms: 10_000,
        }
      : {
          warmup_ms: 1_000,
          step_ms: 3_000,
          step_min_answers: 600,
          step_max_ms: 12_000,
          max_steps: 5,
          growth_factor: 1.5,
          drain_max_ms: 3_000,
        },
    history_rows:
      history === undefined
        ? full
          ? 1_000_000
          : 100_000
        : history === '0'
          ? 0
          : positiveInteger('history', history, 20_000_000),
    persist: full
      ? { load_ms: 30_000, requests: 20_000, drain_max_ms: 120_000 }
      : { load_ms: 10_000, requests: 15_000, drain_max_ms: 20_000 },
    ttl: full ? { scale: 0.05, phase_ms: 60_000 } : { scale: 0.02, phase_ms: 15_000 },
    seed: seed ? positiveInteger('seed', seed, 2 ** 31) : 42,
    cpu_profile: flags.has('cpu-profile'),
    worker: !flags.has('no-worker'),
    keep: flags.has('keep'),
    ledger_wait_max_ms: full ? 300_000 : 15_000,
    command: ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
  });
}
