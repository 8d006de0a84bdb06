// The gateway's scrape-time gauges, sampled by GET /metrics on the internal listener
// (shared/http/metrics-route.ts): the outbox depth (read from Redis) and the Redis connections.

import type { Redis } from 'ioredis';
import type { gatewayMetrics, poolMetrics } from '../../shared/metrics.ts';

type PoolGauge = ReturnType<typeof poolMetrics>['pool_connections'];
type DepthGauge = ReturnType<typeof gatewayMetrics>['outbox_depth'];

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
