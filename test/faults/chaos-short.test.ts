// The fault-injection suite's short mode (chaos/, `npm run chaos` for more runs): three runs
// under simulator load, each injecting three faults drawn from two kinds, so between them the
// gateway and the worker are SIGKILLed and Redis, RabbitMQ, PostgreSQL and FerretDB are
// stopped and restarted. After recovery and drain every promise must hold. A failing run
// prints its seed and the command that replays it. Redis, PostgreSQL and FerretDB are private
// instances; the shared RabbitMQ is started again whatever happens. Then one run of the cluster
// mode: a private 3+3 Redis Cluster, a master SIGKILLed, slots migrated under load.
import { describe, expect, it } from 'vitest';
import { runChaos, runLine } from '../../chaos/chaos.ts';
import { type ChaosPlan, clusterShortPlan, replayCommand, shortPlan } from '../../chaos/plan.ts';
import { ensureRabbitRunning } from '../../chaos/services/rabbitmq.ts';

const SHORT_MODE_TIMEOUT_MS = 300_000;

/** Runs the plan; every run must pass, with all its faults injected and decisions persisted. */
async function expectEveryRunPasses(plan: ChaosPlan): Promise<void> {
  const lines: string[] = [];
  let outcome: Awaited<ReturnType<typeof runChaos>>;
  try {
    outcome = await runChaos(plan, (line) => lines.push(line));
  } finally {
    await ensureRabbitRunning();
  }
  const failed = outcome.results.filter((r) => !r.passed);
  const report = failed.map((r) => {
    const findings = Object.entries(r.findings.failures).map(
      ([kind, f]) => `  ${kind}: ${f.count}; e.g. ${f.examples.slice(0, 3).join(' | ')}`,
    );
    return [runLine(r), `  replay: ${replayCommand(plan, plan.runs[r.index - 1]!)}`, ...findings].join('\n');
  });
  expect(report, lines.join('\n')).toEqual([]);
  expect(outcome.results.map((r) => r.faults.length)).toEqual(plan.runs.map((run) => run.fault_count));
  expect(outcome.results.every((r) => r.counts.persisted > 0)).toBe(true);
}

describe('chaos, short mode', () => {
  it(
    'loses, duplicates and wrongly persists no decision, and keeps Redis equal to the ledger, through crashes and outages',
    () => expectEveryRunPasses(shortPlan()),
    SHORT_MODE_TIMEOUT_MS,
  );

  it(
    'on a Redis Cluster with REDIS_WAIT_REPLICAS=1: the same through a master killed and slots moved live',
    () => expectEveryRunPasses(clusterShortPlan()),
    SHORT_MODE_TIMEOUT_MS,
  );
});
