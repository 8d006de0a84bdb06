// Answers that differ from what a strict reading of the contract expects, and why each is harmless:
// one list for the bench and the chaos suite, so both judge the same run the same way. Anything
// not named here is a violation.

/** Declines the gateway gives when it cannot decide in time or at all (never an approval). */
export const FAIL_SAFE_MEMOS: ReadonlySet<string> = new Set(['timeout', 'system_error']);

/**
 * Messages that report what the network already did: booked whatever we answer, so a fail-safe
 * decline (timeout, system_error) of one is not undone (gateway/decide/void-5.lua).
 */
export const BOOKED_CLASSES: ReadonlySet<string> = new Set(['reversal', 'clearing', 'refund']);

/** Moves no money: an approval recorded behind a fail-safe answer holds nothing. */
export const NO_MONEY_CLASSES: ReadonlySet<string> = new Set(['balance_inquiry']);

/** The outcome counted for a request shed by the overload protection (503 GW_ERR_UNAVAILABLE). */
export const SHED_OUTCOME = 'shed';
export const SHED_EXPLANATION =
  'shed with 503 by the overload protection (no decision; Marqeta stands in or declines)';

/**
 * Why a replay's different answer is harmless, or null when it is not. Redis unreachable
 * (system_error): nothing could be recorded or read. A replay over the budget answers timeout,
 * a fail-safe decline. A first call that timed out but whose decline was recorded (the void
 * leaves a decline as it is) replays that decline: a decline both times. A balance inquiry
 * moves no money.
 */
export function replayExplanation(cls: string, first: string, replay: string): string | null {
  if (cls === 'balance_inquiry') return 'replayed balance inquiry answered differently (moves no money)';
  if (replay === 'system_error' || first === 'system_error')
    return 'replay around a system_error (Redis unreachable)';
  if (replay === 'timeout') return 'replay over the decision budget answered timeout (fail-safe decline)';
  if (replay === SHED_OUTCOME || first === SHED_OUTCOME) return 'replay or first call shed (no decision)';
  if (first === 'timeout' && replay !== 'approved')
    return 'first call timed out, replay gave the decline recorded for it (a decline both times)';
  if (BOOKED_CLASSES.has(cls) && first === 'timeout')
    return 'reversal, clearing or refund answered timeout, booked anyway: its replay reflects the booking';
  return null;
}

/**
 * Why a ledger row approved behind a declined answer is harmless, or null when it is not: what
 * reports the network's doing is booked behind a fail-safe decline, and a balance inquiry moves
 * no money.
 */
export function bookingExplanation(cls: string, answered: string): string | null {
  if (!FAIL_SAFE_MEMOS.has(answered)) return null;
  if (BOOKED_CLASSES.has(cls)) return `${cls} answered ${answered}, booked as the network reported it`;
  if (NO_MONEY_CLASSES.has(cls)) return `${cls} answered ${answered}, recorded (moves no money)`;
  return null;
}

/**
 * Why an answered decision missing from the ledger is harmless, or null when it is not: a
 * fail-safe decline answered before anything reached Redis (a cache fill past the budget, Redis
 * unreachable) recorded nothing and held nothing.
 */
export function unpersistedExplanation(answered: string): string | null {
  return FAIL_SAFE_MEMOS.has(answered)
    ? `answered ${answered} before anything was recorded (nothing held)`
    : null;
}
