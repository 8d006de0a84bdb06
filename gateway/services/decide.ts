// Second of the gateway's services: the decision scripts, the cache loader, the decider and the
// notifications publisher. Its onClose hook runs once the public listener and the background jobs
// have stopped (registered after it), so nothing publishes a notification any more.

import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { exchanges, queueBindings, queues } from '../../shared/broker/topology.ts';
import { shutdownStep } from '../../shared/shutdown-step.ts';
import { CacheLoader, cacheLoaderOptions } from '../decide/cache-loader.ts';
import { Decider } from '../decide/decider.ts';
import { withReplicaWait } from '../decide/replica-wait.ts';
import { loadScripts } from '../decide/scripts.ts';
import { OutboxWrites, withOutboxWrites } from '../outbox/outbox-writes.ts';
import { type GatewayStores, STORES, type ServiceOptions } from './connect.ts';

export interface GatewayDecisions {
  readonly loader: CacheLoader;
  readonly decider: Decider;
  /** Marqeta's notifications: not the JIT hot path, each is confirmed by the broker before the 200. */
  readonly notifications: ReturnType<GatewayStores['rabbit']['createPublisher']>;
  /** The outbox streams the scripts wrote, for the relay (outbox-writes.ts). */
  readonly outbox_writes: OutboxWrites;
}

export const DECISIONS = 'gateway_decisions';

async function decide(services: FastifyInstance, { config, log }: ServiceOptions): Promise<void> {
  const { sql, mongo, redis, rabbit, layout, metrics } = services.getDecorator<GatewayStores>(STORES);
  const outbox_writes = new OutboxWrites();
  const scripts = withOutboxWrites(withReplicaWait(loadScripts(redis), redis, config), outbox_writes);
  const loader = new CacheLoader(sql, mongo.db(), scripts, layout, log, cacheLoaderOptions(config));
  const decider = new Decider(scripts, loader, layout, config, log, metrics);
  const notifications = rabbit.createPublisher({
    confirm: true,
    maxAttempts: 2,
    exchanges: exchanges.map((e) => ({ ...e })),
    queues: queues.map((q) => ({ ...q, arguments: { ...q.arguments } })),
    queueBindings: queueBindings.map((b) => ({ ...b })),
  });
  const decisions: GatewayDecisions = { loader, decider, notifications, outbox_writes };
  services.decorate(DECISIONS, decisions);
  services.addHook('onClose', () => shutdownStep(log, 'notifications', () => notifications.close()));
}

export const decisionServices = fp(decide, { name: 'gateway-decide', dependencies: ['gateway-connect'] });
