import { describe, expect, it } from 'vitest';
import { ConfigError, loadApiConfig, loadGatewayConfig } from '../../shared/config.ts';

const valid = {
  DATABASE_URL: 'postgres://u@localhost/db',
  MONGODB_URI: 'mongodb://localhost/db',
  REDIS_URL: 'redis://localhost:6379',
  RABBITMQ_URL: 'amqp://localhost',
  MARQETA_BASE_URL: 'https://sandbox.marqeta.com/v3',
  GATEWAY_BASIC_AUTH_USER: 'marqeta',
  GATEWAY_BASIC_AUTH_PASSWORD: 'a-long-enough-password-1',
  MARQETA_WEBHOOK_USER: 'marqeta-webhooks',
  MARQETA_WEBHOOK_PASSWORD: 'another-long-password-2',
};

describe('gateway config', () => {
  it('loads defaults and freezes the result', () => {
    const config = loadGatewayConfig(valid);
    expect(config.decision_budget_ms).toBe(50);
    expect(config.program_time_zone).toBe('UTC');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names the variable that is missing or wrong', () => {
    expect(() => loadGatewayConfig({ ...valid, GATEWAY_BASIC_AUTH_PASSWORD: undefined })).toThrow(
      /GATEWAY_BASIC_AUTH_PASSWORD is required/,
    );
    expect(() => loadGatewayConfig({ ...valid, GATEWAY_BASIC_AUTH_PASSWORD: 'short' })).toThrow(
      /at least 20/,
    );
    expect(() => loadGatewayConfig({ ...valid, DECISION_BUDGET_MS: 'fast' })).toThrow(
      /DECISION_BUDGET_MS must be an integer/,
    );
    expect(() => loadGatewayConfig({ ...valid, DECISION_BUDGET_MS: '0' })).toThrow(/between 2 and 2500/);
    expect(() => loadGatewayConfig({ ...valid, REDIS_URL: 'http://x' })).toThrow(/REDIS_URL must use/);
    expect(() => loadGatewayConfig({ ...valid, PROGRAM_TIME_ZONE: 'Mars/Olympus' })).toThrow(ConfigError);
    expect(loadGatewayConfig(valid).undecided_answer).toBe('decline');
    expect(loadGatewayConfig({ ...valid, UNDECIDED_ANSWER: 'standin' }).undecided_answer).toBe('standin');
    expect(() => loadGatewayConfig({ ...valid, UNDECIDED_ANSWER: 'approve' })).toThrow(/UNDECIDED_ANSWER/);
  });
});

describe('internal listeners', () => {
  it('default to their own ports, apart from the public ones', () => {
    const gateway = loadGatewayConfig(valid);
    expect([gateway.port, gateway.internal_port]).toEqual([8080, 9080]);
    const api = loadApiConfig(valid);
    expect([api.port, api.internal_port]).toEqual([8082, 9082]);
  });

  it('refuse the public port: a route to it would publish health and /metrics again', () => {
    expect(() => loadGatewayConfig({ ...valid, GATEWAY_INTERNAL_PORT: '8080' })).toThrow(
      /GATEWAY_INTERNAL_PORT must differ from the public port/,
    );
    expect(() =>
      loadGatewayConfig({ ...valid, GATEWAY_PORT: '9090', GATEWAY_INTERNAL_PORT: '9090' }),
    ).toThrow(ConfigError);
    expect(() => loadApiConfig({ ...valid, API_INTERNAL_PORT: '8082' })).toThrow(
      /API_INTERNAL_PORT must differ/,
    );
    expect(() => loadGatewayConfig({ ...valid, GATEWAY_INTERNAL_PORT: '70000' })).toThrow(
      /between 0 and 65535/,
    );
  });

  it('may both be 0 (tests: the system picks free ports)', () => {
    expect(loadGatewayConfig({ ...valid, GATEWAY_PORT: '0', GATEWAY_INTERNAL_PORT: '0' }).internal_port).toBe(
      0,
    );
  });
});
