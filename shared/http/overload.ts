// Load shedding for the HTTP processes (@fastify/under-pressure). Past a threshold (mean
// event-loop delay, V8 heap in use, resident memory) every request is answered 503 at once,
// in our error shape and with Retry-After, instead of queueing until every answer is late:
// for the JIT endpoint a fast 503 lets Marqeta's stand-in decide within its 3 s, a slow answer
// would not. Probes and metrics live on the internal listener (shared/http/internal-app.ts),
// which sheds nothing: a busy process must not be restarted by its liveness probe, and its
// metrics are how the overload is seen.

import { getHeapStatistics } from 'node:v8';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OverloadConfig } from '../config.ts';
import { ApiError, type ErrorCode } from '../errors.ts';

/** How often memory and event-loop delay are sampled. */
const SAMPLE_INTERVAL_MS = 250;
/** Shedding starts at this share of V8's heap limit when no explicit threshold is set. */
const HEAP_LIMIT_SHARE = 0.9;
/** One warning per interval at most: logging every shed request would add to the overload. */
const SHED_LOG_INTERVAL_MS = 1_000;

export interface OverloadOptions {
  readonly config: OverloadConfig;
  /** GW_ERR_UNAVAILABLE or API_ERR_UNAVAILABLE. */
  readonly code: ErrorCode;
  /** Told of each shed request (the gateway counts shed JIT requests as undecided). */
  readonly on_shed?: (request: FastifyRequest) => void;
}

export async function installOverloadShedding(app: FastifyInstance, options: OverloadOptions): Promise<void> {
  const { config } = options;
  let shed_since_log = 0;
  let logged_at_ms = 0;
  await app.register(underPressure, {
    sampleInterval: SAMPLE_INTERVAL_MS,
    maxEventLoopDelay: config.overload_event_loop_delay_ms_max,
    maxHeapUsedBytes:
      config.overload_heap_used_bytes_max ??
      Math.floor(getHeapStatistics().heap_size_limit * HEAP_LIMIT_SHARE),
    maxRssBytes: config.overload_rss_bytes_max ?? 0,
    exposeStatusRoute: false,
    // Returning nothing serves the request; a rejection goes to the error handler (our shape).
    pressureHandler: (request, reply, type, value) => {
      shed_since_log++;
      options.on_shed?.(request);
      if (Date.now() - logged_at_ms >= SHED_LOG_INTERVAL_MS) {
        request.log.warn({ pressure: type, value, shed: shed_since_log }, 'overloaded; requests shed');
        shed_since_log = 0;
        logged_at_ms = Date.now();
      }
      reply.header('retry-after', String(config.overload_retry_after_s));
      return Promise.reject(new ApiError(options.code));
    },
  });
}
