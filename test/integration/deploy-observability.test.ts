// Dashboards, alerts and the runbook stay in step with the metrics the code defines: a panel
// for every metric in shared/metrics.ts, no query or alert on a metric that does not exist,
// the alerts the operators need, and a runbook section for every alert.
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { gatewayMetrics, poolMetrics, workerMetrics } from '../../shared/metrics.ts';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; runbook_url: string };
}

const rules = (
  parse(read('deploy/prometheus/alerts.yaml')) as { groups: Array<{ name: string; rules: Rule[] }> }
).groups.flatMap((group) => group.rules);

interface Panel {
  type: string;
  id: number;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { uid: string };
  targets?: Array<{ expr: string }>;
}

const dashboard = JSON.parse(read('deploy/grafana/atlanticfrewaycard.json')) as {
  uid: string;
  panels: Panel[];
};
const runbook = read('docs/operations.md');

/** Every metric name our code defines (histograms appear as _bucket/_sum/_count in queries). */
function definedMetrics(): string[] {
  const registry = new Registry();
  gatewayMetrics(registry);
  workerMetrics(registry);
  poolMetrics(registry);
  return registry.getMetricsAsArray().map((metric) => metric.name);
}

/** afc_* names used in a PromQL expression, without the histogram suffixes. */
function afcMetricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b(afc_[a-z_]+)/g)].map((match) => match[1]!.replace(/_(bucket|sum|count)$/, ''));
}

/** GitHub's heading anchor: lower case, spaces to dashes, punctuation dropped. */
function anchors(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((match) =>
      match[1]!
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, '')
        .replace(/ /g, '-'),
    ),
  );
}

describe('Grafana dashboard', () => {
  const exprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));

  it('has a panel for every metric defined in shared/metrics.ts', () => {
    const used = new Set(exprs.flatMap(afcMetricsIn));
    for (const metric of definedMetrics()) expect(used, metric).toContain(metric);
  });

  it('queries no afc_ metric that the code does not define', () => {
    const defined = new Set(definedMetrics());
    for (const metric of exprs.flatMap(afcMetricsIn)) expect(defined, metric).toContain(metric);
  });

  it('is importable: stable uid, unique panel ids, every panel placed, the data source a variable', () => {
    expect(dashboard.uid).toBe('atlanticfrewaycard-core');
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.w).toBeGreaterThan(0);
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
      if (panel.type !== 'row') expect(panel.datasource?.uid).toBe('${datasource}');
    }
  });

  it('aggregates the outbox depth with max: every gateway samples the same streams', () => {
    for (const expr of exprs.filter((e) => e.includes('afc_outbox_depth')))
      expect(expr).toMatch(/max\(afc_outbox_depth\)/);
  });
});

describe('Prometheus alert rules', () => {
  function rule(name: string): Rule {
    const found = rules.find((r) => r.alert === name);
    if (found === undefined) throw new Error(`no alert ${name}`);
    return found;
  }

  it('alert on the p99 decision latency over the 50 ms budget', () => {
    const latency = rule('AfcDecisionLatencyP99OverBudget');
    expect(latency.expr).toMatch(/histogram_quantile\(0\.99,.*afc_decision_duration_seconds_bucket/s);
    expect(latency.expr).toMatch(/> 0\.05\b/);
  });

  it('alert on a growing outbox, dead letters, readiness flapping and worker consumer lag', () => {
    expect(rule('AfcOutboxGrowing').expr).toMatch(/max\(afc_outbox_depth\).*deriv/s);
    expect(rule('AfcDeadLettersPresent').expr).toContain('rabbitmq_queue_messages{queue=~".*\\\\.dlq"}');
    expect(rule('AfcDeadLettersIncreasing').expr).toContain('afc_dead_letters_total');
    expect(rule('AfcReadinessFlapping').expr).toMatch(/changes\(kube_pod_status_ready/);
    expect(rule('AfcWorkerConsumerLagHigh').expr).toContain('afc_consumer_lag_seconds_bucket');
  });

  it('every rule has a severity, a summary and a runbook section that exists', () => {
    const sections = anchors(runbook);
    const names = rules.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const r of rules) {
      expect(['page', 'warn'], r.alert).toContain(r.labels.severity);
      expect(r.annotations.summary, r.alert).toBeTruthy();
      const [file, anchor] = r.annotations.runbook_url.split('#');
      expect(file, r.alert).toBe('docs/operations.md');
      expect(sections, r.alert).toContain(anchor);
    }
  });

  it('use only afc_ metrics the code defines', () => {
    const defined = new Set(definedMetrics());
    for (const r of rules)
      for (const metric of afcMetricsIn(r.expr)) expect(defined, `${r.alert}: ${metric}`).toContain(metric);
  });
});

describe('runbook', () => {
  it('covers scaling, dead letters, rebuilding Redis, credential rotation and every alert', () => {
    const sections = anchors(runbook);
    for (const section of [
      'scaling',
      'dead-letters',
      'rebuilding-redis-from-the-ledger',
      'rotating-credentials-without-downtime',
      'what-each-alert-means',
    ]) {
      expect(sections, section).toContain(section);
    }
    for (const command of ['list', 'show', 'replay', 'purge'])
      expect(runbook).toContain(`npm run dlq -- ${command}`);
    // Each alert is named in the runbook, in its own section or in the one its runbook_url points to.
    for (const r of rules) expect(runbook).toContain(r.alert);
  });
});
