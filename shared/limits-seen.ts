// The limits and spend a purchase's amount rules saw, as the decision script writes them into the
// outbox entry (decide-10.lua `note_limits_seen`, field `ls`): the worker stores the text as it
// came, the management API and the console show it parsed. One definition of the format, here.
//   txn:<limit>              per-transaction limit
//   <p>:<spent>/<limit>      spend in the current window of period p (d, w, m, y, a) and its limit
//   g<p>:<spent>/<limit>     the request's category (MCC group) spend and limit (p: d or m)
//   vel:<approvals>/<max>    approvals in the velocity window and the maximum
//   bal:<available>          a personal card's available balance
// Amounts in minor units. Everything before this decision: its own amount is not in the spend.

import { periodOfLetter } from './redis-hash-fields.ts';
import type { Period } from './spend-windows.ts';

/** The longest text a decision records (5 periods, 2 category periods, and the rest). */
export const LIMITS_SEEN_CHARS_MAX = 512;

export type LimitSeen =
  | { readonly rule: 'per_transaction'; readonly limit_minor: string }
  | {
      readonly rule: 'period';
      readonly period: Period;
      readonly spent_minor: string;
      readonly limit_minor: string;
    }
  | {
      readonly rule: 'category';
      readonly period: 'day' | 'month';
      readonly spent_minor: string;
      readonly limit_minor: string;
    }
  | { readonly rule: 'velocity'; readonly approvals: number; readonly approvals_max: number }
  | { readonly rule: 'balance'; readonly available_minor: string };

const MINOR = /^-?\d{1,19}$/;

function pair(value: string): [string, string] | null {
  const [spent, limit, ...rest] = value.split('/');
  if (rest.length > 0 || spent === undefined || limit === undefined) return null;
  return MINOR.test(spent) && MINOR.test(limit) ? [spent, limit] : null;
}

/** The parts of the text; a part this version does not know (or cannot read) is left out. */
export function parseLimitsSeen(text: string | null | undefined): LimitSeen[] {
  if (!text) return [];
  const seen: LimitSeen[] = [];
  for (const part of text.slice(0, LIMITS_SEEN_CHARS_MAX).split(';')) {
    const colon = part.indexOf(':');
    const name = part.slice(0, colon);
    const value = part.slice(colon + 1);
    if (colon < 1) continue;
    if (name === 'txn' && MINOR.test(value)) {
      seen.push({ rule: 'per_transaction', limit_minor: value });
    } else if (name === 'bal' && MINOR.test(value)) {
      seen.push({ rule: 'balance', available_minor: value });
    } else if (name === 'vel') {
      const counts = pair(value);
      if (counts)
        seen.push({ rule: 'velocity', approvals: Number(counts[0]), approvals_max: Number(counts[1]) });
    } else {
      const amounts = pair(value);
      const category = name.startsWith('g');
      const period = periodOfLetter(category ? name.slice(1) : name);
      if (amounts === null || period === undefined) continue;
      if (!category) {
        seen.push({ rule: 'period', period, spent_minor: amounts[0], limit_minor: amounts[1] });
      } else if (period === 'day' || period === 'month') {
        seen.push({ rule: 'category', period, spent_minor: amounts[0], limit_minor: amounts[1] });
      }
    }
  }
  return seen;
}
