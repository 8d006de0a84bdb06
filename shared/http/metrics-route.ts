// GET /metrics: Prometheus text format, on a process's internal listener. Counters and
// histograms are updated in memory where things happen; gauges that must be read from a store
// are sampled here, at scrape time, bounded so a slow store delays a scrape by at most
// sample_timeout_ms and never a request.

import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../logger.ts';

export interface MetricsRouteOptions {
  readonly registry: Registry;
  /** Refreshes the scrape-time gauges; a failure or timeout keeps their last values. */
  readonly sample?: () => Promise<void>;
  readonly sample_timeout_ms?: number;
  readonly log: Logger;
}

/** A scrape waits at most this long for the sampled gauges unless told otherwise. */
const SAMPLE_TIMEOUT_MS_DEFAULT = 1_000;

export async function metricsRoute(app: FastifyInstance, options: MetricsRouteOptions): Promise<void> {
  const { sample, sample_timeout_ms = SAMPLE_TIMEOUT_MS_DEFAULT } = options;
  app.get('/metrics', async (_request, reply) => {
    if (sample !== undefined) await sampleWithin(sample, sample_timeout_ms, options.log);
    return reply.header('content-type', options.registry.contentType).send(await options.registry.metrics());
  });
}

async function sampleWithin(sample: () => Promise<void>, timeout_ms: number, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      sample(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`sampling over ${timeout_ms} ms`)), timeout_ms);
      }),
    ]);
  } catch (error) {
    log.warn({ err: error }, 'metrics sampling failed; serving last values');
  } finally {
    clearTimeout(timer);
  }
}
