// In-memory Marqeta objects for the fake server: users, cards, card transitions and
// transactions, shaped like Marqeta's JSON (field names from its Core API reference).
// Creates are idempotent by client-chosen token, as on Marqeta: the same token with the
// same body returns the stored object; with a different body it is a conflict.

import { randomBytes, randomInt } from 'node:crypto';

export type Json = Record<string, unknown>;

export const CARD_STATES = ['UNACTIVATED', 'ACTIVE', 'SUSPENDED', 'TERMINATED'] as const;
export type CardState = (typeof CARD_STATES)[number];

/** Limits on what the fake keeps, so a long demo cannot grow it without bound. */
export const STORE_MAX_OBJECTS = 100_000;

export class FakeError extends Error {
  readonly status: number;
  readonly error_code: string;

  constructor(status: number, error_code: string, message: string) {
    super(message);
    this.status = status;
    this.error_code = error_code;
  }
}

/** JSON with sorted keys: two bodies are "the same" when their canonical forms are equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as Json)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Json)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

interface Stored {
  readonly object: Json;
  readonly request: string;
}

export interface CreateResult {
  readonly object: Json;
  /** True when the token existed with the same body (answered 200 instead of 201). */
  readonly replayed: boolean;
}

function nowIso(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function newToken(): string {
  return randomBytes(16).toString('hex');
}

function text(body: Json, field: string, required: boolean): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (required) throw new FakeError(400, '400001', `${field} is required`);
    return undefined;
  }
  if (typeof value !== 'string' || value.length === 0 || value.length > 36) {
    throw new FakeError(400, '400002', `${field} must be a string of 1-36 characters`);
  }
  return value;
}

export class FakeMarqetaStore {
  readonly #users = new Map<string, Stored>();
  readonly #cards = new Map<string, Stored>();
  readonly #transitions = new Map<string, Stored>();
  readonly #transactions = new Map<string, Json>();
  /** Real Marqeta may answer 409 even for an identical body; tests switch this on. */
  strict_duplicates = false;

  reset(): void {
    this.#users.clear();
    this.#cards.clear();
    this.#transitions.clear();
    this.#transactions.clear();
    this.strict_duplicates = false;
  }

