// The performance targets (issues 13 and 14, and the earlier ones still held), evaluated on one
// run's figures. Row names are stable: other documents and reviews quote them verbatim.

import type { CapacityResult, CapacityStep } from '../runner/capacity.ts';
import type { MeasuredPhase } from '../runner/measure.ts';
import { p99Step } from '../runner/ttl-expiry.ts';
import {
  cpuUsPerDecision,
  decisionsPerS,
  isPipelineGroup,
  pipelineUsPerDecision,
} from './cpu-per-decision.ts';
import { type BenchResults, ratioToBaseline } from './results.ts';

export interface TargetCheck {
  readonly target: string;
  /** The bar, e.g. ">= 5,000/s". */
  readonly goal: string;
  readonly measured: string;
  /** null: not measured in this run. */
  readonly met: boolean | null;
  /** Where the figure comes from, or what stands in its way. */
  readonly detail: string;
}

const CAPACITY_MIN_PER_S: Readonly<Record<'business' | 'mix', number>> = {
  business: 5_000,
  mix: 1_500,
};
const GATEWAY_US_MAX = 80;
const REDIS_US_MAX = 40;
const PIPELINE_US_MAX = 250;
const PERSONAL_PERSISTED_MIN_PER_S = 500;
/** The persisted rate on the seeded ledger within this share of the rate without history. */
const HISTORY_RATE_SHARE_MIN = 0.8;
const PERSISTED_AFTER_LOAD_MAX_S = 5;
const RATIO_MIN = 0.35;
const RATIO_CONNECTIONS = 100;
const NO_TIMEOUT_CONNECTIONS = 1_000;
/** "Flat": the largest card set's p99 within this factor of the smallest set's, same concurrency. */
const FLATNESS_FACTOR_MAX = 1.5;
const CACHE_HIT_RATE_MIN = 0.99;
const RELAY_P99_MAX_MS = 10;

