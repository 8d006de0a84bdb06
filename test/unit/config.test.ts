import { describe, expect, it } from 'vitest';
import { ConfigError, loadGatewayConfig } from '../../shared/config.ts';

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
    expect(() => loadGatewayConfig({ ...valid, DECISION_BUDGET_MS: '0' })).toThrow(/between 1 and 2500/);
    expect(() => loadGatewayConfig({ ...valid, REDIS_URL: 'http://x' })).toThrow(/REDIS_URL must use/);
    expect(() => loadGatewayConfig({ ...valid, PROGRAM_TIME_ZONE: 'Mars/Olympus' })).toThrow(ConfigError);
  });
});
