// No approval beyond a limit or a balance, judged from the answers alone: per card, approved
// authorizations minus every reversal sent is a lower bound of what the card holds or spent,
// whatever the clearings did, and may not exceed its daily limit (business) or its balance plus
// every refund sent (personal). Redis's own counters are no judge here: a clearing posts what
// the network settled without any check (after a reversal it counts spend again), so they may
// legitimately pass a limit.

import { BALANCE_MINOR, DAILY_LIMIT_MINOR, type SeededCard } from '../cards.ts';
import type { Journal } from '../journal.ts';
import type { Findings } from './findings.ts';

interface Tally {
  purchases_minor: bigint;
  reversals_minor: bigint;
  refunds_minor: bigint;
}

function tallyAnswers(journal: Journal): Map<string, Tally> {
  const tallies = new Map<string, Tally>();
  for (const entry of journal.entries.values()) {
    const { cls, card, amount_minor } = entry.request;
    const tally = tallies.get(card.card_token) ?? {
      purchases_minor: 0n,
      reversals_minor: 0n,
      refunds_minor: 0n,
    };
    tallies.set(card.card_token, tally);
    // Incrementals are left out: a clearing of the original amount takes their spend back.
    if (cls === 'authorization' && entry.first?.outcome === 'approved') tally.purchases_minor += amount_minor;
    // Reversals and refunds are booked whatever the answer (even none): every one sent counts.
    else if (cls === 'reversal') tally.reversals_minor += amount_minor;
    else if (cls === 'refund') tally.refunds_minor += amount_minor;
  }
  return tallies;
}

export function checkLimits(cards: readonly SeededCard[], journal: Journal, findings: Findings): void {
  const tallies = tallyAnswers(journal);
  for (const [card_token, t] of tallies) {
    const kind = cards.find((c) => c.card.card_token === card_token)?.kind;
    const net = t.purchases_minor - t.reversals_minor;
    if (kind === 'business' && net > DAILY_LIMIT_MINOR) {
      findings.fail(
        'answers approved beyond the daily limit',
        `${card_token}: net ${net} > ${DAILY_LIMIT_MINOR}`,
      );
    }
    if (kind === 'personal' && net - t.refunds_minor > BALANCE_MINOR) {
      findings.fail(
        'answers approved beyond the balance',
        `${card_token}: net ${net - t.refunds_minor} > ${BALANCE_MINOR}`,
      );
    }
  }
}