export function fmt(value: number | null | undefined, digits = 2): string {
  return value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

function thousands(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** The step a capacity figure stands on: the highest that passed, else the lowest tried. */
export function capacityStep(result: CapacityResult): CapacityStep | undefined {
  const passed = result.steps.filter((s) => s.passed && s.rate_per_s === result.capacity_per_s);
  if (passed.length > 0) return passed[0];
  return [...result.steps].sort((a, b) => a.rate_per_s - b.rate_per_s)[0];
}

export function capacityPhase(
  results: BenchResults,
  traffic: CapacityResult['traffic'],
): MeasuredPhase | undefined {
  const result = results.capacity.find((c) => c.traffic === traffic);
  const step = result && capacityStep(result);
  return step && results.phases.find((p) => p.label === step.label);
}

/** The process with the most CPU per decision in a phase, for "what stands in the way". */
function heaviest(phase: MeasuredPhase): string {
  const ranked = Object.keys(phase.usage)
    .map((group) => [group, cpuUsPerDecision(phase, group) ?? 0] as const)
    .filter(([group]) => group !== 'machine (all processes)' && group !== 'bench (load generator)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3);
  return ranked.map(([group, us]) => `${group} ${fmt(us, 0)} us`).join(', ');
}

/** The gateway's capacity searches (the baseline's is context, not a target). */
function gatewayCapacity(results: BenchResults): CapacityResult[] {
  return results.capacity.filter((c) => c.traffic !== 'baseline');
}

function capacityChecks(results: BenchResults): TargetCheck[] {
  const baseline = results.capacity.find((c) => c.traffic === 'baseline');
  const baseline_step = baseline && capacityStep(baseline);
  const machine_floor =
    baseline && baseline_step
      ? `; bare Fastify baseline, same search and run: ${baseline.capacity_per_s}/s ` +
        `(p99 ${fmt(baseline_step.p99_ms, 1)} ms at ${baseline_step.rate_per_s}/s)`
      : '';
  return (['business', 'mix'] as const).map((traffic) => {
    const result = results.capacity.find((c) => c.traffic === traffic);
    const phase = capacityPhase(results, traffic);
    const min = CAPACITY_MIN_PER_S[traffic];
    if (!result)
      return {
        target: `capacity at SLO, ${traffic}`,
        goal: `>= ${thousands(min)}/s`,
        measured: 'n/a',
        met: null,
        detail: 'not run',
      };
    const failed = result.steps.filter((s) => !s.passed).sort((a, b) => a.rate_per_s - b.rate_per_s)[0];
    return {
      target: `capacity at SLO, ${traffic}`,
      goal: `>= ${thousands(min)}/s`,
      measured: `${result.capacity_per_s}/s`,
      met: result.capacity_per_s >= min,
      detail:
        `${result.steps.length} steps` +
        (failed ? `; ${failed.rate_per_s}/s missed (${failed.reasons})` : '') +
        (phase ? `; most CPU per decision there: ${heaviest(phase)}` : '') +
        machine_floor,
    };
  });
}

/**
 * The gateway phase with the most decisions per second: a process's fixed cost per second (probes,
 * pollers, timers) divided over few decisions says nothing about a decision's own cost, so the CPU
 * rows are read where the most decisions share it. Phases that stopped the worker are left out.
 */
function busiestPhase(results: BenchResults): MeasuredPhase | undefined {
  return results.phases
    .filter((p) => p.target === 'gateway' && p.role !== 'persist load')
    .sort((a, b) => decisionsPerS(b) - decisionsPerS(a))[0];
}

/**
 * CPU per extra decision between the slowest and the fastest business capacity steps (same
 * traffic, same card set): the slope of CPU time over the rate, free of fixed costs per second.
 */
function marginalUsPerDecision(results: BenchResults, group: string): number | null {
  const steps = results.phases
    .filter((p) => p.role === 'capacity business' && p.usage[group] !== undefined)
    .sort((a, b) => a.result.throughput_per_s - b.result.throughput_per_s);
  const low = steps[0];
  const high = steps.at(-1);
  if (!low || !high || high.result.throughput_per_s - low.result.throughput_per_s < 1) return null;
  const cpu_us_per_s = (phase: MeasuredPhase) => (phase.usage[group]!.cpu_percent_mean / 100) * 1_000_000;
  return (
    (cpu_us_per_s(high) - cpu_us_per_s(low)) / (high.result.throughput_per_s - low.result.throughput_per_s)
  );
}

function cpuChecks(results: BenchResults): TargetCheck[] {
  const phase = busiestPhase(results);
  const from = phase ? `at ${fmt(decisionsPerS(phase), 0)} decisions/s (${phase.label})` : 'no gateway phase';
  const row = (target: string, max: number, us: number | null, marginal: number | null): TargetCheck => ({
    target,
    goal: `<= ${max} us`,
    measured: us === null ? 'n/a' : `${Math.round(us)} us`,
    met: us === null ? null : us <= max,
    detail: `${from}; marginal between the business capacity steps ${marginal === null ? 'n/a' : `${Math.round(marginal)} us`}`,
  });
  const pipelineMarginal = () => {
    const groups = Object.keys(phase?.usage ?? {}).filter((g) => isPipelineGroup(g));
    const parts = groups.map((g) => marginalUsPerDecision(results, g));
    return parts.some((p) => p === null) ? null : parts.reduce((a: number, b) => a + b!, 0);
  };
  return [
    row(
      'gateway CPU per decision',
      GATEWAY_US_MAX,
      phase ? cpuUsPerDecision(phase, 'gateway') : null,
      marginalUsPerDecision(results, 'gateway'),
    ),
    row(
      'Redis CPU per decision',
      REDIS_US_MAX,
      phase ? cpuUsPerDecision(phase, 'redis') : null,
      marginalUsPerDecision(results, 'redis'),
    ),
    row(
      'pipeline CPU per decision, business',
      PIPELINE_US_MAX,
      phase ? pipelineUsPerDecision(phase) : null,
      pipelineMarginal(),
    ),
  ];
}

function workerChecks(results: BenchResults): TargetCheck[] {
  if (!results.with_worker) return [];
  const checks: TargetCheck[] = [];
  const flat = gatewayCapacity(results).map((c) => {
    const step = capacityStep(c);
    return `${c.traffic} ${step && !step.backlog_growing ? 'flat' : 'growing'}`;
  });
  const flat_everywhere = gatewayCapacity(results).every((c) => {
    const step = capacityStep(c);
    return step !== undefined && !step.backlog_growing;
  });
  const after_s = results.persisted_after_load_s;
  checks.push({
    target: 'worker keeps pace',
    goal: `every answered decision persisted within ${PERSISTED_AFTER_LOAD_MAX_S} s after the load; backlog flat`,
    measured:
      after_s === null
        ? `not all persisted (${results.ledger?.persisted ?? 0}/${results.ledger?.expected ?? 0})`
        : `all persisted ${fmt(after_s, 1)} s after the load`,
    met: after_s !== null && after_s <= PERSISTED_AFTER_LOAD_MAX_S && flat_everywhere,
    detail: `backlog at the capacity steps: ${flat.join(', ') || 'n/a'}`,
  });
  const last = results.persist.at(-1);
  const personal = last?.personal.rate_per_s ?? null;
  checks.push({
    target: 'persisted per second, personal',
    goal: `>= ${PERSONAL_PERSISTED_MIN_PER_S}/s`,
    measured: personal === null ? 'n/a' : `${Math.round(personal)}/s`,
    met: personal === null ? null : personal >= PERSONAL_PERSISTED_MIN_PER_S,
    detail: last
      ? `drain of ${last.personal.decisions} personal decisions on the ${last.ledger}${last.personal.drained ? '' : ' (not drained within the wait)'}`
      : 'not measured',
  });
  const empty = results.persist.find((p) => p.history_rows === 0)?.business.rate_per_s ?? null;
  const seeded = results.persist.find((p) => p.history_rows > 0)?.business.rate_per_s ?? null;
  const h = results.history;
  checks.push({
    target: 'ledger history',
    goal: `persisted rate with history within ${Math.round((1 - HISTORY_RATE_SHARE_MIN) * 100)}% of without`,
    measured: h
      ? `${thousands(h.rows)} prior rows seeded (${thousands(h.pending)} pending with holds)`
      : 'no history seeded',
    met: empty === null || seeded === null ? null : seeded >= empty * HISTORY_RATE_SHARE_MIN,
    detail:
      empty === null || seeded === null
        ? 'n/a'
        : `business persisted ${Math.round(seeded)}/s with history vs ${Math.round(empty)}/s without (${fmt(seeded / empty)}x)`,
  });
  return checks;
}

function cacheChecks(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const steady = results.phases.filter((p) => p.role?.startsWith('capacity') && p.cache);
  const hits = steady.reduce((sum, p) => sum + p.cache!.hits, 0);
  const misses = steady.reduce((sum, p) => sum + p.cache!.misses, 0);
  const rate = hits + misses > 0 ? hits / (hits + misses) : null;
  checks.push({
    target: 'steady-state cache hit rate',
    goal: `>= ${CACHE_HIT_RATE_MIN * 100}%`,
    measured: rate === null ? 'n/a' : `${fmt(rate * 100, 2)}%`,
    met: rate === null ? null : rate >= CACHE_HIT_RATE_MIN,
    detail: `capacity steps (warm card set): ${hits} hits / ${misses} misses (${steady[0]?.cache?.source ?? 'n/a'})`,
  });
  const ttl = results.phases.find((p) => p.role === 'ttl expiry');
  if (ttl) {
    const verdict = p99Step(ttl.result.timeline);
    checks.push({
      target: 'no p99 step across a cache TTL expiry',
      goal: 'no second past 3x the median second (and 10 ms)',
      measured: `median second ${fmt(verdict.median_p99_ms)} ms, worst ${fmt(verdict.worst_p99_ms)} ms (second ${verdict.worst_second})`,
      met: !verdict.step,
      detail: `TTLs x${results.ttl_scale} (limits ${fmt(300 * results.ttl_scale, 0)} s, balance ${fmt(600 * results.ttl_scale, 0)} s, card ${fmt(900 * results.ttl_scale, 0)} s); per second below`,
    });
  }
  return checks;
}

function closedLoopChecks(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const first_cards = results.plan.card_sets[0];
  const gateway = results.phases.filter(
    (p) => p.target === 'gateway' && p.result.phase.mode === 'closed' && p.role === null,
  );
  const at = (connections: number) =>
    gateway.find((p) => p.cards === first_cards && p.result.phase.connections === connections);
  const ratio_phase = at(RATIO_CONNECTIONS);
  if (ratio_phase) {
    const ratio = ratioToBaseline(results, ratio_phase);
    checks.push({
      target: `throughput >= ${RATIO_MIN}x baseline (${RATIO_CONNECTIONS} connections, worker ${results.with_worker ? 'running' : 'absent'})`,
      goal: `>= ${RATIO_MIN}x`,
      measured: `${fmt(ratio)}x (${Math.round(ratio_phase.result.throughput_per_s)} req/s)`,
      met: ratio === null ? null : ratio >= RATIO_MIN,
      detail: `p99 ${fmt(ratio_phase.result.latency.p99_ms)} ms`,
    });
  }
  const overload = at(NO_TIMEOUT_CONNECTIONS);
  if (overload) {
    checks.push({
      target: `no request past 3 s at ${NO_TIMEOUT_CONNECTIONS} connections`,
      goal: '0',
      measured: `${overload.result.timeouts} past 3 s`,
      met: overload.result.timeouts === 0,
      detail: `max ${fmt(overload.result.latency.max_ms)} ms, ${overload.result.errors} transport errors`,
    });
  }
  const by_size = gateway
    .filter((p) => p.result.phase.connections === results.plan.connections[0])
    .sort((a, b) => a.cards - b.cards);
  if (by_size.length >= 2) {
    const smallest = by_size[0]!;
    const largest = by_size.at(-1)!;
    const answered = smallest.result.completed > 0 && largest.result.completed > 0;
    const factor = answered ? largest.result.latency.p99_ms / smallest.result.latency.p99_ms : null;
    checks.push({
      target: `latency flat from ${smallest.cards} to ${largest.cards} cards`,
      goal: `p99 within ${FLATNESS_FACTOR_MAX}x`,
      measured: `p99 ${fmt(smallest.result.latency.p99_ms)} -> ${fmt(largest.result.latency.p99_ms)} ms (${fmt(factor)}x)`,
      met: factor === null ? false : factor <= FLATNESS_FACTOR_MAX,
      detail: `p50 ${fmt(smallest.result.latency.p50_ms)} -> ${fmt(largest.result.latency.p50_ms)} ms`,
    });
  }
  return checks;
}

function correctnessChecks(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const relayed = results.phases.filter((p) => p.relay?.tap && p.role?.startsWith('capacity'));
  if (relayed.length > 0) {
    const worst = Math.max(...relayed.map((p) => p.relay!.tap!.p99_ms));
    checks.push({
      target: 'outbox -> RabbitMQ (decision to delivery, p99)',
      goal: `< ${RELAY_P99_MAX_MS} ms`,
      measured: `worst capacity step p99 ${fmt(worst)} ms`,
      met: worst < RELAY_P99_MAX_MS,
      detail: 'every capacity step, passing or not',
    });
  }
  const gateway_phases = results.phases.filter((p) => p.target === 'gateway');
  const violations = gateway_phases.reduce(
    (sum, p) => sum + p.result.violation_count + p.warmup_violations,
    0,
  );
  const explained = gateway_phases.reduce(
    (sum, p) => sum + Object.values(p.result.explained).reduce((n, e) => n + e.count, 0),
    0,
  );
  checks.push({
    target: 'every gateway answer keeps the JIT contract',
    goal: '0 violations',
    measured: `${violations} violations`,
    met: violations === 0,
    detail: `${explained} explained (shed, replays past the budget); see Contract: violations and explained answers`,
  });
  if (results.ledger) {
    const l = results.ledger;
    const ledger_explained = Object.values(l.explained).reduce((n, c) => n + c, 0);
    checks.push({
      target: 'ledger: every answered JIT token persisted once, same status and amount',
      goal: '0 missing, 0 mismatched',
      measured: `${l.persisted}/${l.expected} persisted, ${l.missing} missing, ${l.mismatched} mismatched`,
      met: l.missing + l.mismatched + l.in_both_stores === 0,
      detail: `${l.in_both_stores} in both stores, ${l.dead_letters ?? 'unknown'} dead letters; ${ledger_explained} explained (booked behind a fail-safe decline)`,
    });
  }
  return checks;
}

export function checkTargets(results: BenchResults): TargetCheck[] {
  return [
    ...capacityChecks(results),
    ...cpuChecks(results),
    ...workerChecks(results),
    ...cacheChecks(results),
    ...closedLoopChecks(results),
    ...correctnessChecks(results),
  ];
}
