// Third of the gateway's services: the cache preload (before the gateway listens), the outbox
// relay and hold expiry. Its onClose hook runs once the public listener has closed (registered
// after it): no decision is made any more, so the relay publishes what is left and stops.

import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.ts';
import { shutdownStep } from '../../shared/shutdown-step.ts';
import { preloadActiveCards } from '../decide/cache-preload.ts';
import { HoldExpiry } from '../jobs/hold-expiry.ts';
import { OutboxRelay, RELAY_DEFAULTS } from '../outbox/relay.ts';
import { type GatewayStores, STORES, type ServiceOptions } from './connect.ts';
import { DECISIONS, type GatewayDecisions } from './decide.ts';

/**
 * On shutdown the relay gets this long to publish what is left in the outbox; anything still
 * there afterwards (RabbitMQ down) stays in Redis for the next relay. Within the 30 s deadline.
 */
const OUTBOX_DRAIN_MS_MAX = 10_000;
const OUTBOX_DRAIN_POLL_MS = 50;
/** Rows per hold-expiry scan. */
const HOLD_EXPIRY_BATCH_MAX = 500;

/** Waits until the outbox streams are empty (every entry confirmed by RabbitMQ) or the bound passes. */
async function drainOutbox(redis: Redis, streams: readonly string[], log: Logger): Promise<void> {
  const until_ms = Date.now() + OUTBOX_DRAIN_MS_MAX;
  let left = -1;
  while (Date.now() < until_ms) {
    left = (await Promise.all(streams.map((stream) => redis.xlen(stream)))).reduce((sum, n) => sum + n, 0);
    if (left === 0) return;
    await sleep(OUTBOX_DRAIN_POLL_MS);
  }
  log.warn({ outbox_entries: left }, 'outbox not drained before shutdown; the next relay publishes the rest');
}

export interface BackgroundOptions extends ServiceOptions {
  readonly relay_consumer_name: string;
  readonly relay_enabled: boolean;
  readonly hold_expiry_enabled: boolean;
}

export interface GatewayJobs {
  readonly relay: OutboxRelay;
  readonly hold_expiry: HoldExpiry;
}

export const JOBS = 'gateway_jobs';

async function background(services: FastifyInstance, options: BackgroundOptions): Promise<void> {
  const { config, log } = options;
  const { sql, mongo, redis, relay_redis, rabbit, streams, metrics } =
    services.getDecorator<GatewayStores>(STORES);
  const { loader, decider, outbox_writes } = services.getDecorator<GatewayDecisions>(DECISIONS);
  const relay = new OutboxRelay(
    relay_redis,
    rabbit,
    {
      streams,
      consumer_name: options.relay_consumer_name,
      batch_max: config.outbox_batch_max,
      message_decisions_max: config.relay_batch_max,
      message_bytes_max: config.relay_batch_bytes_max,
      claim_idle_ms: config.outbox_claim_idle_ms,
      linger_ms: config.relay_linger_ms,
      ...RELAY_DEFAULTS,
    },
    log,
    metrics,
    outbox_writes,
  );
  // Before the gateway listens: the recently active cards' first decisions need no store.
  await preloadActiveCards(
    redis,
    loader,
    {
      key_prefix: config.redis_key_prefix,
      active_s: config.cache_preload_active_s,
      cards_max: config.cache_preload_cards_max,
      budget_ms: config.cache_preload_budget_ms,
      program_time_zone: config.program_time_zone,
    },
    log,
  ).catch((error: unknown) => log.warn({ err: error }, 'cache preload failed; cards load on first use'));
  if (options.relay_enabled) relay.start();

  const hold_expiry = new HoldExpiry(
    sql,
    mongo.db(),
    redis,
    decider,
    {
      hold_expiry_days: config.hold_expiry_days,
      scan_interval_ms: config.hold_expiry_scan_interval_ms,
      batch_max: HOLD_EXPIRY_BATCH_MAX,
      lock_key: `${config.redis_key_prefix}:lock:hold-expiry`,
      program_time_zone: config.program_time_zone,
    },
    log,
  );
  if (options.hold_expiry_enabled) hold_expiry.start();

  const jobs: GatewayJobs = { relay, hold_expiry };
  services.decorate(JOBS, jobs);
  services.addHook('onClose', async () => {
    await shutdownStep(log, 'hold_expiry', () => hold_expiry.stop());
    // No decision is made any more: publish the ones answered (best effort, bounded).
    if (options.relay_enabled) {
      await shutdownStep(log, 'outbox', () =>
        drainOutbox(redis, streams, log).catch((error: unknown) =>
          log.warn({ err: error }, 'outbox drain check failed'),
        ),
      );
    }
    await shutdownStep(log, 'relay', () => relay.stop());
  });
}

export const backgroundServices = fp(background, {
  name: 'gateway-background',
  dependencies: ['gateway-connect', 'gateway-decide'],
});
