// A chaos session: private PostgreSQL and FerretDB instances (migrated like production), then
// the plan's runs one after another, each with its own Redis, vhost, processes and tokens.
// Whatever happens, the shared RabbitMQ is left running and the private instances are removed.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrateMongo, migratePostgres } from '../migrations/migrate.ts';
import { connectMongo } from '../shared/stores/mongo.ts';
import { connectPostgres } from '../shared/stores/postgres.ts';
import { ROOT } from '../test/support/processes.ts';
import { type ChaosPlan, replayCommand } from './plan.ts';
import { type RunResult, runOnce } from './run-one.ts';
import { startPrivateFerretDb } from './services/ferretdb.ts';
import { startPrivatePostgres } from './services/postgres.ts';
import { ensureRabbitRunning } from './services/rabbitmq.ts';
import { CHAOS_MONGO_DATABASE } from './system.ts';

export const LOG_DIR = join(ROOT, '.run/chaos');
const STORE_TIMEOUT_MS = 10_000;

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
  progress(`chaos ${plan.profile}: ${plan.runs.length} run(s), ${plan.load_ms / 1000} s of load at ${plan.rate_per_s}/s`);
  const postgres = await startPrivatePostgres();
  const ferretdb = await startPrivateFerretDb().catch(async (error) => {
    await postgres.destroy();
    throw error;
  });
  const mongodb_uri = ferretdb.uri(CHAOS_MONGO_DATABASE);
  const sql = connectPostgres({ url: postgres.url, application_name: 'afc-chaos', max_connections: 4 });
  const mongo = connectMongo({ uri: mongodb_uri, app_name: 'afc-chaos', server_selection_timeout_ms: STORE_TIMEOUT_MS });
  const results: RunResult[] = [];
  try {
    await migratePostgres(sql);
    await migrateMongo(mongo.db());
    const session = {
      postgres,
      ferretdb,
      sql,
      db: mongo.db(),
      database_url: postgres.url,
      mongodb_uri,
      log_dir: LOG_DIR,
      origin_ms,
    };
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
    await Promise.allSettled([sql.end({ timeout: 5 }), mongo.close()]);
    await Promise.allSettled([postgres.destroy(), ferretdb.destroy()]);
  }
  return { plan, results, started_at, duration_ms: performance.now() - origin_ms };
}
