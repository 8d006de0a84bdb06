// Field names of the two Redis hashes of a card that more than one process reads or writes:
// - the live ledger (decide-10.lua KEYS[5], void-5.lua KEYS[1]): written by the scripts, created by
//   the gateway's cache loader, compared by the worker's reconciliation, read by the management
//   API's balance;
// - the limits (decide-10.lua KEYS[3]): written by the gateway's cache loader, read by the script.
// Defined once here; test/unit/redis-hash-fields.test.ts reads the scripts' source and checks that
// they spell every name the same way.

import type { Period } from './spend-windows.ts';

/** One letter per spend period, as the hashes (and the ledger effects) spell it. */
export const PERIOD_LETTER = Object.freeze({
  day: 'd',
  week: 'w',
  month: 'm',
  year: 'y',
  all: 'a',
} as const satisfies Record<Period, string>);

/** Every period, in the order the scripts list them. */
export const PERIODS: readonly Period[] = Object.freeze(['day', 'week', 'month', 'year', 'all']);

/** Category (MCC group) limits and spend are kept per day and per month only. */
export const GROUP_PERIODS = Object.freeze(['day', 'month'] as const);
export type GroupPeriod = (typeof GROUP_PERIODS)[number];

const PERIOD_OF_LETTER: ReadonlyMap<string, Period> = new Map(
  PERIODS.map((period) => [PERIOD_LETTER[period], period]),
);

/** The period a letter stands for; undefined for any other text. */
export function periodOfLetter(letter: string): Period | undefined {
  return PERIOD_OF_LETTER.get(letter);
}

/** Prefix of the per-category fields: `g:<group>:...`. */
export const GROUP_FIELD_PREFIX = 'g:';
/** Suffixes of the ledger's per-period fields: the window id, the spend in it, the count in it. */
export const LEDGER_PERIOD_SUFFIX = Object.freeze({ window: 'w', spent: 's', count: 'n' } as const);
/** Suffix of the limits' per-period amount fields. */
export const LIMITS_AMOUNT_SUFFIX = '_amt';

const groupField = (group: string, period: GroupPeriod, suffix: string) =>
  `${GROUP_FIELD_PREFIX}${group}:${PERIOD_LETTER[period]}${suffix}`;

/** The live ledger hash of a card. Amounts in minor units, decimal text. */
export const ledgerField = Object.freeze({
  /** Active holds. */
  held: 'held',
  /** Postings not yet persisted (personal cards), signed. */
  pending: 'pend',
  /** Last change, unix ms (the cache preload picks recently active cards by it). */
  changed_ms: 't',
  /** The window id the period's spend and count are counted in. */
  window: (period: Period) => `${PERIOD_LETTER[period]}${LEDGER_PERIOD_SUFFIX.window}`,
  spent: (period: Period) => `${PERIOD_LETTER[period]}${LEDGER_PERIOD_SUFFIX.spent}`,
  count: (period: Period) => `${PERIOD_LETTER[period]}${LEDGER_PERIOD_SUFFIX.count}`,
  groupWindow: (group: string, period: GroupPeriod) => groupField(group, period, LEDGER_PERIOD_SUFFIX.window),
  groupSpent: (group: string, period: GroupPeriod) => groupField(group, period, LEDGER_PERIOD_SUFFIX.spent),
});

const GROUP_WINDOW_FIELD = new RegExp(
  `^${GROUP_FIELD_PREFIX}(.+):([${GROUP_PERIODS.map((p) => PERIOD_LETTER[p]).join('')}])${LEDGER_PERIOD_SUFFIX.window}$`,
);

/** The category window a ledger field names (`g:<group>:<p>w`), or null for any other field. */
export function parseGroupWindowField(field: string): { group: string; period: GroupPeriod } | null {
  const match = GROUP_WINDOW_FIELD.exec(field);
  if (match === null) return null;
  return { group: match[1]!, period: match[2] === PERIOD_LETTER.day ? 'day' : 'month' };
}

/** The limits hash of a card. Amounts in minor units ("" = no limit); lists as ",a,b," ("" = none). */
export const limitsField = Object.freeze({
  /** Format version of the hash. */
  version: 'v',
  per_transaction: 'per_txn',
  amount: (period: Period) => `${PERIOD_LETTER[period]}${LIMITS_AMOUNT_SUFFIX}`,
  velocity_count_max: 'vel_max',
  velocity_window_s: 'vel_win_s',
  mcc_allow: 'mcc_allow',
  mcc_block: 'mcc_block',
  merchant_allow: 'mid_allow',
  merchant_block: 'mid_block',
  country_allow: 'cc_allow',
  country_block: 'cc_block',
  /** Unix ms after which a read should refresh the hash ahead of its expiry. */
  refresh_at_ms: 'rf',
  groupAmount: (group: string, period: GroupPeriod) => groupField(group, period, ''),
});

/** The limits fields the decision script reads for every decision, in its order (LIMIT_FIELDS). */
export const LIMITS_FIELDS_READ: readonly string[] = Object.freeze([
  limitsField.version,
  limitsField.per_transaction,
  ...PERIODS.map(limitsField.amount),
  limitsField.velocity_count_max,
  limitsField.velocity_window_s,
  limitsField.mcc_allow,
  limitsField.mcc_block,
  limitsField.merchant_allow,
  limitsField.merchant_block,
  limitsField.country_allow,
  limitsField.country_block,
  limitsField.refresh_at_ms,
]);
