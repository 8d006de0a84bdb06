// One measured phase with everything around it: a warm-up at the same settings (its answers
// are contract-checked but its timings dropped), then the phase itself with the gateway's
// /metrics scraped before and after (cache hits, relay lag), the decision tap reset, and the
// process usage of its window.

import type { Redis } from 'ioredis';
import { type LatencySummary, newHistogram, summarize } from '../simulator/latency.ts';
import {
  type AnswerListener,
  type LoadPhase,
  type LoadTarget,
  type PhaseResult,
  runPhase,
} from '../simulator/load.ts';
import { TrafficGenerator } from '../simulator/traffic.ts';
import type { BrokerProbe } from './broker.ts';
import type { ProcSampler } from './proc-sampler.ts';
import { histogramQuantile, type Samples, scrape, total } from './prometheus.ts';

export type Target = 'baseline' | 'gateway';

export interface CacheFigures {
  readonly hits: number;
  readonly misses: number;
  readonly hit_rate: number | null;
  /** `gateway /metrics` (decision script calls), or `redis keyspace` (every key read: a proxy). */
  readonly source: string;
}

export interface RelayFigures {
  /** Decision -> delivered to the bench's tap consumer (exact, HDR). */
  readonly tap: LatencySummary | null;
  /** Relay lag as the gateway's histogram saw it (bucket upper bounds). */
  readonly metrics_p50_ms: number | null;
  readonly metrics_p99_ms: number | null;
  /** Decisions per AMQP message the relay published (afc_outbox_relayed_total / relay_messages). */
  readonly decisions_per_message: number | null;
}

export interface ScriptFigures {
  /** Round trip of the decide script as the gateway measured it (bucket upper bounds). */
  readonly decide_p50_ms: number | null;
  readonly decide_p99_ms: number | null;
}

export interface MeasuredPhase {
  readonly label: string;
  /** What the phase is for, when it is part of a larger measurement (e.g. 'capacity business'). */
  readonly role: string | null;
  readonly target: Target;
  readonly cards: number;
  readonly started_s: number;
  readonly ended_s: number;
  readonly result: PhaseResult;
  readonly warmup_violations: number;
  readonly cache: CacheFigures | null;
  readonly relay: RelayFigures | null;
  readonly script: ScriptFigures | null;
  readonly usage: Record<string, { cpu_percent_mean: number; rss_mb_max: number }>;
}

export interface MeasureContext {
  readonly origin_ms: number;
  readonly run_id: string;
  readonly seed: number;
  readonly warmup_ms: number;
  readonly sampler: ProcSampler;
  readonly redis: Redis;
  readonly metrics_url: string | null;
  readonly probe: BrokerProbe | null;
  readonly listener: AnswerListener;
  readonly progress: (line: string) => void;
}

export interface PhaseSpec {
  readonly label: string;
  readonly tag: string;
  readonly target: Target;
  readonly load: LoadTarget;
  readonly phase: LoadPhase;
  readonly card_offset: number;
  readonly cards: number;
  readonly card_kind?: 'any' | 'business';
  readonly role?: string;
  /** Overrides the context's warm-up (short search steps). */
  readonly warmup_ms?: number;
}

async function keyspace(redis: Redis): Promise<{ hits: number; misses: number }> {
  const info = await redis.info('stats');
  return {
    hits: Number(/keyspace_hits:(\d+)/.exec(info)?.[1] ?? 0),
    misses: Number(/keyspace_misses:(\d+)/.exec(info)?.[1] ?? 0),
  };
}

function cacheFigures(
  before: Samples | null,
  after: Samples | null,
  keyspace_before: { hits: number; misses: number },
  keyspace_after: { hits: number; misses: number },
): CacheFigures {
  if (before && after && total(after, 'afc_cache_lookups_total') > 0) {
    const hits =
      total(after, 'afc_cache_lookups_total', ['result="hit"']) -
      total(before, 'afc_cache_lookups_total', ['result="hit"']);
    const misses =
      total(after, 'afc_cache_lookups_total', ['result="miss"']) -
      total(before, 'afc_cache_lookups_total', ['result="miss"']);
    return {
      hits,
      misses,
      hit_rate: hits + misses > 0 ? hits / (hits + misses) : null,
      source: 'gateway /metrics',
    };
  }
  const hits = keyspace_after.hits - keyspace_before.hits;
  const misses = keyspace_after.misses - keyspace_before.misses;
  return {
    hits,
    misses,
    hit_rate: hits + misses > 0 ? hits / (hits + misses) : null,
    source: 'redis keyspace',
  };
}

