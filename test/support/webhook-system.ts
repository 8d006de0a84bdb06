// The management API and a webhook consumer on a work queue of their own (never afc.webhooks),
// configured the way production is (loadApiConfig / loadWorkerConfig from the environment),
// with the test receivers' certificate trusted, their address allowlisted and names resolved
// by the test's lookup.

import { randomUUID } from 'node:crypto';
import { deadLetterQueueName, retryQueueName } from '../../shared/broker/topology.ts';
import { loadWorkerConfig } from '../../shared/config.ts';
import { createLogger, type Logger } from '../../shared/logger.ts';
import type { HostLookup } from '../../shared/webhooks/destination.ts';
import { WebhookConsumer } from '../../worker/webhooks/consumer.ts';
import { startTestApi, type TestApi } from './api-harness.ts';
import { RECEIVER_CIDR, type ReceiverCertificate } from './webhook-receivers.ts';

/** Short retry delays so a failing delivery reaches its horizon within a test. */
const RETRY_DELAYS_MS = [50, 100, 200] as const;

export interface WebhookSystem {
  readonly api: TestApi;
  readonly queue: string;
  close(): Promise<void>;
}

export async function startWebhookSystem(options: {
  readonly certificate: ReceiverCertificate;
  readonly lookup: HostLookup;
  readonly retry_horizon_ms?: number;
  /** Both processes' logger (a test may capture it); silent by default. */
  readonly log?: Logger;
}): Promise<WebhookSystem> {
  const log = options.log ?? createLogger('webhooks-test', process.env.LOG_LEVEL ?? 'silent');
  const queue = `t.webhooks.${randomUUID().slice(0, 8)}`;
  const env = { WEBHOOKS_QUEUE: queue, WEBHOOK_ALLOWED_CIDRS: RECEIVER_CIDR };
  const api = await startTestApi(env, { webhook_lookup: options.lookup, log });
  const config = loadWorkerConfig({
    ...process.env,
    ...env,
    WEBHOOK_TLS_CA_FILE: options.certificate.ca_file,
  });
  const consumer = new WebhookConsumer(
    { rabbit: api.rabbit, sql: api.sql, log },
    {
      queue: config.webhooks_queue,
      retry_delays_ms: RETRY_DELAYS_MS,
      // The production default: TLS handshakes on a loaded 2-core machine can take a while.
      timeout_ms: config.webhook_timeout_ms,
      retry_horizon_ms: options.retry_horizon_ms ?? 60_000,
      concurrency: 4,
      endpoints_ttl_ms: 0,
      destination: { allow_http: config.webhook_allow_http, allowed_cidrs: config.webhook_allowed_cidrs },
      tls_extra_ca_pem: config.webhook_tls_extra_ca_pem,
      lookup: options.lookup,
    },
  );
  await consumer.ready;
  return {
    api,
    queue,
    async close() {
      await consumer.close();
      for (const name of [
        queue,
        deadLetterQueueName(queue),
        ...RETRY_DELAYS_MS.map((_, i) => retryQueueName(queue, i + 1)),
      ]) {
        await api.rabbit.queueDelete({ queue: name });
      }
      await api.close();
    },
  };
}
