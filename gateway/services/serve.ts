// Last of the gateway's services: the public listener's app (only what Marqeta calls). Registered
// last, so its onClose hook runs first: requests are still served for the drain delay while load
// balancers notice readiness 503, then the listener closes and no decision is made any more.

import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { EXCHANGE_EVENTS } from '../../shared/broker/topology.ts';
import { closeApp } from '../../shared/http/close-app.ts';
import { MARQETA_NOTIFICATION_ROUTING_KEY } from '../../shared/messages.ts';
import { shutdownStep } from '../../shared/shutdown-step.ts';
import { buildGatewayApp } from '../app.ts';
import { type GatewayStores, STORES, type ServiceOptions } from './connect.ts';
import { DECISIONS, type GatewayDecisions } from './decide.ts';

export const PUBLIC_APP = 'gateway_public_app';

async function serve(services: FastifyInstance, { config, log }: ServiceOptions): Promise<void> {
  const { redis } = services.getDecorator<GatewayStores>(STORES);
  const { decider, notifications } = services.getDecorator<GatewayDecisions>(DECISIONS);
  const app = await buildGatewayApp({
    log,
    decider,
    basic_auth_user: config.basic_auth_user,
    basic_auth_password: config.basic_auth_password,
    basic_auth_password_next: config.basic_auth_password_next,
    program_time_zone: config.program_time_zone,
    partial_approval_enabled: config.partial_approval_enabled,
    body_limit_bytes: config.body_limit_bytes,
    overload: config,
    marqeta_webhooks: {
      redis,
      layout: { prefix: config.redis_key_prefix, shards: config.redis_shards },
      idempotency_ttl_s: config.idempotency_ttl_s,
      publish: (event) =>
        notifications.send(
          {
            exchange: EXCHANGE_EVENTS,
            routingKey: MARQETA_NOTIFICATION_ROUTING_KEY,
            durable: true,
            contentType: 'application/json',
            messageId: event.event_token,
          },
          event,
        ),
      user: config.webhook_user,
      password: config.webhook_password,
      password_next: config.webhook_password_next,
      hmac_secret: config.webhook_hmac_secret,
      signature_header: config.webhook_signature_header,
      hmac_algorithm: config.webhook_hmac_algorithm,
    },
  });
  services.decorate(PUBLIC_APP, app);
  services.addHook('onClose', async () => {
    // Readiness already answers 503 (connect.ts's preClose hook); requests are still served while load balancers notice.
    await shutdownStep(log, 'drain_delay', () => sleep(config.shutdown_drain_delay_ms));
    await shutdownStep(log, 'http', () => closeApp(app));
  });
}

export const publicListener = fp(serve, {
  name: 'gateway-serve',
  dependencies: ['gateway-connect', 'gateway-decide', 'gateway-background'],
});
