// chaos/REPORT.md: the summary line, then one section per run (seed and replay command, faults
// with their times, decisions answered and persisted, what the checks found).

import { writeFileSync } from 'node:fs';
import type { ChaosOutcome } from './chaos.ts';
import type { Finding } from './checks/findings.ts';
import { replayCommand } from './plan.ts';
import type { ReadinessWindow } from './readiness.ts';
import type { FaultSeen, RunResult } from './run-one.ts';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

const shownAs = (unready: boolean) => (unready ? '503' : 'ready, reported down');

function readiness(w: ReadinessWindow): string {
  if (w.shown_after_ms === null) return 'not shown';
  const cleared = w.cleared_after_ms === null ? 'not seen' : `+${seconds(w.cleared_after_ms)}`;
  return `${shownAs(w.unready)} +${seconds(w.shown_after_ms)}; cleared ${cleared} after up`;
}

function findingLines(title: string, findings: Record<string, Finding>): string[] {
  const entries = Object.entries(findings);
  if (entries.length === 0) return [`- ${title}: none`];
  return [
    `- ${title}:`,
    ...entries.flatMap(([kind, f]) => [
      `  - ${kind}: ${f.count}`,
      ...f.examples.map((e) => `    - \`${e.split('\n')[0]}\``),
    ]),
  ];
}

function runSection(outcome: ChaosOutcome, r: RunResult): string[] {
  const plan_run = outcome.plan.runs[r.index - 1]!;
  const c = r.counts;
  return [
    `### Run ${r.index}: seed ${r.seed}, ${r.passed ? 'passed' : 'FAILED'}`,
    '',
    `Replay: \`${replayCommand(outcome.plan, plan_run)}\``,
    '',
    '| fault | planned at | down at | up at | down for | gateway readiness | worker readiness | error |',
    '|---|---|---|---|---|---|---|---|',
    ...r.faults.map(
      (f) =>
        `| ${f.kind} | ${seconds(f.at_ms)} | ${seconds(f.down_at_ms)} | ${seconds(f.up_at_ms)} | ` +
        `${seconds(f.up_at_ms - f.down_at_ms)} | ${readiness(f.gateway_ready)} | ${readiness(f.worker_ready)} | ${f.error ?? ''} |`,
    ),
    '',
    `- decisions: ${c.sent} sent, ${c.answered} answered (${c.approved} approved), ${c.unanswered} unanswered, ` +
      `${c.replays} replays; ${c.persisted} persisted`,
    `- answers: ${Object.entries(r.outcomes)
      .sort(([, a], [, b]) => b - a)
      .map(([outcome, n]) => `${outcome} ${n}`)
      .join(', ')}`,
    `- process crashes (restarted by the supervisor): ${
      r.crashes.length === 0
        ? 'none'
        : r.crashes
            .map((x) => `${x.process} at ${seconds(x.at_ms)} (code ${x.code}, ${x.signal ?? 'no signal'})`)
            .join(', ')
    }`,
    `- drained: ${r.drained ? 'yes' : 'NO'} in ${seconds(r.drain_ms)}; Redis vs ledger compared on ${r.cards_compared} cards`,
    ...findingLines('differences found', r.findings.failures),
    ...findingLines('explained', r.findings.explained),
    '',
  ];
}

export function summaryLine(outcome: ChaosOutcome): string {
  const results = outcome.results;
  const passed = results.filter((r) => r.passed).length;
  const sum = (pick: (r: RunResult) => number) => results.reduce((s, r) => s + pick(r), 0);
  const failures = sum((r) => r.findings.failure_count);
  return (
    `${passed}/${results.length} runs passed, ${sum((r) => r.faults.length)} faults injected; ` +
    `${sum((r) => r.counts.answered)} decisions answered, ${sum((r) => r.counts.persisted)} persisted; ` +
    `${failures} differences (lost, double-counted or wrongly persisted decisions, Redis/ledger mismatches, ` +
    'limit breaches, dead letters)'
  );
}

/** Per fault kind: how often readiness showed it and how, how fast, and how soon it cleared. */
function readinessTable(outcome: ChaosOutcome): string[] {
  const by_kind = new Map<string, FaultSeen[]>();
  for (const r of outcome.results)
    for (const f of r.faults) by_kind.set(f.kind, [...(by_kind.get(f.kind) ?? []), f]);
  const cell = (faults: FaultSeen[], pick: (f: FaultSeen) => ReadinessWindow) => {
    const windows = faults.map(pick);
    const shown = windows.filter((w) => w.shown_after_ms !== null);
    if (shown.length === 0) return `not shown (0/${faults.length})`;
    const parts = [true, false].flatMap((unready) => {
      const n = shown.filter((w) => w.unready === unready).length;
      return n === 0 ? [] : [`${shownAs(unready)} ${n}`];
    });
    const slowest = Math.max(...shown.map((w) => w.shown_after_ms!));
    const cleared = shown.map((w) => w.cleared_after_ms);
    const back = cleared.includes(null)
      ? 'not always seen'
      : `<= ${seconds(Math.max(...(cleared as number[])))}`;
    return `shown in ${shown.length}/${faults.length} (${parts.join(', ')}), within ${seconds(slowest)}; cleared ${back} after up`;
  };
  return [
    '| fault | injected | gateway readiness | worker readiness |',
    '|---|---|---|---|',
    ...[...by_kind].map(
      ([kind, faults]) =>
        `| ${kind} | ${faults.length} | ${cell(faults, (f) => f.gateway_ready)} | ${cell(faults, (f) => f.worker_ready)} |`,
    ),
  ];
}

export function writeReport(path: string, outcome: ChaosOutcome): void {
  const lines = [
    '# Chaos report',
    '',
    `**${summaryLine(outcome)}.**`,
    '',
    `Command: \`${outcome.plan.command}\`; started ${outcome.started_at}, took ${seconds(outcome.duration_ms)}; ` +
      `${outcome.plan.load_ms / 1000} s of load per run at ${outcome.plan.rate_per_s} requests/s, ` +
      `${outcome.plan.ordinary_cards} ordinary cards plus the must-decline pools per run.`,
    '',
    'Readiness by fault kind (probes polled every 250 ms, 1 s timeout; delays measured from the moment the ',
    'service or process was down, i.e. its stop command had returned). A fault is shown by a 503, or by the ',
    'dependency named `down` in a 200 body (the gateway keeps deciding cached cards without PostgreSQL, ',
    'MongoDB or RabbitMQ); faults shorter than the 2 s promise may be over before they show:',
    '',
    ...readinessTable(outcome),
    '',
    'What each run checks (chaos/checks/): every answered decision persisted exactly once and as answered; ',
    'nothing persisted as approved that was answered declined; Redis holds and spend counters equal to the ',
    'durable ledger (the reconciliation of `npm run reconcile` reports zero differences); no approval beyond ',
    'a daily limit or a balance (judged from the answers); the outbox ',
    'and every queue drained; no dead letter. "Explained" findings are listed, not failed: requests that got ',
    'no answer because the gateway was killed mid-request (Marqeta declines those itself and notifies us); ',
    'reversals, clearings and refunds answered `timeout`/`system_error` but booked (they report what the ',
    'network already did); replays answered differently around a `system_error` (Redis unreachable: nothing ',
    'could be recorded or read).',
    '',
    '## Runs',
    '',
    ...outcome.results.flatMap((r) => runSection(outcome, r)),
  ];
  writeFileSync(path, `${lines.join('\n')}\n`);
}
