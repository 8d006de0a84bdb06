// The Lua scripts and the TypeScript that reads or writes the same Redis hashes (cache loader,
// reconciliation, the management API's balance) spell every field the same way: the names are
// defined once in shared/redis-hash-fields.ts, and this test reads the scripts' source.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  GROUP_FIELD_PREFIX,
  GROUP_PERIODS,
  LEDGER_PERIOD_SUFFIX,
  LIMITS_FIELDS_READ,
  ledgerField,
  limitsField,
  PERIOD_LETTER,
  PERIODS,
  parseGroupWindowField,
  periodOfLetter,
} from '../../shared/redis-hash-fields.ts';

const DECIDE_DIR = new URL('../../gateway/decide/', import.meta.url);

/** A script's source by its name, whatever its number of keys (`decide-<n>.lua`). */
function script(name: string): string {
  const file = readdirSync(DECIDE_DIR).find((f) => new RegExp(`^${name}-\\d+\\.lua$`).test(f));
  if (file === undefined) throw new Error(`no ${name}-<n>.lua in gateway/decide`);
  return readFileSync(new URL(file, DECIDE_DIR), 'utf8');
}

/** The quoted strings of a Lua table literal assigned to `local <name> = {...}`. */
function luaList(source: string, name: string): string[] {
  const match = new RegExp(`local ${name} = \\{([^}]*)\\}`).exec(source);
  if (match === null) throw new Error(`no table ${name}`);
  return [...match[1]!.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
}

/** `text` matched literally in a regular expression. */
const literal = (text: string) => text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&');
const quoted = (text: string) => `'${text}'`;
/** `p .. 'w'`: a per-period field, the period letter in a variable. */
const periodField = (suffix: string) => `p .. '${suffix}'`;
/** `'g:' .. group .. ':' .. p .. 'w'`: a per-category field, group and period letter in variables. */
const groupFieldPattern = (suffix: string, letter = '\\w+(?:\\[\\d+\\])?') =>
  `'${literal(GROUP_FIELD_PREFIX)}' \\.\\. \\w+ \\.\\. ':' \\.\\. ${letter} \\.\\. '${suffix}'`;

const decide = script('decide');
const void_ = script('void');
const letters = (periods: readonly string[]) =>
  periods.map((p) => PERIOD_LETTER[p as keyof typeof PERIOD_LETTER]);

describe('Redis hash field names: one definition for the scripts and the TypeScript', () => {
  it('the scripts list the periods with the same letters, in the same order', () => {
    expect(luaList(decide, 'PERIODS')).toEqual(letters(PERIODS));
    expect(luaList(decide, 'GROUP_PERIODS')).toEqual(letters(GROUP_PERIODS));
    expect(luaList(void_, 'periods')).toEqual(letters(PERIODS));
    for (const period of PERIODS) expect(periodOfLetter(PERIOD_LETTER[period])).toBe(period);
    expect(periodOfLetter('x')).toBeUndefined();
  });

  it('the decision script reads the limits fields the cache loader writes, in its order', () => {
    expect(luaList(decide, 'LIMIT_FIELDS')).toEqual(LIMITS_FIELDS_READ);
    for (const period of GROUP_PERIODS) {
      const placeholder = '\u0001';
      const lua = quoted(limitsField.groupAmount(placeholder, period)).replace(
        placeholder,
        "' .. group .. '",
      );
      expect(decide).toContain(`LIMIT_FIELDS[#LIMIT_FIELDS + 1] = ${lua}`);
    }
  });

  it('the decision script reads the ledger fields the cache loader creates', () => {
    expect(luaList(decide, 'LEDGER_FIELDS')).toEqual([ledgerField.held, ledgerField.pending]);
    for (const suffix of Object.values(LEDGER_PERIOD_SUFFIX))
      expect(decide).toContain(`LEDGER_FIELDS[#LEDGER_FIELDS + 1] = ${periodField(suffix)}`);
    for (const suffix of [LEDGER_PERIOD_SUFFIX.window, LEDGER_PERIOD_SUFFIX.spent])
      expect(decide).toMatch(
        new RegExp(`LEDGER_FIELDS\\[#LEDGER_FIELDS \\+ 1\\] = ${groupFieldPattern(suffix)}`),
      );
  });

  it('every ledger field the decision script writes is one defined in shared/', () => {
    const written = [...decide.matchAll(/set_ledger\(([^,]+),/g)].map((m) => m[1]!.trim());
    const known = [
      ...[ledgerField.held, ledgerField.pending, ledgerField.changed_ms].map(
        (name) => `^${literal(quoted(name))}$`,
      ),
      ...Object.values(LEDGER_PERIOD_SUFFIX).map((suffix) => `^${literal(periodField(suffix))}$`),
      ...[LEDGER_PERIOD_SUFFIX.window, LEDGER_PERIOD_SUFFIX.spent].map(
        (suffix) => `^${groupFieldPattern(suffix)}$`,
      ),
    ].map((pattern) => new RegExp(pattern));
    // The function's own parameter (`set_ledger(field, value)`) is its definition, not a write.
    const writes = written.filter((expression) => expression !== 'field');
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.filter((expression) => !known.some((pattern) => pattern.test(expression)))).toEqual([]);
    for (const name of [ledgerField.held, ledgerField.pending, ledgerField.changed_ms])
      expect(writes).toContain(quoted(name));
  });

  it('the void script undoes the same ledger fields', () => {
    const incremented = [...void_.matchAll(/'HINCRBY', ledger_key, '([^']+)'/g)].map((m) => m[1]);
    expect(incremented.sort()).toEqual([ledgerField.held, ledgerField.pending].sort());
    const per_period = Object.values(LEDGER_PERIOD_SUFFIX).map(periodField).join(', ');
    expect(void_).toContain(`rcall('HMGET', ledger_key, ${per_period})`);
    for (const suffix of [LEDGER_PERIOD_SUFFIX.window, LEDGER_PERIOD_SUFFIX.spent])
      expect(void_).toMatch(new RegExp(groupFieldPattern(suffix, 'pair\\[1\\]')));
  });

  it('the TypeScript builders spell the fields as the scripts do', () => {
    expect(ledgerField.window('week')).toBe('ww');
    expect(ledgerField.spent('all')).toBe('as');
    expect(ledgerField.count('day')).toBe('dn');
    expect(ledgerField.groupWindow('dining', 'month')).toBe('g:dining:mw');
    expect(ledgerField.groupSpent('dining', 'day')).toBe('g:dining:ds');
    expect(limitsField.amount('year')).toBe('y_amt');
    expect(limitsField.groupAmount('dining', 'day')).toBe('g:dining:d');
    expect(parseGroupWindowField('g:fuel:stations:dw')).toEqual({ group: 'fuel:stations', period: 'day' });
    expect(parseGroupWindowField(ledgerField.groupWindow('dining', 'month'))).toEqual({
      group: 'dining',
      period: 'month',
    });
    expect(parseGroupWindowField('g:dining:ds')).toBeNull();
    expect(parseGroupWindowField('dw')).toBeNull();
  });
});
