// The report's tables as rows of cells, shared by the Markdown and HTML renderers.

import { MACHINE_GROUP } from '../runner/proc-sampler.ts';
import { p99Step } from '../runner/ttl-expiry.ts';
import { cpuUsPerDecision, decisionsPerS, pipelineUsPerDecision } from './cpu-per-decision.ts';
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
      'decisions per relay message',
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
        p.relay?.decisions_per_message == null ? 'n/a' : fmt(p.relay.decisions_per_message, 1),
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

export function capacityTable(results: BenchResults): Table {
  const rows = results.capacity.flatMap((c) =>
    c.steps.map((s) => [
      c.traffic,
      String(s.rate_per_s),
      fmt(s.achieved_per_s, 0),
      fmt(s.p99_ms),
      String(s.timeouts),
      String(s.shed),
      String(s.errors),
      s.backlog_growing ? 'growing' : 'flat',
      s.drain_ms === null ? 'not drained' : `${fmt(s.drain_ms / 1000, 1)} s`,
      s.passed ? 'holds' : `misses: ${s.reasons}`,
    ]),
  );
  return {
    title: 'Capacity at SLO: the search steps',
    header: [
      'traffic',
      'offered /s',
      'answered /s',
      'p99 ms',
      'past 3 s',
      'shed (503)',
      'errors',
      'backlog',
      'backlog back to start',
      'SLO',
    ],
    rows,
    note:
      'SLO: p99 <= 10 ms (open loop, from the intended send time), nothing past 3 s, nothing shed, no transport error, ' +
      'backlog (outbox + decision queues) flat over the step and back to its starting depth right after. Steps grow ' +
      'by a factor from half the closed-loop throughput while they hold, then bisect; a low-rate step lasts until ' +
      'it holds enough answers for its p99 (capped). Business: business cards only (and unknown cards); mix: the ' +
      'default mix, one card in four personal; baseline: the bare Fastify server, searched the same way in the same ' +
      "run (the machine's own floor: no store, no worker).",
  };
}

export function cpuPerDecisionTable(results: BenchResults): Table {
  const groups = Object.keys(results.usage.at(-1)?.cpu_percent ?? {}).filter((g) => g !== MACHINE_GROUP);
  return {
    title:
      'CPU per decision (us of process CPU time / decisions answered, shed requests not counted), per process and phase',
    header: [
      'phase',
      'decisions/s',
      ...groups,
      'pipeline (all but load generator)',
      'whole machine (others too)',
    ],
    rows: results.phases.map((p) => [
      p.label,
      fmt(decisionsPerS(p), 0),
      ...groups.map((g) => {
        const us = cpuUsPerDecision(p, g);
        return us === null || us === 0 ? '-' : fmt(us, 0);
      }),
      p.target === 'gateway' ? fmt(pipelineUsPerDecision(p), 0) : '-',
      fmt(cpuUsPerDecision(p, MACHINE_GROUP), 0),
    ]),
    note:
      'From /proc (utime + stime) sampled every 0.5 s. PostgreSQL, Redis, RabbitMQ and FerretDB are machine-wide ' +
      'processes shared with whatever else runs here (the whole-machine column shows how much else ran); the ' +
      'baseline phases divide by requests. In the persist-load ' +
      'phases the worker is stopped (its cost shows in the drain, below).',
  };
}

export function persistTable(results: BenchResults): Table {
  const cell = (r: {
    decisions: number;
    persisted: number;
    seconds: number;
    rate_per_s: number | null;
    drained: boolean;
  }) =>
    `${r.rate_per_s === null ? 'n/a' : `${Math.round(r.rate_per_s)}/s`} (${r.persisted}/${r.decisions} in ${fmt(r.seconds, 1)} s${r.drained ? '' : ', not drained'})`;
  return {
    title: 'Persisted per second (worker drains a backlog built while it was stopped)',
    header: ['ledger', 'business (PostgreSQL)', 'personal (FerretDB)'],
    rows: results.persist.map((p) => [p.ledger, cell(p.business), cell(p.personal)]),
    note:
      results.history === null
        ? 'No history seeded (--history=0).'
        : `History: ${results.history.rows} prior transactions on the run's business cards, ${results.history.pending} pending with their holds, seeded in ${fmt(results.history.duration_ms / 1000, 1)} s by one generate_series statement, no ANALYZE after.`,
  };
}

export function ttlTable(results: BenchResults): Table | null {
  const phase = results.phases.find((p) => p.role === 'ttl expiry');
  if (!phase) return null;
  const verdict = p99Step(phase.result.timeline);
  return {
    title: `p99 per second across a cache TTL expiry (${phase.label})`,
    header: ['second', 'answers', 'p99 ms', 'cache'],
    rows: phase.result.timeline.map((s) => [
      String(s.t_s),
      String(s.completed),
      fmt(s.p99_ms),
      s.t_s === verdict.worst_second ? (verdict.step ? 'worst second: STEP' : 'worst second') : '',
    ]),
    note:
      `The gateway restarted with CACHE_TTL_SCALE=${results.ttl_scale} on cards of their own, first cached in the warm-up: ` +
      `the limits entries expire every ${fmt(300 * results.ttl_scale, 0)} s, balance ${fmt(600 * results.ttl_scale, 0)} s, card ${fmt(900 * results.ttl_scale, 0)} s. ` +
      `Cache hit rate in the phase: ${phase.cache?.hit_rate == null ? 'n/a' : `${fmt(phase.cache.hit_rate * 100, 2)}%`}.`,
  };
}
