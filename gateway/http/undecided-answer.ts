// What a JIT request the gateway cannot decide is answered: the program setting UNDECIDED_ANSWER.
// Undecided means Redis did not answer (`system_error`), the decision passed its budget
// (`timeout`), a cache fill failed, or a replay of such a token; in every case the decider has
// already queued the void that leaves nothing held in Redis for the token.
//   decline  402 `system_error`/`timeout` (TRANSACTION_NOT_PERMITTED): Marqeta declines.
//   standin  503 GW_ERR_UNDECIDED: an application error, so Marqeta's Commando Mode decides by
//            the program's stand-in rules and notifies us (booked by routes/marqeta-webhooks.ts).
// Overload shedding answers 503 GW_ERR_UNAVAILABLE in both modes (shared/http/overload.ts): it
// is counted here as `shed`. Readiness and /metrics report the mode and the counts, and the
// stand-in approvals booked from Marqeta's notifications with the spend they added beyond limits.

import { DecisionStatus, type DecisionStatusCode } from '../../shared/decision-status.ts';
import { ApiError } from '../../shared/errors.ts';
import type { gatewayMetrics } from '../../shared/metrics.ts';

export type UndecidedMode = 'decline' | 'standin';
export type UndecidedCause = 'redis_error' | 'timeout' | 'fill_error' | 'replay' | 'shed';

type Metrics = Pick<
  ReturnType<typeof gatewayMetrics>,
  'undecided' | 'undecided_mode' | 'standin_bookings' | 'standin_over_limit'
>;

const ANSWERS = ['decline', 'standin', 'shed'] as const;

export interface UndecidedReport {
  readonly mode: UndecidedMode;
  /** Undecided JIT requests since start, by what they were answered. */
  readonly answered: Readonly<Record<(typeof ANSWERS)[number], number>>;
}

export function isUndecided(status_code: DecisionStatusCode): boolean {
  return status_code === DecisionStatus.SYSTEM_ERROR || status_code === DecisionStatus.TIMEOUT;
}

export class UndecidedAnswers {
  readonly mode: UndecidedMode;
  readonly #metrics: Metrics;

  constructor(mode: UndecidedMode, metrics: Metrics) {
    this.mode = mode;
    this.#metrics = metrics;
    metrics.undecided_mode.set({ mode: 'decline' }, mode === 'decline' ? 1 : 0);
    metrics.undecided_mode.set({ mode: 'standin' }, mode === 'standin' ? 1 : 0);
  }

  /**
   * Called for an undecided outcome: counts it, and in `standin` mode throws the 503 the error
   * handler answers. In `decline` mode it returns and the route answers its 402.
   */
  answer(cause: UndecidedCause): void {
    this.#metrics.undecided.inc({ cause, answer: this.mode });
    if (this.mode === 'standin') throw new ApiError('GW_ERR_UNDECIDED');
  }

  /** A JIT request shed under overload (503 GW_ERR_UNAVAILABLE in either mode). */
  shed(): void {
    this.#metrics.undecided.inc({ cause: 'shed', answer: 'shed' });
  }

  /** A stand-in approval booked for the first time, and the part of it beyond the card's room. */
  standinBooked(over_limit_minor: bigint, currency_code: string): void {
    this.#metrics.standin_bookings.inc();
    if (over_limit_minor > 0n)
      this.#metrics.standin_over_limit.inc({ currency: currency_code }, Number(over_limit_minor));
  }
}

/** The mode and the counts by answer, for the readiness body. */
export async function undecidedReport(mode: UndecidedMode, metrics: Metrics): Promise<UndecidedReport> {
  const answered = { decline: 0, standin: 0, shed: 0 };
  for (const { labels, value } of (await metrics.undecided.get()).values) {
    const answer = labels.answer as keyof typeof answered;
    if (answer in answered) answered[answer] += value;
  }
  return { mode, answered };
}
