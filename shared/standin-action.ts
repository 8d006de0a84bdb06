// The ledger action the gateway records for a Marqeta stand-in (Commando) approval it booked,
// in the notification event (shared/messages.ts `ledger_actions`), which the worker stores and
// reconciliation reads back: `book_standin:<booked minor>:<beyond limits minor>`. The second
// number is the part of the booking beyond the card's amount limits or balance at the time.
// Events stored before that number existed read as 0 beyond.

export const BOOK_STANDIN = 'book_standin';

export interface StandinAction {
  readonly booked_minor: bigint;
  readonly over_limit_minor: bigint;
}

export function standinAction(booked_minor: bigint, over_limit_minor: bigint): string {
  return `${BOOK_STANDIN}:${booked_minor}:${over_limit_minor}`;
}

/** The booking of a `book_standin` action; null for any other action or a malformed one. */
export function parseStandinAction(action: string): StandinAction | null {
  const match = /^book_standin:(\d+)(?::(\d+))?$/.exec(action);
  if (match === null) return null;
  return { booked_minor: BigInt(match[1]!), over_limit_minor: BigInt(match[2] ?? '0') };
}
