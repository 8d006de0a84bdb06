// The performance targets of issue 7, evaluated on one run's figures.

import type { MeasuredPhase } from '../runner/measure.ts';
import { type BenchResults, ratioToBaseline } from './results.ts';

export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** null: not measured in this run. */
  readonly met: boolean | null;
}

const RATIO_MIN = 0.6;
const P99_MAX_MS: Readonly<Record<number, number>> = { 100: 10, 1000: 50 };
/** "Flat": the largest card set's p99 within this factor of the smallest set's, same concurrency. */
const FLATNESS_FACTOR_MAX = 1.5;
const CACHE_HIT_RATE_MIN = 0.8;
const RELAY_P99_MAX_MS = 10;

function closedGateway(results: BenchResults): MeasuredPhase[] {
  return results.phases.filter((p) => p.target === 'gateway' && p.result.phase.mode === 'closed');
}

export function fmt(value: number | null | undefined, digits = 2): string {
  return value === null || value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

export function checkTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const gateway = closedGateway(results);
  const first_cards = results.plan.card_sets[0];
  for (const phase of gateway.filter((p) => p.cards === first_cards)) {
    const ratio = ratioToBaseline(results, phase);
    const connections = phase.result.phase.connections;
    checks.push({
      target: `throughput >= ${RATIO_MIN}x baseline (${connections} connections)`,
      measured: `${fmt(ratio)}x (${Math.round(phase.result.throughput_per_s)} req/s)`,
      met: ratio === null ? null : ratio >= RATIO_MIN,
    });
    const p99_max = P99_MAX_MS[connections];
    if (p99_max !== undefined) {
      checks.push({
        target: `p99 <= ${p99_max} ms at ${connections} connections`,
        measured: `${fmt(phase.result.latency.p99_ms)} ms`,
        met: phase.result.latency.p99_ms <= p99_max,
      });
    }
  }
  const connections = results.plan.connections[0];
  const by_size = gateway
    .filter((p) => p.result.phase.connections === connections)
    .sort((a, b) => a.cards - b.cards);
  if (by_size.length >= 2) {
    const smallest = by_size[0]!;
    const largest = by_size.at(-1)!;
    const factor = largest.result.latency.p99_ms / smallest.result.latency.p99_ms;
    checks.push({
      target: `latency flat from ${smallest.cards} to ${largest.cards} cards (p99 within ${FLATNESS_FACTOR_MAX}x)`,
      measured:
        `p99 ${fmt(smallest.result.latency.p99_ms)} -> ${fmt(largest.result.latency.p99_ms)} ms (${fmt(factor)}x), ` +
        `p50 ${fmt(smallest.result.latency.p50_ms)} -> ${fmt(largest.result.latency.p50_ms)} ms`,
      met: factor <= FLATNESS_FACTOR_MAX,
    });
  }
  const rates = results.phases.filter((p) => p.target === 'gateway' && p.cache?.hit_rate != null);
  if (rates.length > 0) {
    const lowest = Math.min(...rates.map((p) => p.cache!.hit_rate!));
    checks.push({
      target: `cache hit rate > ${CACHE_HIT_RATE_MIN * 100}% (every gateway phase)`,
      measured: `lowest ${fmt(lowest * 100, 1)}% (${rates[0]!.cache!.source})`,
      met: lowest > CACHE_HIT_RATE_MIN,
    });
  }
  const relayed = results.phases.filter((p) => p.relay?.tap);
  if (relayed.length > 0) {
    const worst = Math.max(...relayed.map((p) => p.relay!.tap!.p99_ms));
    checks.push({
      target: `outbox -> RabbitMQ < ${RELAY_P99_MAX_MS} ms (p99, decision to delivery)`,
      measured: `worst phase p99 ${fmt(worst)} ms`,
      met: worst < RELAY_P99_MAX_MS,
    });
  }
  const violations = results.phases
    .filter((p) => p.target === 'gateway')
    .reduce((sum, p) => sum + p.result.violation_count + p.warmup_violations, 0);
  checks.push({
    target: 'every gateway answer keeps the JIT contract',
    measured: `${violations} violations`,
    met: violations === 0,
  });
  if (results.ledger) {
    const l = results.ledger;
    const bad = l.missing + l.mismatched + l.in_both_stores;
    checks.push({
      target: 'ledger: every answered JIT token persisted once, same status and amount',
      measured: `${l.persisted}/${l.expected} persisted, ${l.missing} missing, ${l.mismatched} mismatched`,
      met: bad === 0,
    });
  }
  return checks;
}
