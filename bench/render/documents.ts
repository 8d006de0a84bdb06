// bench/RESULTS.md and bench/report/index.html from one run's results.

import type { Chart } from './charts.ts';
import type { BenchResults } from './results.ts';
import {
  capacityTable,
  cpuPerDecisionTable,
  outcomeTable,
  persistTable,
  phaseTable,
  pipelineTable,
  type Table,
  ttlTable,
  usageTable,
} from './tables.ts';
import { checkTargets, fmt } from './targets.ts';

function mark(met: boolean | null): string {
  return met === null ? 'not measured' : met ? 'met' : 'MISSED';
}

/** The figure tables, in report order (both documents). */
function figureTables(results: BenchResults): Table[] {
  return [
    capacityTable(results),
    cpuPerDecisionTable(results),
    persistTable(results),
    ttlTable(results),
    phaseTable(results),
    pipelineTable(results),
    usageTable(results),
    outcomeTable(results),
  ].filter((table): table is Table => table !== null);
}

function targetsTable(results: BenchResults): Table {
  return {
    title: 'Targets',
    header: ['target', 'goal', 'measured', 'result', 'detail'],
    rows: checkTargets(results).map((c) => [c.target, c.goal, c.measured, mark(c.met), c.detail]),
  };
}

export function markdownTable(table: Table): string {
  const escapeCell = (cell: string) => cell.replace(/\|/g, '\\|');
  const lines = [
    `### ${table.title}`,
    '',
    `| ${table.header.map(escapeCell).join(' | ')} |`,
    `|${table.header.map(() => ' --- ').join('|')}|`,
    ...table.rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`),
  ];
  if (table.note) lines.push('', table.note);
  return lines.join('\n');
}

function machineLines(results: BenchResults): string[] {
  const m = results.machine;
  return [
    `- Machine: ${m.nproc} CPUs (${m.cpu_model}), ${m.memory_gb} GB memory, load average ${fmt(m.load_average_1m_at_start)} at start (shared with other engineers: compare with the baseline, not across runs)`,
    `- Versions: ${Object.entries(m.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}`,
    `- Commit: ${m.git_commit}; run ${results.run_id}, finished ${results.finished_at}, took ${fmt(results.duration_s, 0)} s`,
    `- Cards: ${results.plan.card_sets.join(', ')} per set (disjoint, 3 in 4 business in PostgreSQL, 1 in 4 personal in MongoDB/FerretDB, Zipf popularity) + must-decline pools`,
    `- Worker: ${results.with_worker ? 'running (ledger verified)' : 'not present (gateway measured alone)'}`,
  ];
}

export function renderMarkdown(results: BenchResults, charts: readonly Chart[]): string {
  const lines = [
    '# Bench results',
    '',
    `Command: \`${results.plan.command}\` (${results.plan.profile}; warm-up ${results.plan.warmup_ms / 1000} s + ${results.plan.phase_ms / 1000} s per phase)`,
    '',
    ...machineLines(results),
    '',
  ];
  if (results.failure) lines.push(`**The run failed before finishing:** ${results.failure}`, '');
  lines.push(markdownTable(targetsTable(results)).replace(/^### /, '## '), '', '## Figures', '');
  for (const table of figureTables(results)) lines.push(markdownTable(table), '');
  if (results.ledger) {
    const l = results.ledger;
    lines.push(
      '## Ledger',
      '',
      `${l.persisted} of ${l.expected} answered decisions persisted (waited ${fmt(l.waited_ms / 1000, 1)} s); ${l.missing} missing, ${l.mismatched} mismatched, ${l.in_both_stores} in both stores, ${l.dead_letters ?? 'unknown'} dead letters.`,
      l.persist_latency_ms
        ? `Decision -> persisted (PostgreSQL rows): p50 ${fmt(l.persist_latency_ms.p50)} ms, p99 ${fmt(l.persist_latency_ms.p99)} ms, max ${fmt(l.persist_latency_ms.max)} ms.`
        : '',
      ...Object.entries(l.explained).map(([reason, count]) => `- explained: ${reason}: ${count}`),
      ...l.examples.map((e) => `- ${e}`),
      '',
    );
  }
  const gateway_phases = results.phases.filter((p) => p.target === 'gateway');
  const violations = gateway_phases.flatMap((p) => Object.entries(p.result.violations));
  const explained = gateway_phases.flatMap((p) => Object.entries(p.result.explained));
  if (violations.length + explained.length > 0) {
    lines.push('## Contract: violations and explained answers', '');
    for (const [reason, { count, examples }] of violations)
      lines.push(`- violation: ${reason}: ${count} (e.g. \`${examples[0] ?? ''}\`)`);
    const by_reason = new Map<string, number>();
    for (const [reason, { count }] of explained) by_reason.set(reason, (by_reason.get(reason) ?? 0) + count);
    for (const [reason, count] of by_reason) lines.push(`- explained: ${reason}: ${count}`);
    lines.push('');
  }
  if (results.cpu_profile) {
    lines.push(
      '## Gateway CPU profile (self time)',
      '',
      `${results.cpu_profile.files} profile(s), ${fmt(results.cpu_profile.sampled_ms / 1000, 1)} s sampled.`,
      '',
      '| module | self % |',
      '| --- | --- |',
      ...results.cpu_profile.by_module.map((f) => `| ${f.frame} | ${fmt(f.self_percent, 1)} |`),
      '',
      '| frame | self % |',
      '| --- | --- |',
      ...results.cpu_profile.top_frames.map((f) => `| \`${f.frame}\` | ${fmt(f.self_percent, 1)} |`),
      '',
    );
  }
  lines.push(
    '## Charts',
    '',
    'Interactive report: [report/index.html](report/index.html). Analysis: [FINDINGS.md](FINDINGS.md).',
    '',
  );
  for (const chart of charts)
    lines.push(`![${chart.title}](report/${chart.file.replace(/\.svg$/, '.png')})`, '');
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function htmlTable(table: Table): string {
  return [
    `<h3>${escapeHtml(table.title)}</h3>`,
    '<table>',
    `<tr>${table.header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`,
    ...table.rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`),
    '</table>',
    table.note ? `<p class="note">${escapeHtml(table.note)}</p>` : '',
  ].join('\n');
}

export function renderHtml(results: BenchResults, charts: readonly Chart[]): string {
  const targets = targetsTable(results);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Atlanticfrewaycard bench ${escapeHtml(results.run_id)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }
th { background: #f3f3f3; }
.note { color: #555; font-size: 0.85rem; }
figure { margin: 1rem 0; }
</style></head><body>
<h1>Bench results</h1>
<p>Command: <code>${escapeHtml(results.plan.command)}</code></p>
<ul>${machineLines(results)
    .map((line) => `<li>${escapeHtml(line.replace(/^- /, ''))}</li>`)
    .join('')}</ul>
${results.failure ? `<p><strong>The run failed before finishing:</strong> ${escapeHtml(results.failure)}</p>` : ''}
${htmlTable(targets)}
${charts.map((c) => `<figure><figcaption>${escapeHtml(c.title)}</figcaption>${c.svg}</figure>`).join('\n')}
${figureTables(results).map(htmlTable).join('\n')}
<p class="note">Raw figures: <a href="results.json">results.json</a>.</p>
</body></html>
`;
}
