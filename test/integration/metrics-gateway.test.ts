import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBusinessCard } from '../support/cardholders.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';

type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;

async function authorize(gw: TestGateway, body: Record<string, unknown>) {
  const response = await gw.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization: basicAuth(), 'content-type': 'application/json' },
    payload: body,
  });
  return response.statusCode;
}

async function scrape(gw: TestGateway) {
  const response = await gw.internal_app.inject({ method: 'GET', url: '/metrics' });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toContain('text/plain');
  return response.body;
}

/** The value of one sample line, e.g. `afc_outbox_depth{process="gateway"}`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('gateway GET /metrics with the relay running', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({}, { relay_enabled: true });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('exposes decisions, latencies, cache hits and misses, relay lag and relayed count after authorizations', async () => {
    const card = await createBusinessCard(gw.sql, { daily_limit_minor: 5_000n });
    const first = jitRequest({ ...card, amount: 30 });
    expect(await authorize(gw, first)).toBe(200); // cache miss: the card is loaded from PostgreSQL
    expect(await authorize(gw, first)).toBe(200); // replay: answered from Redis alone
    expect(await authorize(gw, jitRequest({ ...card, amount: 20.01 }))).toBe(402); // over the daily limit
    await vi.waitFor(() => expect(gw.relay.stats.published_total).toBeGreaterThanOrEqual(2), {
      timeout: 20_000,
    });

    const text = await scrape(gw);
    expect(
      sample(text, 'afc_decisions_total', {
        result: 'approved',
        memo: 'approved',
        method: 'pgfs.authorization',
      }),
    ).toBe(2);
    expect(sample(text, 'afc_decisions_total', { result: 'declined', memo: 'limit_exceeded' })).toBe(1);
    expect(sample(text, 'afc_decision_duration_seconds_count')).toBe(3);
    expect(sample(text, 'afc_decision_duration_seconds_bucket', { le: '+Inf' })).toBe(3);
    // 3 decisions; the first needed a fill, so the script ran 4 times.
    expect(sample(text, 'afc_redis_script_duration_seconds_count', { script: 'decide' })).toBe(4);
    expect(sample(text, 'afc_cache_lookups_total', { result: 'miss' })).toBe(1);
    expect(sample(text, 'afc_cache_lookups_total', { result: 'hit' })).toBe(2);
    expect(sample(text, 'afc_outbox_relayed_total')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'afc_outbox_relay_lag_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'afc_outbox_depth')).toBeDefined();
    expect(sample(text, 'afc_pool_connections', { store: 'redis', state: 'open' })).toBe(2);
    expect(sample(text, 'afc_pool_connections', { store: 'mongodb', state: 'open' })).toBeDefined();
    expect(sample(text, 'afc_pool_connections', { store: 'postgresql', state: 'max' })).toBe(20);
    // Default process metrics, labelled with the process name.
    expect(sample(text, 'process_cpu_user_seconds_total', { process: 'gateway' })).toBeDefined();
    expect(sample(text, 'nodejs_eventloop_lag_p99_seconds')).toBeDefined();
  });
});

describe('gateway outbox depth metric', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({}, { relay_enabled: false });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('counts decisions waiting in the outbox streams at scrape time', async () => {
    expect(sample(await scrape(gw), 'afc_outbox_depth')).toBe(0);
    const card = await createBusinessCard(gw.sql);
    expect(await authorize(gw, jitRequest({ ...card, amount: 1 }))).toBe(200);
    expect(await authorize(gw, jitRequest({ ...card, amount: 2 }))).toBe(200);
    expect(sample(await scrape(gw), 'afc_outbox_depth')).toBe(2);
  });

  it('still answers a scrape, with the last sampled depth, while Redis is unreachable', async () => {
    const card = await createBusinessCard(gw.sql);
    expect(await authorize(gw, jitRequest({ ...card, amount: 3 }))).toBe(200);
    const depth = sample(await scrape(gw), 'afc_outbox_depth');
    expect(depth).toBeGreaterThanOrEqual(1);
    const ended = once(gw.redis, 'end');
    gw.redis.disconnect();
    await ended;
    try {
      const text = await scrape(gw);
      expect(sample(text, 'afc_outbox_depth')).toBe(depth);
      expect(sample(text, 'afc_pool_connections', { store: 'redis', state: 'open' })).toBe(1);
    } finally {
      await gw.redis.connect();
    }
  });
});
