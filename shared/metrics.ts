// Prometheus metrics (prom-client). Each process creates one registry with the metrics it
// uses; names and labels are defined once here so dashboards and alerts match every process.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How often the event-loop lag metric samples the loop. prom-client's default (10 ms) wakes an
 * idle process 100 times a second: ~8 ms of CPU per second per process on this 2-core VM,
 * measured with /proc. Sampled lag keeps its precision; 10 samples a second suit a dashboard.
 */
const EVENT_LOOP_LAG_SAMPLE_MS = 100;

export function createRegistry(process_name: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process: process_name });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_LAG_SAMPLE_MS });
  return registry;
}

const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3];

export function gatewayMetrics(registry: Registry) {
  return {
    decisions: new Counter({
      name: 'afc_decisions_total',
      help: 'Gateway decisions by result (approved/declined) and memo (reason code)',
      labelNames: ['result', 'memo', 'method'] as const,
      registers: [registry],
    }),
    decision_duration: new Histogram({
      name: 'afc_decision_duration_seconds',
      help: 'Time from parsed request to decision, including cache fills',
      buckets: LATENCY_BUCKETS_S,
      registers: [registry],
    }),
    script_duration: new Histogram({
      name: 'afc_redis_script_duration_seconds',
      help: 'Round trip of one Redis Lua script call',
      labelNames: ['script'] as const,
      buckets: LATENCY_BUCKETS_S,
      registers: [registry],
    }),
    cache_lookups: new Counter({
      name: 'afc_cache_lookups_total',
      help: 'Decision script calls by cache result (hit: decided from Redis alone; miss: loaded from a database)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    outbox_depth: new Gauge({
      name: 'afc_outbox_depth',
      help: 'Decisions in the Redis outbox not yet confirmed by RabbitMQ',
      registers: [registry],
    }),
    redis_evicted_keys: new Counter({
      name: 'afc_redis_evicted_keys_total',
      help: 'Keys Redis evicted at maxmemory (INFO evicted_keys, every master): cache only under a volatile-* policy',
      registers: [registry],
    }),
    redis_memory_used: new Gauge({
      name: 'afc_redis_memory_used_bytes',
      help: 'Redis used_memory, summed over the masters',
      registers: [registry],
    }),
    redis_memory_max: new Gauge({
      name: 'afc_redis_memory_max_bytes',
      help: 'Redis maxmemory (the smallest of the masters); 0 = no limit',
      registers: [registry],
    }),
    redis_eviction_safe: new Gauge({
      name: 'afc_redis_eviction_safe',
      help: 'Redis maxmemory-policy can evict cache keys only (1), or also money state (0: allkeys-*)',
      registers: [registry],
    }),
    relay_lag: new Histogram({
      name: 'afc_outbox_relay_lag_seconds',
      help: 'Age of an outbox entry when RabbitMQ confirmed it',
      buckets: LATENCY_BUCKETS_S,
      registers: [registry],
    }),
    relayed: new Counter({
      name: 'afc_outbox_relayed_total',
      help: 'Outbox entries published to RabbitMQ and confirmed',
      registers: [registry],
    }),
    relay_messages: new Counter({
      name: 'afc_outbox_relay_messages_total',
      help: 'Decision batches (AMQP messages) published to RabbitMQ and confirmed; relayed / this = decisions per message',
      registers: [registry],
    }),
    undecided_mode: new Gauge({
      name: 'afc_undecided_answer_mode',
      help: 'UNDECIDED_ANSWER in force: 1 for the mode (decline or standin), 0 for the other',
      labelNames: ['mode'] as const,
      registers: [registry],
    }),
    undecided: new Counter({
      name: 'afc_undecided_requests_total',
      help: 'JIT requests the gateway could not decide, by cause and by what was answered (decline, standin, shed)',
      labelNames: ['cause', 'answer'] as const,
      registers: [registry],
    }),
    standin_bookings: new Counter({
      name: 'afc_standin_bookings_total',
      help: 'Marqeta stand-in (Commando) approvals booked from notifications, each token once',
      registers: [registry],
    }),
    standin_over_limit: new Counter({
      name: 'afc_standin_over_limit_minor_total',
      help: "Spend stand-in approvals booked beyond a card's amount limits or balance, minor units",
      labelNames: ['currency'] as const,
      registers: [registry],
    }),
  };
}

export function workerMetrics(registry: Registry) {
  return {
    consumer_lag: new Histogram({
      name: 'afc_consumer_lag_seconds',
      help: 'Age of a message (since its decision) when the worker committed it',
      labelNames: ['queue'] as const,
      buckets: [...LATENCY_BUCKETS_S, 10, 60, 300],
      registers: [registry],
    }),
    processed: new Counter({
      name: 'afc_messages_processed_total',
      help: 'Messages committed and acked by the worker',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: 'afc_message_retries_total',
      help: 'Messages sent to a retry queue after a failure',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    dead_letters: new Counter({
      name: 'afc_dead_letters_total',
      help: 'Messages moved to a dead-letter queue after their last attempt',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    webhook_deliveries: new Counter({
      name: 'afc_webhook_deliveries_total',
      help: 'Outbound webhook delivery attempts by result',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    personal_extra_write_rounds: new Counter({
      name: 'afc_personal_extra_write_rounds_total',
      help: 'Writes a merged personal batch took beyond its first (a card with more events than one write applies)',
      registers: [registry],
    }),
    marqeta_calls: new Counter({
      name: 'afc_marqeta_api_calls_total',
      help: 'Marqeta API calls by operation and outcome',
      labelNames: ['operation', 'outcome'] as const,
      registers: [registry],
    }),
  };
}

/** Connection pool statistics, for both processes. */
export function poolMetrics(registry: Registry) {
  return {
    pool_connections: new Gauge({
      name: 'afc_pool_connections',
      help: 'Connections of each store pool by state',
      labelNames: ['store', 'state'] as const,
      registers: [registry],
    }),
  };
}
