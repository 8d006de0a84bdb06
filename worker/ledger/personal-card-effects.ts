// How a batch of personal decisions changes one card document (held amount, day and month
// spend windows, applied tokens), computed from the document as read. Pure: the caller
// writes the result with a compare-and-set on `ledger_seq`, so nothing here races.
//
// FerretDB has no multi-document transactions, so a card's effects and its transaction
// documents are separate writes. Exactly-once per JIT token comes from:
//   - `applied_tokens`: the card's last APPLIED_TOKENS_MAX tokens, written in the same update
//     as the amounts (covers a crash between the card update and the transaction document);
//   - the transaction document (`recorded_revision`, written after the card update), looked
//     up for voids, whose revision 1 may be old enough to have left the list.
// Revision 2 (void after a gateway timeout) takes the hold and spend back only if revision 1
// was applied; otherwise it marks revision 1 applied so a late revision 1 adds nothing.

/** Tokens kept per card: a redelivery must come before this many newer decisions of the card. */
export const APPLIED_TOKENS_MAX = 512;

export interface CardLedgerState {
  readonly applied_tokens: readonly string[];
  readonly spend_day_window: string | null;
  readonly spend_month_window: string | null;
}

export interface CardEffectInput {
  readonly jit_token: string;
  readonly revision: number;
  readonly approved: boolean;
  /** Revision 1: approved amount; revision 2: released amount. */
  readonly amount_minor: bigint;
  readonly day_id: string;
  readonly month_id: string;
  /** Revision of this token's transaction document, 0 when there is none yet. */
  readonly recorded_revision: number;
}

/** A window's change: add to the stored window, or start a newer one with this amount. */
export type WindowChange =
  | { readonly mode: 'inc'; readonly delta_minor: bigint }
  | { readonly mode: 'set'; readonly window: string; readonly spent_minor: bigint };

export interface CardUpdate {
  /** False when every effect was already applied: nothing to write. */
  readonly changed: boolean;
  readonly held_delta_minor: bigint;
  readonly day: WindowChange;
  readonly month: WindowChange;
  readonly applied_tokens: readonly string[];
}

class WindowTally {
  window: string | null;
  started = false;
  value_minor = 0n;

  constructor(window: string | null) {
    this.window = window;
  }

  add(window: string, amount_minor: bigint): void {
    if (this.window === window) {
      this.value_minor += amount_minor;
    } else if (this.window === null || window > this.window) {
      this.window = window;
      this.started = true;
      this.value_minor = amount_minor;
    }
    // An older window than the card's is history: its spend no longer limits anything.
  }

  takeBack(window: string, amount_minor: bigint): void {
    if (this.window === window) this.value_minor -= amount_minor;
  }

  change(): WindowChange {
    return this.started
      ? { mode: 'set', window: this.window!, spent_minor: this.value_minor }
      : { mode: 'inc', delta_minor: this.value_minor };
  }
}

export function voidToken(jit_token: string): string {
  return `${jit_token}:void`;
}

export function cardUpdate(state: CardLedgerState, effects: readonly CardEffectInput[]): CardUpdate {
  const applied = new Set(state.applied_tokens);
  const pushed: string[] = [];
  const mark = (token: string) => {
    applied.add(token);
    pushed.push(token);
  };
  const day = new WindowTally(state.spend_day_window);
  const month = new WindowTally(state.spend_month_window);
  let held_delta_minor = 0n;

  for (const effect of effects) {
    const { jit_token, amount_minor } = effect;
    if (effect.revision === 1) {
      if (applied.has(jit_token) || effect.recorded_revision >= 1) continue;
      mark(jit_token);
      if (!effect.approved) continue;
      held_delta_minor += amount_minor;
      day.add(effect.day_id, amount_minor);
      month.add(effect.month_id, amount_minor);
      continue;
    }
    const void_token = voidToken(jit_token);
    if (applied.has(void_token) || effect.recorded_revision >= effect.revision) continue;
    const first_applied = applied.has(jit_token) || effect.recorded_revision === 1;
    mark(void_token);
    if (!applied.has(jit_token)) mark(jit_token);
    if (!first_applied) continue;
    held_delta_minor -= amount_minor;
    day.takeBack(effect.day_id, amount_minor);
    month.takeBack(effect.month_id, amount_minor);
  }

  return {
    changed: pushed.length > 0,
    held_delta_minor,
    day: day.change(),
    month: month.change(),
    applied_tokens: [...state.applied_tokens, ...pushed].slice(-APPLIED_TOKENS_MAX),
  };
}