  #create(map: Map<string, Stored>, body: Json, build: (token: string) => Json): CreateResult {
    const token = text(body, 'token', false) ?? newToken();
    const request = canonicalJson({ ...body, token });
    const existing = map.get(token);
    if (existing) {
      if (existing.request === request && !this.strict_duplicates)
        return { object: existing.object, replayed: true };
      throw new FakeError(409, '409001', 'Token already associated with a different payload');
    }
    if (map.size >= STORE_MAX_OBJECTS) throw new FakeError(507, '507001', 'Fake store is full; reset it');
    const object = build(token);
    map.set(token, { object, request });
    return { object, replayed: false };
  }

  createUser(body: Json): CreateResult {
    const first_name = text(body, 'first_name', false);
    const last_name = text(body, 'last_name', false);
    const email = body.email;
    if (email !== undefined && (typeof email !== 'string' || !email.includes('@'))) {
      throw new FakeError(400, '400002', 'email must be an email address');
    }
    return this.#create(this.#users, body, (token) => {
      const now = nowIso();
      return {
        token,
        active: body.active !== false,
        ...(first_name ? { first_name } : {}),
        ...(last_name ? { last_name } : {}),
        ...(email ? { email } : {}),
        metadata: (body.metadata as Json | undefined) ?? {},
        uses_parent_account: false,
        status: body.active === false ? 'UNVERIFIED' : 'ACTIVE',
        created_time: now,
        last_modified_time: now,
      };
    });
  }

  getUser(token: string): Json {
    const found = this.#users.get(token);
    if (!found) throw new FakeError(404, '404001', 'User not found');
    return found.object;
  }

  createCard(body: Json): CreateResult {
    const user_token = text(body, 'user_token', true)!;
    const card_product_token = text(body, 'card_product_token', true)!;
    if (!this.#users.has(user_token)) throw new FakeError(400, '400003', 'User not found');
    return this.#create(this.#cards, body, (token) => {
      const last_four = String(randomInt(0, 10_000)).padStart(4, '0');
      const expiry = new Date();
      expiry.setUTCFullYear(expiry.getUTCFullYear() + 4);
      const now = nowIso();
      return {
        token,
        user_token,
        card_product_token,
        last_four,
        // Never a full PAN: Marqeta masks it unless show_pan=true is asked for.
        pan: `411111______${last_four}`,
        expiration: `${String(expiry.getUTCMonth() + 1).padStart(2, '0')}${String(expiry.getUTCFullYear()).slice(2)}`,
        expiration_time: expiry.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        barcode: randomBytes(8).toString('hex'),
        pin_is_set: false,
        state: 'UNACTIVATED' satisfies CardState,
        state_reason: 'New card',
        fulfillment_status: 'ISSUED',
        instrument_type: 'VIRTUAL_PAN',
        expedite: false,
        metadata: (body.metadata as Json | undefined) ?? {},
        created_time: now,
        last_modified_time: now,
      };
    });
  }

  getCard(token: string): Json {
    const found = this.#cards.get(token);
    if (!found) throw new FakeError(404, '404002', 'Card not found');
    return found.object;
  }

  createTransition(body: Json): CreateResult {
    const card_token = text(body, 'card_token', true)!;
    const state = text(body, 'state', true)! as CardState;
    const channel = text(body, 'channel', true)!;
    const reason_code = text(body, 'reason_code', false) ?? '00';
    if (!CARD_STATES.includes(state))
      throw new FakeError(400, '400004', `state must be one of ${CARD_STATES.join(', ')}`);
    const card = this.#cards.get(card_token);
    if (!card) throw new FakeError(400, '400005', 'Card not found');
    const previous = this.#transitions.get(text(body, 'token', false) ?? '');
    // A terminated card stays terminated; a replayed transition is not a new transition.
    if (!previous && card.object.state === 'TERMINATED') {
      throw new FakeError(400, '400006', 'Card is terminated; its state cannot change');
    }
    return this.#create(this.#transitions, body, (token) => {
      const now = nowIso();
      card.object.state = state;
      card.object.state_reason = typeof body.reason === 'string' ? body.reason : 'Changed by API';
      card.object.last_modified_time = now;
      return {
        token,
        card_token,
        user_token: card.object.user_token,
        state,
        reason_code,
        ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
        channel,
        fulfillment_status: card.object.fulfillment_status,
        type: `state.${state.toLowerCase()}`,
        created_time: now,
      };
    });
  }

  getTransition(token: string): Json {
    const found = this.#transitions.get(token);
    if (!found) throw new FakeError(404, '404004', 'Card transition not found');
    return found.object;
  }

  transitionsOf(card_token: string): Json[] {
    return [...this.#transitions.values()].map((t) => t.object).filter((t) => t.card_token === card_token);
  }

  /** Seeds a transaction (Marqeta creates them from network traffic; the fake is told). */
  putTransaction(body: Json): Json {
    const token = text(body, 'token', false) ?? newToken();
    if (!this.#transactions.has(token) && this.#transactions.size >= STORE_MAX_OBJECTS) {
      throw new FakeError(507, '507001', 'Fake store is full; reset it');
    }
    const transaction = {
      type: 'authorization',
      state: 'PENDING',
      currency_code: 'USD',
      created_time: nowIso(),
      ...body,
      token,
    };
    this.#transactions.set(token, transaction);
    return transaction;
  }

  getTransaction(token: string): Json {
    const found = this.#transactions.get(token);
    if (!found) throw new FakeError(404, '404003', 'Transaction not found');
    return found;
  }
}
