// Cards across both stores: issue (pending + command), read, list, status changes, limits
// and controls. Every write commits first, then invalidates the cached parts it changed.

import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import { ApiError } from '../../shared/errors.ts';
import { AMOUNT_MINOR_MAX, currencyExponent } from '../../shared/money.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { Principal } from '../auth/api-keys.ts';
import type { CardCommandPublisher } from '../broker/card-commands.ts';
import type { CacheInvalidator, CachedPart } from '../cache/invalidator.ts';
import { canSee, requireProgramKey, requireVisible } from '../http/authenticate.ts';
import { OBJECT_ID, UUID_ID, decodeCursor, pageOf, type Page } from '../http/pagination.ts';
import { BusinessCardStore } from '../repos/business-cards.ts';
import { getBusinessUser } from '../repos/business-users.ts';
import { PersonalCardStore } from '../repos/personal-cards.ts';
import { getPersonalUser } from '../repos/personal-users.ts';
import {
  NO_CONTROLS,
  NO_LIMITS,
  type CardControls,
  type CardKind,
  type CardLimits,
  type CardRecord,
  type CardState,
  type CardStore,
} from './card-model.ts';
import { nextStatus, type CardAction, type CardStatus } from './card-status.ts';

type AmountIn = string | number | null;

export interface LimitsInput {
  readonly per_transaction_limit_minor?: AmountIn;
  readonly daily_limit_minor?: AmountIn;
  readonly monthly_limit_minor?: AmountIn;
  readonly weekly_limit_minor?: AmountIn;
  readonly yearly_limit_minor?: AmountIn;
  readonly lifetime_limit_minor?: AmountIn;
  readonly velocity_count_max?: number | null;
  readonly velocity_window_s?: number | null;
}

export type ControlsInput = Partial<Record<keyof CardControls, string[]>>;

export interface CreateCardInput {
  readonly kind: CardKind;
  readonly user_id: string;
  readonly currency_code: string;
  readonly card_token?: string;
  readonly card_product_token?: string;
  readonly limits?: LimitsInput;
  readonly controls?: ControlsInput;
}

export interface ListCardsInput {
  readonly kind?: CardKind;
  readonly user_id?: string;
  readonly company_id?: string;
  readonly status?: CardStatus;
  readonly limit?: number;
  readonly cursor?: string;
}

const AMOUNT_FIELDS = [
  'per_transaction_limit_minor',
  'daily_limit_minor',
  'monthly_limit_minor',
  'weekly_limit_minor',
  'yearly_limit_minor',
  'lifetime_limit_minor',
] as const;

function amountOf(field: string, value: AmountIn): bigint | null {
  if (value === null) return null;
  const minor = BigInt(value);
  if (minor > AMOUNT_MINOR_MAX) {
    throw new ApiError('API_ERR_BAD_REQUEST', undefined, [
      { path: `body/limits/${field}`, message: 'is above the maximum' },
    ]);
  }
  return minor;
}

/** Applies a limits change: absent fields keep their value, null removes the limit. */
export function mergeLimits(current: CardLimits, change: LimitsInput | undefined): CardLimits {
  if (change === undefined) return current;
  const next: Record<string, bigint | number | null> = { ...current };
  for (const field of AMOUNT_FIELDS) {
    const value = change[field];
    if (value !== undefined) next[field] = amountOf(field, value);
  }
  if (change.velocity_count_max !== undefined) next.velocity_count_max = change.velocity_count_max;
  if (change.velocity_window_s !== undefined) next.velocity_window_s = change.velocity_window_s;
  const merged = next as unknown as CardLimits;
  // A velocity rule needs both its count and its window.
  if ((merged.velocity_count_max === null) !== (merged.velocity_window_s === null)) {
    throw new ApiError('API_ERR_BAD_REQUEST', 'velocity_count_max and velocity_window_s go together.', [
      { path: 'body/limits/velocity_window_s', message: 'must be set together with velocity_count_max' },
    ]);
  }
  return merged;
}

