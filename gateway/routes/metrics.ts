// GET /metrics: Prometheus text format. Counters and histograms are updated in memory on the
// hot path; the gauges below are sampled here, at scrape time, each bounded so a slow Redis
// delays a scrape by at most sample_timeout_ms and never a decision.

import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/logger.ts';
import type { gatewayMetrics, poolMetrics } from '../../shared/metrics.ts';

type PoolGauge = ReturnType<typeof poolMetrics>['pool_connections'];
type DepthGauge = ReturnType<typeof gatewayMetrics>['outbox_depth'];

export interface MetricsRouteOptions {
  readonly registry: Registry;
  /** Refreshes the scrape-time gauges; a failure or timeout keeps their last values. */
  readonly sample: () => Promise<void>;
  readonly sample_timeout_ms: number;
  readonly log: Logger;
}

export async function metricsRoute(app: FastifyInstance, options: MetricsRouteOptions): Promise<void> {
  app.get('/metrics', async (_request, reply) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        options.sample(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`sampling over ${options.sample_timeout_ms} ms`)),
            options.sample_timeout_ms,
          );
        }),
      ]);
    } catch (error) {
      options.log.warn({ err: error }, 'metrics sampling failed; serving last values');
    } finally {
      clearTimeout(timer);
    }
    return reply.header('content-type', options.registry.contentType).send(await options.registry.metrics());
  });
}

/** Sum of XLEN over the outbox streams: entries not yet confirmed by RabbitMQ (XLEN is O(1)). */
export async function sampleOutboxDepth(
  redis: Redis,
  streams: readonly string[],
  gauge: DepthGauge,
): Promise<void> {
  // One command per stream (not one pipeline): on Redis Cluster the streams live on different slots.
  const lengths = await Promise.all(streams.map((stream) => redis.xlen(stream)));
  gauge.set(lengths.reduce((sum, length) => sum + length, 0));
}

/** Connected Redis clients of this process ('open'). */
export function sampleRedisPool(clients: readonly Redis[], gauge: PoolGauge): void {
  gauge.set({ store: 'redis', state: 'open' }, clients.filter((client) => client.status === 'ready').length);
}
