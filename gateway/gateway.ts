// Wires one gateway from its services, each a Fastify plugin on a container that never listens
// (gateway/services/): connect (stores, metrics, the internal listener), decide (scripts, cache
// loader, decider, notifications), background (preload, outbox relay, hold expiry) and serve (the
// public listener). Each registers an onClose hook; Fastify runs them last-registered first, so a
// close stops the public listener, then the jobs, then the publisher, then the connections and
// the internal listener: the order that drains what is in hand without a hand-written list.
// main.ts runs it as a process; tests run it in-process with their own configuration.

import { hostname } from 'node:os';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { MongoClient } from 'mongodb';
import type { Connection } from 'rabbitmq-client';
import type { GatewayConfig } from '../shared/config.ts';
import type { Logger } from '../shared/logger.ts';
import type { KeyLayout } from '../shared/redis-keys.ts';
import type { PgSql } from '../shared/stores/postgres.ts';
import type { HoldExpiry } from './jobs/hold-expiry.ts';
import type { OutboxRelay } from './outbox/relay.ts';
import { backgroundServices, type GatewayJobs, JOBS } from './services/background.ts';
import { connectStores, type GatewayStores, STORES } from './services/connect.ts';
import { decisionServices } from './services/decide.ts';
import { PUBLIC_APP, publicListener } from './services/serve.ts';

export interface Gateway {
  /** The public listener's app: only what Marqeta calls. */
  readonly app: FastifyInstance;
  /** The internal listener's app: health, readiness, /metrics. */
  readonly internal_app: FastifyInstance;
  readonly relay: OutboxRelay;
  readonly hold_expiry: HoldExpiry;
  readonly redis: Redis;
  readonly sql: PgSql;
  readonly mongo: MongoClient;
  readonly rabbit: Connection;
  readonly layout: KeyLayout;
  /** Stops taking requests, finishes those in flight, relays what is in hand, closes everything. */
  close(): Promise<void>;
}

export interface GatewayRuntime {
  readonly relay_consumer_name?: string;
  /** Overrides OUTBOX_RELAY_ENABLED (tests that inspect the outbox itself start without the relay). */
  readonly relay_enabled?: boolean;
  /** Tests drive hold expiry themselves. */
  readonly hold_expiry_enabled?: boolean;
}

export async function createGateway(
  config: GatewayConfig,
  log: Logger,
  runtime: GatewayRuntime = {},
): Promise<Gateway> {
  const services = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Each service bounds its own start (store warm-up, preload budget); an unreachable store is
    // not fatal at start, so no plugin deadline may turn one into a failed start.
    pluginTimeout: 0,
  });
  const options = { config, log };
  await services.register(connectStores, options);
  await services.register(decisionServices, options);
  await services.register(backgroundServices, {
    ...options,
    relay_consumer_name: runtime.relay_consumer_name ?? hostname(),
    relay_enabled: runtime.relay_enabled ?? config.outbox_relay_enabled,
    hold_expiry_enabled: runtime.hold_expiry_enabled ?? true,
  });
  await services.register(publicListener, options);
  await services.ready();

  const { redis, sql, mongo, rabbit, layout, internal_app } = services.getDecorator<GatewayStores>(STORES);
  const { relay, hold_expiry } = services.getDecorator<GatewayJobs>(JOBS);
  return {
    app: services.getDecorator<FastifyInstance>(PUBLIC_APP),
    internal_app,
    relay,
    hold_expiry,
    redis,
    sql,
    mongo,
    rabbit,
    layout,
    close: () => services.close(),
  };
}
