// A chaos session: the plan's runs one after another, each with its own databases, Redis,
// vhost and processes. Whatever happens, the shared RabbitMQ is left running.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../shared/dev/processes.ts';
import { type ChaosPlan, replayCommand } from './plan.ts';
import { type RunResult, runOnce } from './run-one.ts';
import { ensureRabbitRunning } from './services/rabbitmq.ts';

export const LOG_DIR = join(ROOT, '.run/chaos');

export interface ChaosOutcome {
  readonly plan: ChaosPlan;
  readonly results: RunResult[];
  readonly started_at: string;
  readonly duration_ms: number;
}

export function runLine(result: RunResult): string {
  const c = result.counts;
  const verdict = result.passed ? 'PASS' : `FAIL (${result.findings.failure_count} findings)`;
  return (
    `run ${result.index} seed ${result.seed}: ${verdict}; ${result.faults.length} faults, ` +
    `${c.sent} sent, ${c.answered} answered (${c.approved} approved), ${c.unanswered} unanswered, ` +
    `${c.persisted} persisted, ${result.crashes.length} crashes, drained in ${(result.drain_ms / 1000).toFixed(1)} s`
  );
}

/** `stop`, when aborted, ends the session after the run in progress (its cleanup still runs). */
export async function runChaos(
  plan: ChaosPlan,
  progress: (line: string) => void,
  stop?: AbortSignal,
): Promise<ChaosOutcome> {
  const origin_ms = performance.now();
  const started_at = new Date().toISOString();
  mkdirSync(LOG_DIR, { recursive: true });
  progress(
    `chaos ${plan.profile}${plan.cluster ? ' on a Redis Cluster' : ''}: ${plan.runs.length} run(s), ${plan.load_ms / 1000} s of load at ${plan.rate_per_s}/s, ` +
      `undecided requests: ${plan.undecided_answer}`,
  );
  const results: RunResult[] = [];
  try {
    const session = { log_dir: LOG_DIR, origin_ms };
    for (const [index, run] of plan.runs.entries()) {
      if (stop?.aborted) {
        progress(`stopped after ${index} run(s)`);
        break;
      }
      progress(`replay: ${replayCommand(plan, run)}`);
      const result = await runOnce(
        session,
        {
          index: index + 1,
          seed: run.seed,
          load_ms: plan.load_ms,
          rate_per_s: plan.rate_per_s,
          fault_count: run.fault_count,
          kinds: run.kinds,
          ordinary_cards: plan.ordinary_cards,
          drain_limit_ms: plan.drain_limit_ms,
          undecided_answer: plan.undecided_answer,
          cluster: plan.cluster,
        },
        progress,
      );
      results.push(result);
      progress(runLine(result));
      for (const [kind, finding] of Object.entries(result.findings.failures)) {
        progress(`  FAIL ${kind}: ${finding.count}; e.g. ${finding.examples.slice(0, 2).join(' | ')}`);
      }
    }
  } finally {
    await ensureRabbitRunning();
  }
  return { plan, results, started_at, duration_ms: performance.now() - origin_ms };
}
