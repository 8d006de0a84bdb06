// The changes one decision made to the live ledger in Redis, exactly as applied by the Lua
// scripts (their `fx` outbox field). The worker applies the same changes to PostgreSQL or
// MongoDB, so after it drains the durable ledger equals Redis by construction.

import { PERIOD_LETTER, periodOfLetter } from './redis-hash-fields.ts';
import type { Period } from './spend-windows.ts';

export interface SpendEffect {
  readonly period: Period;
  /** The window id the spend was counted in (e.g. 20261125, 2026-W48, 202611, 2026, all). */
  readonly window_id: string;
  readonly delta_minor: bigint;
  readonly delta_count: number;
}

export interface GroupSpendEffect {
  readonly mcc_group: string;
  readonly period: 'day' | 'month';
  readonly window_id: string;
  readonly delta_minor: bigint;
}

export interface LedgerEffects {
  /** Change of the card's active holds. */
  readonly held_delta_minor: bigint;
  /** Change of the card's posted amount (debits negative, credits positive). */
  readonly posted_delta_minor: bigint;
  /** Change of the authorization group's hold (group = the original JIT token). */
  readonly hold_delta_minor: bigint;
  /** New state of the authorization group, when it changed: pending, cleared, reversed, released. */
  readonly hold_state: string | null;
  readonly spend: readonly SpendEffect[];
  readonly group_spend: readonly GroupSpendEffect[];
}

export const NO_EFFECTS: LedgerEffects = Object.freeze({
  held_delta_minor: 0n,
  posted_delta_minor: 0n,
  hold_delta_minor: 0n,
  hold_state: null,
  spend: [],
  group_spend: [],
});

/** Parts of each effect item, its kind included: anything else is a malformed item, never a guess. */
const EFFECT_PARTS: Readonly<Record<string, number>> = {
  held: 2,
  pend: 2,
  hold: 2,
  hold_state: 2,
  spend: 5,
  gspend: 5,
};
const INTEGER = /^-?\d+$/;

/** A signed integer amount or count of an effect item; an empty or partial number is refused. */
function integerOf(text: string, item: string): bigint {
  if (!INTEGER.test(text)) throw new Error(`malformed number in ledger effect "${item}"`);
  return BigInt(text);
}

export function parseLedgerEffects(fx: string | undefined): LedgerEffects {
  if (!fx) return NO_EFFECTS;
  let held = 0n;
  let posted = 0n;
  let hold = 0n;
  let hold_state: string | null = null;
  const spend: SpendEffect[] = [];
  const group_spend: GroupSpendEffect[] = [];
  for (const item of fx.split(';')) {
    const parts = item.split(':');
    const kind = parts[0]!;
    const arity = EFFECT_PARTS[kind];
    if (arity === undefined) throw new Error(`unknown ledger effect "${item}"`);
    if (parts.length !== arity) throw new Error(`malformed ledger effect "${item}"`);
    switch (kind) {
      case 'held':
        held += integerOf(parts[1]!, item);
        break;
      case 'pend':
        posted += integerOf(parts[1]!, item);
        break;
      case 'hold':
        hold += integerOf(parts[1]!, item);
        break;
      case 'hold_state':
        hold_state = parts[1]!;
        break;
      case 'spend': {
        // spend:<p>:<window>:<delta>:<count>; week ids contain no ':' (2026-W48).
        const period = periodOfLetter(parts[1]!);
        if (period === undefined) throw new Error(`unknown spend period in "${item}"`);
        spend.push({
          period,
          window_id: parts[2]!,
          delta_minor: integerOf(parts[3]!, item),
          delta_count: Number(integerOf(parts[4]!, item)),
        });
        break;
      }
      default: {
        // gspend:<group>:<p>:<window>:<delta>; group names contain no ':' (shared/mcc-groups.ts).
        const period = parts[2]!;
        if (period !== PERIOD_LETTER.day && period !== PERIOD_LETTER.month)
          throw new Error(`unknown category period in "${item}"`);
        group_spend.push({
          mcc_group: parts[1]!,
          period: period === PERIOD_LETTER.day ? 'day' : 'month',
          window_id: parts[3]!,
          delta_minor: integerOf(parts[4]!, item),
        });
      }
    }
  }
  return {
    held_delta_minor: held,
    posted_delta_minor: posted,
    hold_delta_minor: hold,
    hold_state,
    spend,
    group_spend,
  };
}

/** JSON-safe form (bigint as decimal strings) for messages. */
export interface LedgerEffectsJson {
  readonly held_delta_minor: string;
  readonly posted_delta_minor: string;
  readonly hold_delta_minor: string;
  readonly hold_state: string | null;
  readonly spend: ReadonlyArray<{
    period: Period;
    window_id: string;
    delta_minor: string;
    delta_count: number;
  }>;
  readonly group_spend: ReadonlyArray<{
    mcc_group: string;
    period: 'day' | 'month';
    window_id: string;
    delta_minor: string;
  }>;
}

export function effectsToJson(effects: LedgerEffects): LedgerEffectsJson {
  return {
    held_delta_minor: effects.held_delta_minor.toString(),
    posted_delta_minor: effects.posted_delta_minor.toString(),
    hold_delta_minor: effects.hold_delta_minor.toString(),
    hold_state: effects.hold_state,
    spend: effects.spend.map((s) => ({ ...s, delta_minor: s.delta_minor.toString() })),
    group_spend: effects.group_spend.map((g) => ({ ...g, delta_minor: g.delta_minor.toString() })),
  };
}

export function effectsFromJson(json: LedgerEffectsJson): LedgerEffects {
  return {
    held_delta_minor: BigInt(json.held_delta_minor),
    posted_delta_minor: BigInt(json.posted_delta_minor),
    hold_delta_minor: BigInt(json.hold_delta_minor),
    hold_state: json.hold_state,
    spend: json.spend.map((s) => ({ ...s, delta_minor: BigInt(s.delta_minor) })),
    group_spend: json.group_spend.map((g) => ({ ...g, delta_minor: BigInt(g.delta_minor) })),
  };
}
