// How a batch of personal decisions changes one card document: the ledger effects each event
// carries (what the decision script applied in Redis), applied once per JIT token and revision.
// Pure: the caller reads the document and writes the result under the card's document lock
// (shared/stores/document-lock.ts), so the read-modify-write never races.
//
// FerretDB has no multi-document transactions, so a card's effects and its transaction
// documents are separate writes. Exactly-once comes from:
//   - `applied_tokens`: the card's last APPLIED_TOKENS_MAX effect keys (the JIT token for
//     revision 1, `<token>:void` for revision 2), written in the same update as the amounts
//     (covers a crash between the card update and the transaction document);
//   - the transaction document's `applied_revisions`, written after the card update, for keys
//     old enough to have left the list.
// Revisions are independent: a void persisted before its revision 1 applies its own effects,
// and the late revision 1 still applies its own; every effect is a delta, so the order of
// arrival does not change the result within a window.

import assert from 'node:assert/strict';
import type { LedgerEffects } from '../../shared/ledger-effects.ts';
import type { Period } from '../../shared/spend-windows.ts';

/**
 * Keys kept per card: a redelivery must come before this many newer decisions of the card (older
 * ones are found in their transaction documents). A write applies at most this many.
 */
export const APPLIED_TOKENS_MAX = 512;

export const PERIODS: readonly Period[] = ['day', 'week', 'month', 'year', 'all'];

export interface SpendWindow {
  readonly window: string | null;
  readonly minor: bigint;
  readonly count: number;
}

export interface CategoryWindow {
  readonly window: string;
  readonly minor: bigint;
}

/** Category spend per MCC group and period (`day`, `month`). */
export type CategorySpend = Readonly<Record<string, Readonly<Record<string, CategoryWindow>>>>;

export interface CardLedgerState {
  readonly applied_tokens: readonly string[];
  readonly held_minor: bigint;
  readonly posted_net_minor: bigint;
  readonly spend: Readonly<Record<Period, SpendWindow>>;
  readonly category_spend: CategorySpend;
}

export interface CardEffectInput {
  /** `effectKey(jit_token, revision)`. */
  readonly key: string;
  /** The transaction document says this revision's effects are applied. */
  readonly recorded: boolean;
  readonly effects: LedgerEffects;
}

export interface CardUpdate {
  /** Keys whose effects this update applies (empty: nothing to write). */
  readonly applied: readonly string[];
  readonly state: CardLedgerState;
}

export function effectKey(jit_token: string, revision: number): string {
  return revision === 1 ? jit_token : `${jit_token}:void`;
}

/** Same window: add; a newer window: start from the delta; an older one is history: ignored. */
function addToWindow<W extends { window: string | null; minor: bigint }>(
  current: W,
  window: string,
  fresh: (window: string) => W,
  add: (w: W) => W,
): W {
  if (current.window === window) return add(current);
  if (current.window === null || window > current.window) return add(fresh(window));
  return current;
}

export function cardUpdate(state: CardLedgerState, inputs: readonly CardEffectInput[]): CardUpdate {
  const seen = new Set(state.applied_tokens);
  const applied: string[] = [];
  let held_minor = state.held_minor;
  let posted_net_minor = state.posted_net_minor;
  const spend = { ...state.spend };
  const category: Record<string, Record<string, CategoryWindow>> = {};
  for (const [group, periods] of Object.entries(state.category_spend)) category[group] = { ...periods };

  for (const { key, recorded, effects } of inputs) {
    if (recorded || seen.has(key)) continue;
    seen.add(key);
    applied.push(key);
    held_minor += effects.held_delta_minor;
    posted_net_minor += effects.posted_delta_minor;
    for (const s of effects.spend) {
      spend[s.period] = addToWindow(
        spend[s.period],
        s.window_id,
        (window) => ({ window, minor: 0n, count: 0 }),
        (w) => ({ window: w.window, minor: w.minor + s.delta_minor, count: w.count + s.delta_count }),
      );
    }
    for (const g of effects.group_spend) {
      const periods = category[g.mcc_group] ?? {};
      const current = periods[g.period] ?? { window: null, minor: 0n };
      const next = addToWindow<{ window: string | null; minor: bigint }>(
        current,
        g.window_id,
        (window) => ({ window, minor: 0n }),
        (w) => ({ window: w.window, minor: w.minor + g.delta_minor }),
      );
      if (next.window !== null) periods[g.period] = { window: next.window, minor: next.minor };
      category[g.mcc_group] = periods;
    }
  }

  assert(
    applied.length <= APPLIED_TOKENS_MAX,
    `a write applies at most ${APPLIED_TOKENS_MAX} keys to a card`,
  );
  return {
    applied,
    state: {
      applied_tokens: [...state.applied_tokens, ...applied].slice(-APPLIED_TOKENS_MAX),
      held_minor,
      posted_net_minor,
      spend,
      category_spend: category,
    },
  };
}
