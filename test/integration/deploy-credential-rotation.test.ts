// Rotating the Basic-auth passwords Marqeta sends, without downtime (docs/operations.md):
// with GATEWAY_BASIC_AUTH_PASSWORD_NEXT (JIT) or MARQETA_WEBHOOK_PASSWORD_NEXT (webhooks) set,
// the gateway accepts the current and the next password, and nothing else; without, only
// the current one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthVerifier } from '../../gateway/http/basic-auth.ts';
import { ConfigError } from '../../shared/config.ts';
import { createBusinessCard } from '../support/cardholders.ts';
import { startTestGateway, testGatewayConfig } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';

type TestGateway = Awaited<ReturnType<typeof startTestGateway>>;

const CURRENT = process.env.GATEWAY_BASIC_AUTH_PASSWORD!;
const NEXT = 'rotated-Password-2027-next';
const OTHER = 'some-Other-password-entirely';
const WEBHOOK_USER = process.env.MARQETA_WEBHOOK_USER!;
const WEBHOOK_CURRENT = process.env.MARQETA_WEBHOOK_PASSWORD!;
const WEBHOOK_NEXT = 'rotated-Webhook-password-2027';

async function authorizeWith(gw: TestGateway, password: string): Promise<number> {
  const card = await createBusinessCard(gw.sql);
  const response = await gw.app.inject({
    method: 'POST',
    url: '/api/transactions/authorize',
    headers: { authorization: basicAuth(undefined, password), 'content-type': 'application/json' },
    payload: jitRequest({ ...card, amount: 1 }),
  });
  return response.statusCode;
}

/** An empty notification batch: only the credentials decide between 200 and 401. */
async function notifyWith(gw: TestGateway, password: string): Promise<number> {
  const response = await gw.app.inject({
    method: 'POST',
    url: '/api/webhooks/marqeta',
    headers: { authorization: basicAuth(WEBHOOK_USER, password), 'content-type': 'application/json' },
    payload: { transactions: [] },
  });
  return response.statusCode;
}

describe('during a rotation window (both _NEXT passwords set)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      GATEWAY_BASIC_AUTH_PASSWORD_NEXT: NEXT,
      MARQETA_WEBHOOK_PASSWORD_NEXT: WEBHOOK_NEXT,
    });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('accepts the current password (Marqeta not yet switched)', async () => {
    expect(await authorizeWith(gw, CURRENT)).toBe(200);
  });

  it('accepts the next password (Marqeta switched)', async () => {
    expect(await authorizeWith(gw, NEXT)).toBe(200);
  });

  it('rejects any other password with 401', async () => {
    expect(await authorizeWith(gw, OTHER)).toBe(401);
  });

  it('accepts the current and the next webhook password, and no other', async () => {
    expect(await notifyWith(gw, WEBHOOK_CURRENT)).toBe(200);
    expect(await notifyWith(gw, WEBHOOK_NEXT)).toBe(200);
    expect(await notifyWith(gw, OTHER)).toBe(401);
  });
});

describe('outside a rotation window', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw.close();
  });

  it('accepts only the current password', async () => {
    expect(await authorizeWith(gw, CURRENT)).toBe(200);
    expect(await authorizeWith(gw, NEXT)).toBe(401);
    expect(await notifyWith(gw, WEBHOOK_CURRENT)).toBe(200);
    expect(await notifyWith(gw, WEBHOOK_NEXT)).toBe(401);
  });
});

describe('rotation configuration', () => {
  it('is off unless set, and a next password shorter than 20 characters stops the process', () => {
    expect(testGatewayConfig().basic_auth_password_next).toBeNull();
    expect(testGatewayConfig().webhook_password_next).toBeNull();
    expect(() => testGatewayConfig({ MARQETA_WEBHOOK_PASSWORD_NEXT: 'too-short' })).toThrow(
      /MARQETA_WEBHOOK_PASSWORD_NEXT must be at least 20/,
    );
    expect(testGatewayConfig({ GATEWAY_BASIC_AUTH_PASSWORD_NEXT: NEXT }).basic_auth_password_next).toBe(NEXT);
    expect(() => testGatewayConfig({ GATEWAY_BASIC_AUTH_PASSWORD_NEXT: 'too-short' })).toThrow(ConfigError);
    expect(() => testGatewayConfig({ GATEWAY_BASIC_AUTH_PASSWORD_NEXT: 'too-short' })).toThrow(
      /GATEWAY_BASIC_AUTH_PASSWORD_NEXT must be at least 20/,
    );
  });

  it('the verifier checks the user as well as either password', () => {
    const verify = basicAuthVerifier('marqeta', CURRENT, NEXT);
    expect(verify(basicAuth('marqeta', NEXT))).toBe(true);
    expect(verify(basicAuth('someone-else', NEXT))).toBe(false);
    expect(verify(undefined)).toBe(false);
  });
});
