// An in-process gateway on the real services, with a key prefix of its own so tests never
// see each other's Redis state.
import { randomUUID } from 'node:crypto';
import { loadGatewayConfig, type GatewayConfig } from '../../shared/config.ts';
import { createLogger } from '../../shared/logger.ts';
import { createGateway, type Gateway, type GatewayRuntime } from '../../gateway/gateway.ts';
import { basicAuth } from './jit-requests.ts';

/**
 * Settings of every test gateway, in-process or a child process (`gateway/main.ts`).
 * Correctness tests must not turn into timing tests on a busy machine: a decision over the 50 ms
 * production budget is a `timeout` decline (budget tests set their own), and load shedding (tested
 * on its own) would answer 503 to a cold gateway's first burst.
 */
export const TEST_GATEWAY_ENV: Readonly<Record<string, string>> = Object.freeze({
  DECISION_BUDGET_MS: '2000',
  // A cache fill reads PostgreSQL or FerretDB: on a busy machine it can pass the 500 ms default.
  CACHE_FILL_BUDGET_MS: '2000',
  OVERLOAD_EVENT_LOOP_DELAY_MS_MAX: '0',
  OVERLOAD_HEAP_USED_MB_MAX: '65536',
});

export function testGatewayConfig(overrides: Record<string, string> = {}): GatewayConfig {
  return loadGatewayConfig({
    ...process.env,
    REDIS_KEY_PREFIX: `t${randomUUID().slice(0, 8)}`,
    REDIS_SHARDS: '4',
    GATEWAY_PORT: '0',
    GATEWAY_INTERNAL_PORT: '0',
    ...TEST_GATEWAY_ENV,
    ...overrides,
  });
}

export async function startTestGateway(
  overrides: Record<string, string> = {},
  runtime: GatewayRuntime = { relay_enabled: false, hold_expiry_enabled: false },
): Promise<Gateway & { config: GatewayConfig }> {
  const config = testGatewayConfig(overrides);
  const gateway = await createGateway(
    config,
    createLogger('gateway-test', process.env.LOG_LEVEL ?? 'silent'),
    {
      relay_consumer_name: `test-${randomUUID().slice(0, 8)}`,
      ...runtime,
    },
  );
  return Object.assign(gateway, { config });
}

/** One JIT request through the gateway's public route (in process), with Marqeta's credentials. */
export async function authorizeThrough(gateway: Gateway, body: Record<string, unknown>) {
  const response = await gateway.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization: basicAuth() },
    payload: body,
  });
  return { status: response.statusCode, jit: response.json().jit_funding as Record<string, unknown> };
}
