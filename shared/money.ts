// Money is integer minor units (bigint), always next to its ISO 4217 currency.
// Marqeta sends decimal amounts as JSON numbers (42.75); we parse their shortest decimal
// text exactly and never do float arithmetic on a price.

/** Largest amount we accept, in minor units: keeps every value exact as a Lua/JSON double. */
export const AMOUNT_MINOR_MAX = 10n ** 15n;

export class MoneyError extends Error {
  readonly code = 'MONEY_ERR_INVALID';
}

const exponent_cache = new Map<string, number>();

/** Number of minor-unit digits of an ISO 4217 currency (USD 2, JPY 0, KWD 3), from ICU. */
export function currencyExponent(currency_code: string): number {
  const cached = exponent_cache.get(currency_code);
  if (cached !== undefined) return cached;
  if (!/^[A-Z]{3}$/.test(currency_code)) throw new MoneyError(`unknown currency "${currency_code}"`);
  let digits: number;
  try {
    digits = new Intl.NumberFormat('en-US', { style: 'currency', currency: currency_code }).resolvedOptions()
      .maximumFractionDigits as number;
  } catch {
    throw new MoneyError(`unknown currency "${currency_code}"`);
  }
  exponent_cache.set(currency_code, digits);
  return digits;
}

const DECIMAL = /^(\d{1,16})(?:\.(\d{1,16}))?$/;

/**
 * Parses a non-negative decimal amount (a JSON number or string) into minor units, exactly.
 * Rejects more fraction digits than the currency has (other than trailing zeros), exponents,
 * negatives and anything above AMOUNT_MINOR_MAX.
 */
export function toMinor(amount: number | string, currency_code: string): bigint {
  const exponent = currencyExponent(currency_code);
  // String(number) gives the shortest text that round-trips: 42.75 -> "42.75", never 42.7499...
  const text = typeof amount === 'number' ? String(amount) : amount;
  const match = DECIMAL.exec(text);
  if (match === null) throw new MoneyError(`amount "${text}" is not a plain non-negative decimal`);
  const whole = match[1]!;
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (fraction.length > exponent) {
    throw new MoneyError(`amount "${text}" has more than ${exponent} decimals for ${currency_code}`);
  }
  const minor = BigInt(whole + fraction.padEnd(exponent, '0'));
  if (minor > AMOUNT_MINOR_MAX) throw new MoneyError(`amount "${text}" is above the maximum`);
  return minor;
}

/** Formats minor units as the decimal number Marqeta expects (42.75), exact for amounts we accept. */
export function toMajorNumber(amount_minor: bigint, currency_code: string): number {
  return Number(toMajorString(amount_minor, currency_code));
}

export function toMajorString(amount_minor: bigint, currency_code: string): string {
  const exponent = currencyExponent(currency_code);
  const negative = amount_minor < 0n;
  const digits = (negative ? -amount_minor : amount_minor).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  return `${negative ? '-' : ''}${whole}${exponent > 0 ? `.${fraction}` : ''}`;
}
