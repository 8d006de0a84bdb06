// The request mix: which class of request comes next, for which card, with which body, and
// what answer the contract expects. Seeded, so a run is reproducible. Keeps two small rings
// of answered requests: replays (duplicates) resend one of them verbatim, and the lifecycle
// classes (incremental, reversal, clearing) name an approved authorization as their original.

import {
  BLOCKED_MCC,
  ordinaryCard,
  PERSONAL_EVERY,
  SPECIAL_POOL_SIZE,
  specialCard,
  type SimCard,
} from './cards.ts';
import { seededRandom, weightedPicker, zipfSampler } from './random.ts';
import { compileAllTemplates, renderTemplate, type Template, type TemplateName } from './templates.ts';

export const REQUEST_CLASSES = [
  'authorization',
  'duplicate',
  'over_limit',
  'blocked_mcc',
  'unknown_card',
  'inactive_card',
  'incremental',
  'reversal',
  'clearing',
  'refund',
  'balance_inquiry',
] as const;
export type RequestClass = (typeof REQUEST_CLASSES)[number];

/** Shares of each class (normalized). Mostly authorizations, as in a card program's gateway traffic. */
export const DEFAULT_MIX: Readonly<Record<RequestClass, number>> = Object.freeze({
  authorization: 80,
  duplicate: 4,
  over_limit: 2,
  blocked_mcc: 2,
  unknown_card: 1,
  inactive_card: 1,
  incremental: 3,
  reversal: 2,
  clearing: 4,
  // Refunds of approved purchases; the fault-injection suite (chaos/) sends them.
  refund: 0,
  balance_inquiry: 1,
});

/** What the contract check demands of the answer, beyond the shape every answer must have. */
export type Expectation =
  | { readonly kind: 'approve' }
  | { readonly kind: 'decline'; readonly decline_reason: string; readonly memo: string }
  /** Declined `unsupported_method` until the lifecycle work lands; any valid answer after. */
  | { readonly kind: 'lifecycle' }
  | { readonly kind: 'replay'; readonly first: AnsweredRequest };

export interface PlannedRequest {
  readonly cls: RequestClass;
  readonly body: string;
  readonly jit_token: string;
  readonly method: string;
  readonly card: SimCard;
  /** The requested amount, USD minor units. */
  readonly amount_minor: bigint;
  readonly expect: Expectation;
}

export interface AnsweredRequest {
  readonly request: PlannedRequest;
  readonly status_code: number;
  readonly answer: unknown;
}

const ORDINARY_MCCS = ['5411', '5812', '5541', '5999', '4121', '5311', '7011', '5732', '5814', '4511'];
const MERCHANTS = 1_000;
const RING_SIZE = 1_024;

const LIFECYCLE_TEMPLATE: Readonly<Partial<Record<RequestClass, TemplateName>>> = {
  incremental: 'incremental',
  reversal: 'reversal',
  clearing: 'clearing',
  refund: 'refund',
  balance_inquiry: 'balance-inquiry',
};

export interface TrafficOptions {
  readonly run_id: string;
  /** The ordinary cards this phase draws from: indexes [offset, offset + count). */
  readonly card_offset: number;
  readonly card_count: number;
  readonly mix?: Readonly<Record<RequestClass, number>>;
  readonly seed: number;
  /** Zipf exponent of card popularity (1.0: the classic long tail). */
  readonly zipf_exponent?: number;
  /** Distinguishes phases of one run in JIT tokens, so their tokens never collide. */
  readonly phase_tag: string;
  /** 'business': only business cards (and unknown ones, which the business ledger records). */
  readonly card_kind?: 'any' | 'business';
}

/** Ordinary cards come in groups: PERSONAL_EVERY - 1 business, then one personal. */
const GROUP_SIZE = PERSONAL_EVERY;
const BUSINESS_PER_GROUP = PERSONAL_EVERY - 1;

