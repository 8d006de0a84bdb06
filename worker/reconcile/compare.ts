// Live (Redis) against durable (ledger) values of one card: every field the ledger defines,
// a missing live field counting as 0 (the script treats it so).

import type { DurableLedger } from './durable-ledger.ts';

export interface Difference {
  readonly card_token: string;
  readonly field: string;
  /** null: the value is missing on that side (e.g. a card in neither store). */
  readonly redis: string | null;
  readonly ledger: string | null;
}

function normalized(value: string | undefined): string {
  return value === undefined || value === '' ? '0' : BigInt(value).toString();
}

export function compareCard(
  card_token: string,
  live: Readonly<Record<string, string>>,
  durable: DurableLedger | undefined,
): Difference[] {
  if (durable === undefined) return [{ card_token, field: 'card', redis: 'ledger hash', ledger: null }];
  const differences: Difference[] = [];
  for (const [field, expected] of Object.entries(durable.values)) {
    const actual = normalized(live[field]);
    if (actual !== expected) differences.push({ card_token, field, redis: actual, ledger: expected });
  }
  return differences;
}
