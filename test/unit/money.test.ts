import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AMOUNT_MINOR_MAX,
  MoneyError,
  currencyExponent,
  toMajorNumber,
  toMajorString,
  toMinor,
} from '../../shared/money.ts';

describe('money', () => {
  it('parses Marqeta decimal numbers exactly into minor units', () => {
    expect(toMinor(42.75, 'USD')).toBe(4275n);
    expect(toMinor(0.3, 'USD')).toBe(30n);
    expect(toMinor(1.1, 'USD')).toBe(110n);
    expect(toMinor('19.90', 'EUR')).toBe(1990n);
    expect(toMinor(1500, 'JPY')).toBe(1500n);
    expect(toMinor('1.234', 'KWD')).toBe(1234n);
    expect(toMinor(10, 'USD')).toBe(1000n);
  });

  it('refuses more decimals than the currency has, negatives, exponents and unknown currencies', () => {
    expect(() => toMinor(1.001, 'USD')).toThrow(MoneyError);
    expect(() => toMinor(1.5, 'JPY')).toThrow(MoneyError);
    expect(() => toMinor('-1.00', 'USD')).toThrow(MoneyError);
    expect(() => toMinor(1e21, 'USD')).toThrow(MoneyError);
    expect(() => toMinor('1e3', 'USD')).toThrow(MoneyError);
    expect(() => toMinor(1, 'XYZ1')).toThrow(MoneyError);
    expect(() => toMinor('99999999999999.99', 'USD')).toThrow(MoneyError);
  });

  it('uses ISO 4217 exponents', () => {
    expect(currencyExponent('USD')).toBe(2);
    expect(currencyExponent('JPY')).toBe(0);
    expect(currencyExponent('BHD')).toBe(3);
  });

  it('round-trips every amount up to the maximum: minor -> major number -> minor', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: AMOUNT_MINOR_MAX }),
        fc.constantFrom('USD', 'JPY', 'KWD'),
        (minor, currency) => {
          expect(toMinor(toMajorNumber(minor, currency), currency)).toBe(minor);
          expect(toMinor(toMajorString(minor, currency), currency)).toBe(minor);
        },
      ),
    );
  });

  it('formats minor units as decimal text', () => {
    expect(toMajorString(4275n, 'USD')).toBe('42.75');
    expect(toMajorString(5n, 'USD')).toBe('0.05');
    expect(toMajorString(-5n, 'USD')).toBe('-0.05');
    expect(toMajorString(1500n, 'JPY')).toBe('1500');
  });
});
