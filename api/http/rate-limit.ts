// Per-API-key rate limit (@fastify/rate-limit), counted in Redis so every API process shares
// one budget per key. Runs after authentication (preParsing), so the key id is known and a
// stranger cannot spend someone else's budget. Redis errors fail open (skipOnError): the
// limit protects the databases from one noisy client, it is not an authorization control.

import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { ApiError } from '../../shared/errors.ts';

export interface RateLimitOptions {
  readonly redis: Redis;
  readonly key_prefix: string;
  readonly max: number;
  readonly window_ms: number;
}

export async function installRateLimit(app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    hook: 'preParsing',
    max: options.max,
    timeWindow: options.window_ms,
    redis: options.redis,
    nameSpace: `${options.key_prefix}:api-rate:`,
    skipOnError: true,
    keyGenerator: (request) => request.principal.key_id,
    errorResponseBuilder: (_request, context) =>
      new ApiError('API_ERR_RATE_LIMITED', `More than ${context.max} requests; retry in ${context.after}.`),
  });
}
