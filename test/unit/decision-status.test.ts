import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DecisionStatus, allStatuses, statusInfo } from '../../shared/decision-status.ts';

const MARQETA_DECLINE_REASONS = new Set([
  'INVALID_AMOUNT',
  'INSUFFICIENT_FUNDS',
  'TRANSACTION_NOT_PERMITTED',
  'SUSPECTED_FRAUD',
  'AMOUNT_LIMIT_EXCEEDED',
  'TRANSACTION_COUNT_LIMIT_EXCEEDED',
  'DUPLICATE_TRANSACTION',
  'INVALID_MERCHANT',
  'INVALID_CARD',
  'NO_CREDIT_ACCOUNT',
  'EXPIRED_CARD',
  'NO_CHECKING_ACCOUNT',
  'NO_SAVINGS_ACCOUNT',
  'STOP_PAYMENT',
  'REVOCATION_AUTHORIZATION_ORDER',
  'REVOCATION_ALL_AUTHORIZATION_ORDER',
  'SOFT_DECLINE_AUTHENTICATION_REQUIRED',
  'SOFT_DECLINE_PIN_REQUIRED',
  'CLOSED_ACCOUNT',
  'CARD_NOT_ACTIVE',
  'CARDHOLDER_NOT_ACTIVE',
]);

describe('decision statuses', () => {
  it("maps every decline to a reason in Marqeta's enum and every status to a memo", () => {
    for (const [code, info] of allStatuses()) {
      expect(info.memo).toMatch(/^[a-z_]+$/);
      if (code === DecisionStatus.APPROVED) expect(info.decline_reason).toBeUndefined();
      else expect(MARQETA_DECLINE_REASONS.has(info.decline_reason!)).toBe(true);
    }
  });

  it("uses the seed's reason codes", () => {
    expect(statusInfo(DecisionStatus.INSUFFICIENT_BALANCE).memo).toBe('insufficient_balance');
    expect(statusInfo(DecisionStatus.LIMIT_DAILY).memo).toBe('limit_exceeded');
    expect(statusInfo(DecisionStatus.MERCHANT_RESTRICTED).memo).toBe('merchant_restricted');
    expect(statusInfo(DecisionStatus.SYSTEM_ERROR).memo).toBe('system_error');
    expect(statusInfo(DecisionStatus.TIMEOUT).memo).toBe('timeout');
  });

  it("keeps the Lua script's status numbers equal to the TypeScript table", () => {
    const lua = readFileSync(new URL('../../gateway/decide/decide-10.lua', import.meta.url), 'utf8');
    const names: Record<string, number> = {};
    for (const match of lua.matchAll(/^local ([A-Z_, ]+) = ([-\d, ]+)$/gm)) {
      const keys = match[1]!.split(',').map((s) => s.trim());
      const values = match[2]!.split(',').map((s) => Number(s.trim()));
      keys.forEach((key, i) => {
        names[key] = values[i]!;
      });
    }
    const periods = /local LIMIT_STATUS = \{d = (\d+), w = (\d+), m = (\d+), y = (\d+), a = (\d+)\}/.exec(
      lua,
    )!;
    ['LIMIT_DAILY', 'LIMIT_WEEKLY', 'LIMIT_MONTHLY', 'LIMIT_YEARLY', 'LIMIT_ALL_TIME'].forEach((name, i) => {
      names[name] = Number(periods[i + 1]);
    });
    for (const [name, code] of Object.entries(DecisionStatus)) {
      if (name in names) expect(names[name], name).toBe(code);
    }
    // Every status the script can return is named there (SYSTEM_ERROR, TIMEOUT and
    // UNSUPPORTED_METHOD come from the gateway, as a forced status or without Redis).
    expect(Object.keys(names).filter((n) => n in DecisionStatus).length).toBe(
      Object.keys(DecisionStatus).length - 3,
    );
  });
});
