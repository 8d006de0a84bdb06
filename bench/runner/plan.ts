// What one `npm run bench` does: the quick default (under 2 minutes) or `--full`. Flags:
//   --full               1k, 100k and 1M cards; longer phases; every phase at 100 and 1000 connections
//   --cards=1000,50000   card set sizes (ordinary cards per set; each set is seeded disjoint)
//   --phase-s=6          measured seconds per phase (a warm-up of the same settings precedes it)
//   --seed=42            traffic seed
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
  /** Open loop at this share of the closed-loop throughput measured at the first concurrency level. */
  readonly open_loop_share: number;
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
  const known = new Set(['full', 'cards', 'phase-s', 'seed', 'cpu-profile', 'no-worker', 'keep']);
  for (const name of flags.keys()) if (!known.has(name)) throw new PlanError(`unknown flag --${name}`);
  const full = flags.has('full');
  const cards = flags.get('cards');
  const phase_s = flags.get('phase-s');
  const seed = flags.get('seed');
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
    open_loop_share: 0.5,
    seed: seed ? positiveInteger('seed', seed, 2 ** 31) : 42,
    cpu_profile: flags.has('cpu-profile'),
    worker: !flags.has('no-worker'),
    keep: flags.has('keep'),
    ledger_wait_max_ms: full ? 300_000 : 15_000,
    command: ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
  });
}
