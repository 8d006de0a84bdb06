import { describe, expect, it } from 'vitest';
import { generateKey, hasScope, keyMatches, keySha256, parseKey } from '../../api/auth/api-keys.ts';
import { fieldErrors } from '../../api/http/error-handler.ts';
import { ifMatchVersion } from '../../api/http/etag.ts';
import { UUID_ID, decodeCursor, encodeCursor } from '../../api/http/pagination.ts';
import { NO_CONTROLS, NO_LIMITS } from '../../api/services/card-model.ts';
import { mergeControls, mergeLimits } from '../../api/services/card-service.ts';
import { CARD_ACTIONS, CARD_STATUSES, nextStatus } from '../../api/services/card-status.ts';

describe('card state machine', () => {
  it('allows exactly suspend (active), activate (suspended) and close (anything but closed)', () => {
    const allowed = CARD_STATUSES.flatMap((from) =>
      CARD_ACTIONS.map((action) => [from, action, nextStatus(from, action)] as const).filter(
        ([, , to]) => to !== null,
      ),
    );
    expect(allowed).toEqual([
      ['pending', 'close', 'closed'],
      ['active', 'suspend', 'suspended'],
      ['active', 'close', 'closed'],
      ['suspended', 'activate', 'active'],
      ['suspended', 'close', 'closed'],
    ]);
  });
});

describe('API keys', () => {
  it('generates keys that parse, and matches only the exact key', () => {
    const key = generateKey();
    expect(parseKey(key)?.prefix).toMatch(/^[a-z0-9]{16}$/);
    expect(keyMatches(key, keySha256(key))).toBe(true);
    expect(keyMatches(`${key}x`, keySha256(key))).toBe(false);
    expect(keyMatches(key, null)).toBe(false);
    expect(parseKey('afc_UPPER_secretsecretsecretsecretsecretsecret')).toBeNull();
  });

  it('ranks scopes: admin covers write and read, write covers read', () => {
    expect(hasScope(['admin'], 'read')).toBe(true);
    expect(hasScope(['write'], 'admin')).toBe(false);
    expect(hasScope(['read'], 'write')).toBe(false);
  });
});

describe('limits and controls changes', () => {
  it('keeps absent limits, removes null ones, and refuses amounts above the maximum', () => {
    const start = mergeLimits(NO_LIMITS, { daily_limit_minor: '999999999999999', monthly_limit_minor: 100 });
    expect(start.daily_limit_minor).toBe(999999999999999n);
    const next = mergeLimits(start, { monthly_limit_minor: null });
    expect(next).toMatchObject({ daily_limit_minor: 999999999999999n, monthly_limit_minor: null });
    expect(() => mergeLimits(NO_LIMITS, { daily_limit_minor: '1000000000000001' })).toThrow();
  });

  it('refuses a velocity rule without both count and window', () => {
    expect(() => mergeLimits(NO_LIMITS, { velocity_count_max: 3 })).toThrow(/together/);
  });

  it('replaces only the lists given', () => {
    expect(mergeControls({ ...NO_CONTROLS, mcc_block: ['7995'] }, { mcc_allow: ['5411'] })).toMatchObject({
      mcc_block: ['7995'],
      mcc_allow: ['5411'],
    });
  });
});

describe('HTTP helpers', () => {
  it('round-trips a cursor and rejects a forged one', () => {
    const key = { at: '2026-11-25 13:00:59.123456+00', id: '0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9' };
    expect(decodeCursor(encodeCursor(key), UUID_ID)).toEqual(key);
    expect(() => decodeCursor(Buffer.from('["x","y"]').toString('base64url'), UUID_ID)).toThrow();
    expect(decodeCursor(undefined, UUID_ID)).toBeUndefined();
  });

  it('reads If-Match versions', () => {
    expect(ifMatchVersion('"4"')).toBe(4);
    expect(ifMatchVersion('W/"4"')).toBe(4);
    expect(ifMatchVersion('*')).toBeUndefined();
    expect(ifMatchVersion(undefined)).toBeUndefined();
    expect(() => ifMatchVersion('4')).toThrow();
  });

  it('turns validation issues into one entry per field', () => {
    expect(
      fieldErrors('body', [
        {
          instancePath: '',
          keyword: 'required',
          params: { requiredProperties: ['kind', 'user_id'] },
          message: 'must have required properties',
        },
        { instancePath: '/x', keyword: 'boolean', params: {}, message: 'schema is false' },
        { instancePath: '', keyword: 'additionalProperties', params: { additionalProperties: ['x'] } },
        { instancePath: '/currency_code', keyword: 'pattern', params: {}, message: 'must match pattern' },
      ]),
    ).toEqual([
      { path: 'body/kind', message: 'must have required properties' },
      { path: 'body/user_id', message: 'must have required properties' },
      { path: 'body/x', message: 'is not a known property' },
      { path: 'body/currency_code', message: 'must match pattern' },
    ]);
  });
});