function seconds(context: MeasureContext): number {
  return (performance.now() - context.origin_ms) / 1000;
}

export async function measurePhase(
  context: MeasureContext,
  spec: PhaseSpec,
  seed_offset: number,
): Promise<MeasuredPhase> {
  const generator = (tag: string, seed: number) =>
    new TrafficGenerator({
      run_id: context.run_id,
      card_offset: spec.card_offset,
      card_count: spec.cards,
      seed: context.seed + seed,
      phase_tag: tag,
      card_kind: spec.card_kind ?? 'any',
    });
  let answers = 0;
  const listener: AnswerListener = (request, status_code, outcome) => {
    answers++;
    if (spec.target === 'gateway') context.listener(request, status_code, outcome);
  };
  const ticker = setInterval(() => context.progress(`  ${spec.label}: ${answers} answers`), 2_000);
  const warmup_ms = spec.warmup_ms ?? context.warmup_ms;
  try {
    context.progress(`${spec.label}: warm-up ${warmup_ms / 1000} s`);
    const warmup = await runPhase(
      spec.load,
      { ...spec.phase, name: `${spec.phase.name} warm-up`, duration_ms: warmup_ms },
      generator(`${spec.tag}w`, seed_offset * 2),
      listener,
    );
    const metrics_before = context.metrics_url ? await scrape(context.metrics_url) : null;
    const keyspace_before = await keyspace(context.redis);
    if (context.probe) context.probe.tap_latency = newHistogram();
    answers = 0;
    context.progress(`${spec.label}: measuring ${spec.phase.duration_ms / 1000} s`);
    const started_s = seconds(context);
    const result = await runPhase(spec.load, spec.phase, generator(spec.tag, seed_offset * 2 + 1), listener);
    const ended_s = seconds(context);
    const metrics_after = context.metrics_url ? await scrape(context.metrics_url) : null;
    const keyspace_after = await keyspace(context.redis);
    const tap = context.probe?.tap_latency;
    const checked = spec.target === 'gateway' ? `, ${result.violation_count} contract violations` : '';
    context.progress(
      `${spec.label}: ${Math.round(result.throughput_per_s)} req/s, p99 ${result.latency.p99_ms.toFixed(2)} ms, ` +
        `${result.errors} errors, ${result.timeouts} timeouts${checked}`,
    );
    return {
      label: spec.label,
      role: spec.role ?? null,
      target: spec.target,
      cards: spec.cards,
      started_s,
      ended_s,
      result,
      warmup_violations: warmup.violation_count,
      cache:
        spec.target === 'gateway'
          ? cacheFigures(metrics_before, metrics_after, keyspace_before, keyspace_after)
          : null,
      relay:
        spec.target === 'gateway'
          ? {
              tap: tap && tap.totalCount > 0 ? summarize(tap) : null,
              metrics_p50_ms: quantileMs(metrics_before, metrics_after, 'afc_outbox_relay_lag_seconds', 0.5),
              metrics_p99_ms: quantileMs(metrics_before, metrics_after, 'afc_outbox_relay_lag_seconds', 0.99),
              decisions_per_message: perMessage(metrics_before, metrics_after),
            }
          : null,
      script:
        spec.target === 'gateway'
          ? {
              decide_p50_ms: quantileMs(
                metrics_before,
                metrics_after,
                'afc_redis_script_duration_seconds',
                0.5,
                ['script="decide"'],
              ),
              decide_p99_ms: quantileMs(
                metrics_before,
                metrics_after,
                'afc_redis_script_duration_seconds',
                0.99,
                ['script="decide"'],
              ),
            }
          : null,
      usage: context.sampler.summary(started_s, ended_s),
    };
  } finally {
    clearInterval(ticker);
  }
}

function perMessage(before: Samples | null, after: Samples | null): number | null {
  if (!before || !after) return null;
  const delta = (name: string) => total(after, name) - total(before, name);
  const messages = delta('afc_outbox_relay_messages_total');
  return messages > 0 ? delta('afc_outbox_relayed_total') / messages : null;
}

function quantileMs(
  before: Samples | null,
  after: Samples | null,
  name: string,
  quantile: number,
  labels: readonly string[] = [],
): number | null {
  if (!before || !after) return null;
  const seconds_value = histogramQuantile(before, after, name, quantile, labels);
  return seconds_value === null ? null : seconds_value * 1000;
}
