// The gateway refuses a Redis whose maxmemory-policy could evict money state (allkeys-*), warns
// in readiness when Redis has no limit or refuses writes when full (noeviction), and exports
// Redis memory and evictions on /metrics. Each case runs its own redis-server.
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { memoryWarning, RedisMemoryWatch } from '../../gateway/decide/redis-memory.ts';
import { startPrivateRedis } from '../../shared/dev/processes.ts';
import { createLogger } from '../../shared/logger.ts';
import { gatewayMetrics } from '../../shared/metrics.ts';
import { startTestGateway } from '../support/gateway-harness.ts';

type PrivateRedis = Awaited<ReturnType<typeof startPrivateRedis>>;
let servers: PrivateRedis[] = [];
afterEach(async () => {
  await Promise.allSettled(servers.map((server) => server.destroy()));
  servers = [];
});

async function redisWith(policy: string, maxmemory: string): Promise<PrivateRedis> {
  const server = await startPrivateRedis(['--maxmemory', maxmemory, '--maxmemory-policy', policy]);
  servers.push(server);
  return server;
}

async function readiness(gw: Awaited<ReturnType<typeof startTestGateway>>) {
  const response = await gw.internal_app.inject({ method: 'GET', url: '/api/health/ready' });
  return { code: response.statusCode, body: response.json() as { status: string; warnings?: string[] } };
}

async function metric(gw: Awaited<ReturnType<typeof startTestGateway>>, name: string): Promise<number> {
  const text = (await gw.internal_app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return Number(line?.split(' ').at(-1));
}

describe('the verdict on a policy and a limit', () => {
  it('only allkeys-* could evict money state; noeviction and no limit are warnings; volatile-* with a limit is fine', () => {
    for (const policy of ['allkeys-lru', 'allkeys-lfu', 'allkeys-random'])
      expect(memoryWarning(policy, 1 << 30)).toMatch(/may evict money state/);
    expect(memoryWarning('noeviction', 0)).toMatch(/refuses writes/);
    expect(memoryWarning('volatile-lru', 0)).toMatch(/no limit/);
    for (const policy of ['volatile-lru', 'volatile-lfu', 'volatile-ttl', 'volatile-random'])
      expect(memoryWarning(policy, 1 << 30)).toBeNull();
  });
});

describe('gateway start and readiness', () => {
  it('refuses to start on an allkeys-* Redis, with a code and the policy in the message', async () => {
    const redis = await redisWith('allkeys-lru', '64mb');
    await expect(startTestGateway({ REDIS_URL: redis.url })).rejects.toMatchObject({
      code: 'GW_ERR_REDIS_EVICTS_MONEY',
      message: expect.stringContaining('allkeys-lru'),
    });
  });

  it('starts on volatile-lru with a limit: ready without warnings, limit and policy on /metrics', async () => {
    const redis = await redisWith('volatile-lru', '64mb');
    const gw = await startTestGateway({ REDIS_URL: redis.url });
    try {
      const ready = await readiness(gw);
      expect(ready.code).toBe(200);
      expect(ready.body.warnings).toBeUndefined();
      expect(await metric(gw, 'afc_redis_memory_max_bytes')).toBe(64 * 1024 * 1024);
      expect(await metric(gw, 'afc_redis_eviction_safe')).toBe(1);
      expect(await metric(gw, 'afc_redis_memory_used_bytes')).toBeGreaterThan(0);
    } finally {
      await gw.close();
    }
  });

  it('on a noeviction Redis without a limit (the development default) it serves, and readiness warns', async () => {
    const redis = await redisWith('noeviction', '0');
    const gw = await startTestGateway({ REDIS_URL: redis.url });
    try {
      const ready = await readiness(gw);
      expect(ready.code).toBe(200);
      expect(ready.body.warnings).toEqual([expect.stringContaining('noeviction')]);
    } finally {
      await gw.close();
    }
  });
});

describe('RedisMemoryWatch', () => {
  it('a policy switched to allkeys-* at run time turns afc_redis_eviction_safe to 0 and warns', async () => {
    const server = await redisWith('volatile-lru', '64mb');
    const redis = new Redis(server.url);
    try {
      const metrics = gatewayMetrics(new Registry());
      const watch = new RedisMemoryWatch(redis, metrics, createLogger('redis-memory-test', 'silent'));
      expect((await watch.sample()).evicts_money).toBe(false);
      expect(watch.warning()).toBeNull();
      await redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
      expect((await watch.sample()).evicts_money).toBe(true);
      expect(watch.warning()).toMatch(/allkeys-lru may evict money state/);
      expect((await metrics.redis_eviction_safe.get()).values[0]?.value).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});
