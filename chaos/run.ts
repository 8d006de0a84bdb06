// `npm run chaos` (quick), `npm run chaos -- --full` (50 runs, writes chaos/REPORT.md) and
// `npm run chaos -- --seed=N ...` (replays one run). Flags: chaos/plan.ts. Exit code 0 when
// every run kept every promise, 1 otherwise, 64 on a usage error.

import { join } from 'node:path';
import { ROOT } from '../shared/dev/processes.ts';
import { runChaos } from './chaos.ts';
import { type ChaosPlan, PlanError, parsePlan } from './plan.ts';
import { writeReport } from './report.ts';

let plan: ChaosPlan;
try {
  plan = parsePlan(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof PlanError)) throw error;
  process.stderr.write(`chaos: ${error.message}\n`);
  process.exit(64);
}

const origin_ms = performance.now();
function progress(line: string): void {
  process.stderr.write(`[${((performance.now() - origin_ms) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
}

// A first Ctrl-C (or SIGTERM) ends the session after the run in progress, which still cleans up
// (RabbitMQ started again, private instances removed); a second one exits at once.
const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stop.signal.aborted) process.exit(130);
    progress(`${signal}: stopping after the run in progress (again to exit at once)`);
    stop.abort();
  });
}

const outcome = await runChaos(plan, progress, stop.signal);
const failed = outcome.results.filter((r) => !r.passed);
if (plan.write_report) {
  const path = join(ROOT, 'chaos/REPORT.md');
  writeReport(path, outcome);
  progress(`wrote ${path}`);
}
progress(
  `${outcome.results.length - failed.length}/${outcome.results.length} runs passed` +
    (failed.length > 0 ? `; failed seeds: ${failed.map((r) => r.seed).join(', ')}` : ''),
);
process.exit(failed.length === 0 ? 0 : 1);