function centsText(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

export class TrafficGenerator {
  readonly #options: TrafficOptions;
  readonly #templates = compileAllTemplates();
  readonly #random: () => number;
  readonly #pick_class: () => RequestClass;
  readonly #pick_rank: () => number;
  readonly #answered: AnsweredRequest[] = [];
  readonly #approved: AnsweredRequest[] = [];
  #sequence = 0;

  constructor(options: TrafficOptions) {
    this.#options = options;
    this.#random = seededRandom(options.seed);
    this.#pick_class = weightedPicker(options.mix ?? DEFAULT_MIX, this.#random);
    const business_only = options.card_kind === 'business';
    const ranked = business_only
      ? Math.floor((options.card_count * BUSINESS_PER_GROUP) / GROUP_SIZE)
      : options.card_count;
    this.#pick_rank = zipfSampler(ranked, options.zipf_exponent ?? 1.0, this.#random);
  }

  next(): PlannedRequest {
    const cls = this.#pick_class();
    switch (cls) {
      case 'duplicate': {
        const first = this.#sample(this.#answered);
        if (first) return { ...first.request, cls, expect: { kind: 'replay', first } };
        return this.#authorization(this.#ordinary(), 'authorization');
      }
      case 'over_limit':
        return this.#mustDecline(
          cls,
          this.#special('over_limit'),
          50_000 + this.#int(40_000),
          'AMOUNT_LIMIT_EXCEEDED',
          'limit_exceeded',
        );
      case 'blocked_mcc':
        return this.#mustDecline(
          cls,
          this.#special('blocked_mcc'),
          this.#amountCents(),
          'INVALID_MERCHANT',
          'merchant_restricted',
          BLOCKED_MCC,
        );
      case 'unknown_card':
        return this.#mustDecline(
          cls,
          this.#special('unknown'),
          this.#amountCents(),
          'INVALID_CARD',
          'card_not_found',
        );
      case 'inactive_card':
        return this.#mustDecline(
          cls,
          this.#special('inactive'),
          this.#amountCents(),
          'CARD_NOT_ACTIVE',
          'card_inactive',
        );
      case 'incremental':
      case 'reversal':
      case 'clearing':
      case 'refund':
      case 'balance_inquiry':
        return this.#lifecycle(cls);
      default:
        return this.#authorization(this.#ordinary(), 'authorization');
    }
  }

  /** Feeds an answer back: it may be replayed later, and an approval may get lifecycle messages. */
  answered(answer: AnsweredRequest): void {
    // Only our decisions are replayed and followed up; a stand-in answer (503) decided nothing.
    if (answer.request.expect.kind === 'replay' || (answer.status_code !== 200 && answer.status_code !== 402))
      return;
    this.#remember(this.#answered, answer);
    if (answer.status_code === 200 && answer.request.cls === 'authorization')
      this.#remember(this.#approved, answer);
  }

  #remember(ring: AnsweredRequest[], answer: AnsweredRequest): void {
    if (ring.length < RING_SIZE) ring.push(answer);
    else ring[this.#int(RING_SIZE)] = answer;
  }

  #sample<T>(ring: readonly T[]): T | undefined {
    return ring.length === 0 ? undefined : ring[this.#int(ring.length)];
  }

  #int(below: number): number {
    return Math.floor(this.#random() * below);
  }

  /** Purchase amounts 1.00 .. 200.00, skewed small like card spend. */
  #amountCents(): number {
    return 100 + Math.floor(this.#random() ** 2 * 19_900);
  }

  /** The card offset is a multiple of GROUP_SIZE (every card set is), so rank k maps to a business index. */
  #ordinary(): SimCard {
    const rank = this.#pick_rank();
    const index =
      this.#options.card_kind === 'business'
        ? GROUP_SIZE * Math.floor(rank / BUSINESS_PER_GROUP) + (rank % BUSINESS_PER_GROUP)
        : rank;
    return ordinaryCard(this.#options.run_id, this.#options.card_offset + index);
  }

  /** Special pools alternate business (even index) and personal (odd). */
  #special(pool: 'over_limit' | 'blocked_mcc' | 'inactive' | 'unknown'): SimCard {
    const index = this.#int(SPECIAL_POOL_SIZE);
    const business = this.#options.card_kind === 'business' && pool !== 'unknown';
    return specialCard(this.#options.run_id, pool, business ? index - (index % 2) : index);
  }

  #render(
    template: Template,
    cls: RequestClass,
    card: SimCard,
    cents: number,
    expect: Expectation,
    mcc?: string,
    original_jit = '',
  ): PlannedRequest {
    const sequence = this.#sequence++;
    const tag = `${this.#options.run_id}${this.#options.phase_tag}`;
    const jit_token = `${tag}j${sequence}`;
    const body = renderTemplate(template, {
      txn: `${tag}t${sequence}`,
      jit: jit_token,
      original_jit,
      user: card.user_token,
      card: card.card_token,
      amount: centsText(cents),
      mcc: mcc ?? ORDINARY_MCCS[this.#int(ORDINARY_MCCS.length)]!,
      mid: `m${String(this.#int(MERCHANTS)).padStart(12, '0')}`,
      time: new Date().toISOString(),
    });
    return { cls, body, jit_token, method: template.method, card, amount_minor: BigInt(cents), expect };
  }

  #authorization(card: SimCard, cls: RequestClass): PlannedRequest {
    return this.#render(this.#templates.authorization, cls, card, this.#amountCents(), { kind: 'approve' });
  }

  #mustDecline(
    cls: RequestClass,
    card: SimCard,
    cents: number,
    decline_reason: string,
    memo: string,
    mcc?: string,
  ) {
    return this.#render(
      this.#templates.authorization,
      cls,
      card,
      cents,
      { kind: 'decline', decline_reason, memo },
      mcc,
    );
  }

  #lifecycle(cls: RequestClass): PlannedRequest {
    const template = this.#templates[LIFECYCLE_TEMPLATE[cls]!];
    if (cls === 'balance_inquiry')
      return this.#render(template, cls, this.#ordinary(), 0, { kind: 'lifecycle' });
    const original = this.#sample(this.#approved);
    if (original === undefined) return this.#authorization(this.#ordinary(), 'authorization');
    const cents = cls === 'incremental' ? 100 + this.#int(5_000) : Number(original.request.amount_minor);
    return this.#render(
      template,
      cls,
      original.request.card,
      cents,
      { kind: 'lifecycle' },
      undefined,
      original.request.jit_token,
    );
  }
}
