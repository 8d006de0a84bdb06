// The report's charts, as SVG: latency distribution (HDR percentile spectrum), throughput and
// p99 over time, backlog (outbox and decision queue) over time, CPU per process over time.

import type { BenchResults } from './results.ts';
import { lineChart, type Series } from './svg-chart.ts';

export interface Chart {
  readonly file: string;
  readonly title: string;
  readonly svg: string;
}

/** x = 1 / (1 - p): the classic HDR plot where each decade is one more nine. */
function percentileX(p: number): number {
  return p >= 100 ? 1e5 : 1 / (1 - p / 100);
}

const PERCENTILE_TICKS: ReadonlyArray<readonly [number, string]> = [
  [1, '0%'],
  [2, '50%'],
  [10, '90%'],
  [100, '99%'],
  [1000, '99.9%'],
  [10000, '99.99%'],
  [100000, 'max'],
];

function measured(results: BenchResults) {
  return results.phases;
}

export function buildCharts(results: BenchResults): Chart[] {
  const phases = measured(results);
  const distribution: Series[] = phases.map((p) => ({
    name: p.label,
    points: p.result.latency_distribution.map(([pct, ms]) => [percentileX(pct), ms] as const),
  }));
  const throughput: Series[] = phases.map((p) => ({
    name: p.label,
    points: p.result.timeline.map((s) => [p.started_s + s.t_s + 0.5, s.completed] as const),
  }));
  const p99: Series[] = phases.map((p) => ({
    name: p.label,
    points: p.result.timeline
      .filter((s) => s.completed > 0)
      .map((s) => [p.started_s + s.t_s + 0.5, s.p99_ms] as const),
  }));
  const backlog: Series[] = [
    {
      name: 'Redis outbox (not yet confirmed by RabbitMQ)',
      points: results.backlog.map((s) => [s.t_s, s.outbox] as const),
    },
    {
      name: results.with_worker
        ? 'afc.decisions queue (worker backlog)'
        : 'afc.decisions queue (no worker: grows)',
      points: results.backlog.map((s) => [s.t_s, s.decisions_queue] as const),
    },
  ];
  const groups = Object.keys(results.usage.at(-1)?.cpu_percent ?? {});
  const cpu: Series[] = groups.map((name) => ({
    name,
    points: results.usage
      .filter((s) => name in s.cpu_percent)
      .map((s) => [s.t_s, s.cpu_percent[name]!] as const),
  }));
  return [
    {
      file: 'latency-distribution.svg',
      title: 'Latency distribution',
      svg: lineChart({
        title: 'Latency by percentile (HDR, from intended send time in open loop)',
        x_label: 'percentile',
        y_label: 'latency (ms, log)',
        series: distribution,
        x_log: true,
        y_log: true,
        x_ticks: PERCENTILE_TICKS,
      }),
    },
    {
      file: 'throughput.svg',
      title: 'Throughput over time',
      svg: lineChart({
        title: 'Answers per second (measured phases)',
        x_label: 'time since bench start (s)',
        y_label: 'answers / s',
        series: throughput,
      }),
    },
    {
      file: 'latency-p99-over-time.svg',
      title: 'p99 latency over time',
      svg: lineChart({
        title: 'p99 latency per second',
        x_label: 'time since bench start (s)',
        y_label: 'p99 (ms, log)',
        series: p99,
        y_log: true,
      }),
    },
    {
      file: 'backlog.svg',
      title: 'Backlog over time',
      svg: lineChart({
        title: 'Outbox depth and decision queue depth',
        x_label: 'time since bench start (s)',
        y_label: 'messages',
        series: backlog,
      }),
    },
    {
      file: 'cpu.svg',
      title: 'CPU per process over time',
      svg: lineChart({
        title: 'CPU per process (100% = one core)',
        x_label: 'time since bench start (s)',
        y_label: 'CPU %',
        series: cpu,
      }),
    },
  ];
}
