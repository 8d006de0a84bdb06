// Posted balance of personal cards in the gateway cache: versioned write (balance-set-2.lua)
// and the live held amount for balance reads.

import type { Redis } from 'ioredis';
import { ledgerField } from '../../shared/redis-hash-fields.ts';
import { CACHE_TTL_S, decisionKeys, type KeyLayout } from '../../shared/redis-keys.ts';
import { loadScript, type ScriptCall } from '../../shared/stores/redis-scripts.ts';
import type { CardCacheRef } from './invalidator.ts';

export class BalanceCache {
  readonly #redis: Redis;
  readonly #layout: KeyLayout;
  readonly #set: ScriptCall;

  constructor(redis: Redis, layout: KeyLayout) {
    this.#redis = redis;
    this.#layout = layout;
    this.#set = loadScript(redis, new URL('./balance-set-2.lua', import.meta.url));
  }

  /** Writes the committed balance unless the cache already holds this version or newer. */
  async write(ref: CardCacheRef, balance_minor: bigint, balance_version: number): Promise<boolean> {
    const keys = decisionKeys(this.#layout, ref.user_token, ref.card_token, '');
    const written = await this.#set(
      [keys.balance, keys.balance_version],
      [balance_minor.toString(), balance_version, CACHE_TTL_S.balance],
    );
    return Number(written) === 1;
  }

  /** The live held amount, or null when the gateway has no ledger for the card right now. */
  async liveHeld(ref: CardCacheRef): Promise<bigint | null> {
    const held = await this.#redis.hget(
      decisionKeys(this.#layout, ref.user_token, ref.card_token, '').ledger,
      ledgerField.held,
    );
    return held === null ? null : BigInt(held);
  }
}
