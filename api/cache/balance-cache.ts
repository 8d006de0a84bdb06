// Posted balance of personal cards in the gateway cache: versioned write (balance-set-2.lua)
// and the live held amount for balance reads.

import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import pkg from '../../package.json' with { type: 'json' };
import { CACHE_TTL_S, decisionKeys, type KeyLayout } from '../../shared/redis-keys.ts';
import type { CardCacheRef } from './invalidator.ts';

const COMMAND = `afc_api_balance_set_v${pkg.version.replaceAll('.', '_')}`;
const LUA = readFileSync(new URL('./balance-set-2.lua', import.meta.url), 'utf8');

type BalanceSet = (
  balance_key: string,
  version_key: string,
  balance: string,
  version: number,
  ttl_s: number,
) => Promise<number>;

export class BalanceCache {
  readonly #redis: Redis;
  readonly #layout: KeyLayout;
  readonly #set: BalanceSet;

  constructor(redis: Redis, layout: KeyLayout) {
    this.#redis = redis;
    this.#layout = layout;
    redis.defineCommand(COMMAND, { numberOfKeys: 2, lua: LUA });
    this.#set = (redis as unknown as Record<string, BalanceSet>)[COMMAND]!.bind(redis);
  }

  /** Writes the committed balance unless the cache already holds this version or newer. */
  async write(ref: CardCacheRef, balance_minor: bigint, balance_version: number): Promise<boolean> {
    const keys = decisionKeys(this.#layout, ref.user_token, ref.card_token, '');
    const written = await this.#set(
      keys.balance,
      `${keys.balance}:v`,
      balance_minor.toString(),
      balance_version,
      CACHE_TTL_S.balance,
    );
    return written === 1;
  }

  /** The live held amount, or null when the gateway has no ledger for the card right now. */
  async liveHeld(ref: CardCacheRef): Promise<bigint | null> {
    const held = await this.#redis.hget(
      decisionKeys(this.#layout, ref.user_token, ref.card_token, '').ledger,
      'held',
    );
    return held === null ? null : BigInt(held);
  }
}