export function mergeControls(current: CardControls, change: ControlsInput | undefined): CardControls {
  return change === undefined ? current : { ...current, ...change };
}

/** The card's user_id names no cardholder of this kind (or one of another tenant). */
function notACardholder(kind: CardKind): ApiError {
  return new ApiError('API_ERR_BAD_REQUEST', undefined, [
    { path: 'body/user_id', message: `is not a ${kind} cardholder` },
  ]);
}

export function kindOfId(id: string): CardKind {
  return OBJECT_ID.test(id) ? 'personal' : 'business';
}

export interface CardServiceDeps {
  readonly sql: PgSql;
  readonly db: Db;
  readonly invalidator: CacheInvalidator;
  readonly commands: CardCommandPublisher;
}

export class CardService {
  readonly #deps: CardServiceDeps;
  readonly #stores: Readonly<Record<CardKind, CardStore>>;

  constructor(deps: CardServiceDeps) {
    this.#deps = deps;
    this.#stores = {
      business: new BusinessCardStore(deps.sql),
      personal: new PersonalCardStore(deps.sql, deps.db),
    };
  }

  store(kind: CardKind): CardStore {
    return this.#stores[kind];
  }

  /** Checks the cardholder and currency, inserts the card. No access check: callers do it. */
  async create(input: CreateCardInput, status: CardStatus): Promise<CardRecord> {
    try {
      currencyExponent(input.currency_code);
    } catch {
      throw new ApiError('API_ERR_BAD_REQUEST', undefined, [
        { path: 'body/currency_code', message: 'is not a known currency' },
      ]);
    }
    await this.#activeCardholder(input.kind, input.user_id);
    return this.store(input.kind).insert({
      user_id: input.user_id,
      // Marqeta tokens are at most 36 characters.
      card_token: input.card_token ?? `card_${randomUUID().replaceAll('-', '').slice(0, 31)}`,
      status,
      currency_code: input.currency_code,
      card_product_token: input.card_product_token ?? null,
      limits: mergeLimits(NO_LIMITS, input.limits),
      controls: mergeControls(NO_CONTROLS, input.controls),
    });
  }

  /** Issues a card: saved `pending`, then the worker creates it at Marqeta and activates it. */
  async issue(principal: Principal, input: CreateCardInput): Promise<CardRecord> {
    if (input.kind === 'personal') requireProgramKey(principal);
    if (input.kind === 'business') {
      const user = UUID_ID.test(input.user_id) ? await getBusinessUser(this.#deps.sql, input.user_id) : null;
      // Another tenant's cardholder is refused as an unknown one is.
      if (user !== null && !canSee(principal, user.company_id)) throw notACardholder('business');
    }
    const card = await this.create(input, 'pending');
    await this.#publishIssue(card);
    return card;
  }

  /** Publishes the issue command again for a card still pending (after a failed publish). */
  async reissue(principal: Principal, id: string): Promise<CardRecord> {
    const card = await this.get(principal, id);
    if (card.status !== 'pending')
      throw new ApiError('API_ERR_INVALID_TRANSITION', `The card is ${card.status}, not pending.`);
    await this.#publishIssue(card);
    return card;
  }

  async get(principal: Principal, id: string): Promise<CardRecord> {
    const card = await this.store(kindOfId(id)).get(id);
    if (card === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such card.');
    this.#authorize(principal, card);
    return card;
  }

  /** A card by its exact Marqeta token in one store; null when none, or none the key may see. */
  async findByToken(principal: Principal, kind: CardKind, card_token: string): Promise<CardRecord | null> {
    const card = await this.store(kind).findByToken(card_token);
    if (card === null) return null;
    try {
      this.#authorize(principal, card);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'API_ERR_NOT_FOUND') return null;
      throw error;
    }
    return card;
  }

  async list(principal: Principal, query: ListCardsInput): Promise<Page<CardRecord>> {
    const kind: CardKind = query.user_id !== undefined ? kindOfId(query.user_id) : (query.kind ?? 'business');
    if (kind === 'personal') requireProgramKey(principal);
    if (query.company_id !== undefined) requireVisible(principal, query.company_id, 'No such company.');
    if (kind === 'business' && query.user_id !== undefined) {
      const user = await getBusinessUser(this.#deps.sql, query.user_id);
      if (user === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such user.');
      requireVisible(principal, user.company_id, 'No such user.');
    }
    const company_id = kind === 'business' ? (principal.company_id ?? query.company_id) : undefined;
    const limit = query.limit ?? 50;
    const after = decodeCursor(query.cursor, kind === 'business' ? UUID_ID : OBJECT_ID);
    const rows = await this.store(kind).list(
      { company_id, user_id: query.user_id, status: query.status },
      after,
      limit,
    );
    return pageOf(
      rows,
      limit,
      (card) => ({ at: card.cursor_at, id: card.id }),
      (card) => card,
    );
  }

  async changeStatus(
    principal: Principal,
    id: string,
    action: CardAction,
    if_match: number | undefined,
  ): Promise<CardRecord> {
    return this.#update(principal, id, if_match, ['card'], (card) => {
      const status = nextStatus(card.status, action);
      if (status === null)
        throw new ApiError('API_ERR_INVALID_TRANSITION', `A ${card.status} card cannot ${action}.`);
      return { ...card, status };
    });
  }

  async patch(
    principal: Principal,
    id: string,
    change: { limits?: LimitsInput; controls?: ControlsInput },
    if_match: number | undefined,
  ): Promise<CardRecord> {
    return this.#update(principal, id, if_match, ['limits'], (card) => {
      if (card.status === 'closed')
        throw new ApiError('API_ERR_INVALID_TRANSITION', 'A closed card cannot change.');
      return {
        status: card.status,
        limits: mergeLimits(card.limits, change.limits),
        controls: mergeControls(card.controls, change.controls),
      };
    });
  }

  async #update(
    principal: Principal,
    id: string,
    if_match: number | undefined,
    parts: readonly CachedPart[],
    next: (card: CardRecord) => CardState,
  ): Promise<CardRecord> {
    const card = await this.get(principal, id);
    if (if_match !== undefined && if_match !== card.version) throw new ApiError('API_ERR_VERSION_CONFLICT');
    const updated = await this.store(card.kind).update(id, card.version, next(card));
    if (updated === null) throw new ApiError('API_ERR_VERSION_CONFLICT');
    await this.#deps.invalidator.invalidate([card], parts);
    return updated;
  }

  #authorize(principal: Principal, card: CardRecord): void {
    requireVisible(principal, card.kind === 'personal' ? null : card.company_id, 'No such card.');
  }

  async #activeCardholder(kind: CardKind, user_id: string): Promise<void> {
    if (kind === 'business') {
      const user = UUID_ID.test(user_id) ? await getBusinessUser(this.#deps.sql, user_id) : null;
      if (user === null) throw notACardholder(kind);
      if (user.status !== 'active')
        throw new ApiError('API_ERR_INVALID_TRANSITION', `The cardholder is ${user.status}.`);
      return;
    }
    const user = await getPersonalUser(this.#deps.db, user_id);
    if (user === null) throw notACardholder(kind);
    if (user.status !== 'active' || user.kyc_status !== 'verified') {
      throw new ApiError('API_ERR_INVALID_TRANSITION', 'The cardholder must be active and KYC-verified.');
    }
  }

  async #publishIssue(card: CardRecord): Promise<void> {
    await this.#deps.commands.publishIssue({
      v: 1,
      kind: card.kind,
      card_id: card.id,
      card_token: card.card_token,
      user_token: card.user_token,
      ...(card.card_product_token === null ? {} : { card_product_token: card.card_product_token }),
      requested_at_ms: Date.now(),
    });
  }
}
