// What the simulated Marqeta sent and what it was answered, per JIT token: the request source
// the load driver draws from (the bench simulator's traffic generator, seeded) and the answer
// listener. A token sent without any HTTP answer (the gateway was killed mid-request, or the
// client gave up at Marqeta's 3 s, or the load shedding answered 503) is "unanswered": Marqeta
// would have declined it itself (or stood in). So is the stand-in answer (503 GW_ERR_UNDECIDED).

import { UNDECIDED_OUTCOME } from '../bench/simulator/contract.ts';
import type { AnswerListener, RequestSource } from '../bench/simulator/load.ts';
import type { AnsweredRequest, PlannedRequest, TrafficGenerator } from '../bench/simulator/traffic.ts';

export interface Answer {
  readonly status_code: number;
  /** 'approved' or the decline memo. */
  readonly outcome: string;
}

export interface JournalEntry {
  readonly request: PlannedRequest;
  /** The first answer to the token; later ones are replays. */
  first: Answer | null;
  /** The last answer Marqeta got for the token (a replay's, when replayed). */
  last: Answer | null;
  replays: number;
  /** Answered 503 by the load shedding (never decided): no answer for Marqeta. */
  shed: boolean;
  /** Answered the stand-in 503 (UNDECIDED_ANSWER=standin): Marqeta's Commando decided it. */
  undecided: boolean;
}

/** A replay answered otherwise than its token's first answer. */
export interface ReplayMismatch {
  readonly entry: JournalEntry;
  readonly first: Answer;
  readonly replay: Answer;
}

export class Journal implements RequestSource {
  readonly entries = new Map<string, JournalEntry>();
  readonly replay_mismatches: ReplayMismatch[] = [];
  readonly #traffic: TrafficGenerator;

  constructor(traffic: TrafficGenerator) {
    this.#traffic = traffic;
  }

  next(): PlannedRequest {
    const request = this.#traffic.next();
    if (request.expect.kind !== 'replay') {
      this.entries.set(request.jit_token, {
        request,
        first: null,
        last: null,
        replays: 0,
        shed: false,
        undecided: false,
      });
    }
    return request;
  }

  answered(answer: AnsweredRequest): void {
    this.#traffic.answered(answer);
  }

  readonly listener: AnswerListener = (request, status_code, outcome) => {
    const entry = this.entries.get(request.jit_token);
    if (entry === undefined) return;
    if (status_code === 503) {
      if (request.expect.kind !== 'replay')
        entry[outcome === UNDECIDED_OUTCOME ? 'undecided' : 'shed'] = true;
      return;
    }
    const answer = { status_code, outcome };
    if (request.expect.kind === 'replay') {
      entry.replays++;
      if (
        entry.first !== null &&
        (entry.first.status_code !== status_code || entry.first.outcome !== outcome)
      )
        this.replay_mismatches.push({ entry, first: entry.first, replay: answer });
    } else {
      entry.first = answer;
    }
    entry.last = answer;
  };

  get answered_count(): number {
    let n = 0;
    for (const entry of this.entries.values()) if (entry.first !== null) n++;
    return n;
  }
}
