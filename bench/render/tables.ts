// The report's tables as rows of cells, shared by the Markdown and HTML renderers.

import type { BenchResults } from './results.ts';
import { ratioToBaseline } from './results.ts';
import { fmt } from './targets.ts';

export interface Table {
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
  readonly note?: string;
}

export function phaseTable(results: BenchResults): Table {
  return {
    title: 'Phases',
    header: [
      'phase',
      'req/s',
      'x baseline',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99.9 ms',
      'max ms',
      'errors',
      'timeouts',
      'violations',
    ],
    rows: results.phases.map((p) => {
      const r = p.result;
      const ratio = ratioToBaseline(results, p);
      return [
        p.label,
        fmt(r.throughput_per_s, 0),
        p.target === 'baseline' ? '1.00 (baseline)' : ratio === null ? 'n/a (open loop)' : fmt(ratio),
        fmt(r.latency.p50_ms),
        fmt(r.latency.p90_ms),
        fmt(r.latency.p99_ms),
        fmt(r.latency.p999_ms),
        fmt(r.latency.max_ms),
        String(r.errors),
        String(r.timeouts),
        p.target === 'baseline' ? 'n/a' : String(r.violation_count + p.warmup_violations),
      ];
    }),
    note: "Closed loop: fixed connections. Open loop: fixed arrival rate, latency from the intended send time (coordinated-omission corrected). Timeouts: no answer within Marqeta's 3 s.",
  };
}

export function pipelineTable(results: BenchResults): Table {
  return {
    title: 'Cache and outbox',
    header: [
      'phase',
      'cache hit rate',
      'hits / misses',
      'decision -> RabbitMQ delivery p50 / p99 / max ms',
      'relay lag (gateway histogram) p50 / p99 ms',
      'decide script round trip (gateway histogram) p50 / p99 ms',
    ],
    rows: results.phases
      .filter((p) => p.target === 'gateway')
      .map((p) => [
        p.label,
        p.cache?.hit_rate == null ? 'n/a' : `${fmt(p.cache.hit_rate * 100, 1)}% (${p.cache.source})`,
        p.cache ? `${p.cache.hits} / ${p.cache.misses}` : 'n/a',
        p.relay?.tap
          ? `${fmt(p.relay.tap.p50_ms)} / ${fmt(p.relay.tap.p99_ms)} / ${fmt(p.relay.tap.max_ms)}`
          : 'n/a',
        p.relay ? `<= ${fmt(p.relay.metrics_p50_ms)} / <= ${fmt(p.relay.metrics_p99_ms)}` : 'n/a',
        p.script ? `<= ${fmt(p.script.decide_p50_ms)} / <= ${fmt(p.script.decide_p99_ms)}` : 'n/a',
      ]),
    note: "Decision -> delivery: from the decision script's Redis TIME to a consumer of the bench's own queue bound like afc.decisions (HDR). The gateway histogram gives bucket upper bounds.",
  };
}

export function usageTable(results: BenchResults): Table {
  const groups = Object.keys(results.usage.at(-1)?.cpu_percent ?? {});
  return {
    title: 'CPU (mean %, 100 = one core) and peak memory (MB) per process, per phase',
    header: ['phase', ...groups],
    rows: results.phases.map((p) => [
      p.label,
      ...groups.map((g) => {
        const u = p.usage[g];
        return u ? `${fmt(u.cpu_percent_mean, 0)}% / ${fmt(u.rss_mb_max, 0)} MB` : '-';
      }),
    ]),
  };
}

export function outcomeTable(results: BenchResults): Table {
  const rows: string[][] = [];
  for (const p of results.phases.filter((phase) => phase.target === 'gateway')) {
    for (const [cls, outcomes] of Object.entries(p.result.outcomes)) {
      const text = Object.entries(outcomes)
        .sort((a, b) => b[1] - a[1])
        .map(([outcome, count]) => `${outcome} ${count}`)
        .join(', ');
      rows.push([p.label, cls, text]);
    }
  }
  return { title: 'Answers by request class (gateway phases)', header: ['phase', 'class', 'outcomes'], rows };
}
