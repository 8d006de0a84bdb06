// The decision scripts as typed calls: each builds its ARGV from named fields and decodes its
// reply, so no caller (decider, cache loader, tests) writes a positional argument list. The
// positions and reply shapes are documented in each .lua file's header.

import type { Redis } from 'ioredis';
import type { DecisionStatusCode } from '../../shared/decision-status.ts';
import type { CardKind, DecisionRequest } from '../../shared/messages.ts';
import type { CacheTtls, DecisionKeys } from '../../shared/redis-keys.ts';
import { ALL_TIME_WINDOW_ID } from '../../shared/spend-windows.ts';
import { loadScript, type RedisReply } from '../../shared/stores/redis-scripts.ts';

/** decide-10.lua's status when a cached part is missing: nothing was written. */
export const CACHE_MISS = -1;

/**
 * Decision and authorization records past the idempotency window that one decide call deletes
 * at most. A call adds at most 2, so a shard with traffic never falls behind, and the work a
 * call does for the trim stays bounded (TIGER_STYLE: a limit on everything).
 */
export const RETENTION_TRIM_MAX = 8;

export interface DecideArgs {
  readonly request: DecisionRequest;
  /** The request as the outbox carries it (JSON of `request`, built once per decision). */
  readonly request_json: string;
  /** Record this status without running the rules; null to decide. */
  readonly forced_status: DecisionStatusCode | null;
  readonly partial_capable: boolean;
  /** The idempotency window: records are kept this long (listed by age, never a Redis TTL). */
  readonly decision_ttl_s: number;
  readonly now_ms: number;
  readonly call_id: string;
}

export interface DecideReply {
  /** A decision status, or CACHE_MISS. */
  readonly status: number;
  /** Approved, released or posted amount. */
  readonly amount_minor: bigint;
  readonly replayed: boolean;
  readonly kind: CardKind;
  /** On CACHE_MISS: the parts to load (bits: 1 user, 2 card, 4 limits, 8 balance, 16 ledger). */
  readonly missing_mask: number;
  readonly available_minor: bigint;
  /** Cached parts past their refresh-ahead time (bits: 1 user, 2 card, 4 limits, 8 balance, 16 ledger). */
  readonly refresh_mask: number;
}

export interface VoidArgs {
  readonly request_json: string;
  /** The status the gateway answered instead (timeout or system_error). */
  readonly status_code: DecisionStatusCode;
  readonly now_ms: number;
  /** The decide call that went over budget or failed: only its own decision is undone. */
  readonly call_id: string;
}

export interface VoidReply {
  /** The status recorded before the void, null when there was none. */
  readonly previous_status: number | null;
  readonly released_minor: bigint;
}

/** A card's cached parts as loaded from the stores (cache-loader.ts builds them). */
export interface CachePartsJson {
  readonly card: Record<string, string>;
  readonly user?: Record<string, string>;
  readonly limits?: Record<string, string>;
  readonly balance?: string;
  /** The personal card document's balance_version (the management API versions its loads). */
  readonly balance_version?: number;
  readonly ledger?: Record<string, string>;
}

export interface DecisionScripts {
  decide(keys: DecisionKeys, args: DecideArgs): Promise<DecideReply>;
  void(keys: DecisionKeys, args: VoidArgs): Promise<VoidReply>;
  /** Writes the absent parts after a miss; returns how many were written. */
  fill(keys: DecisionKeys, parts: CachePartsJson, ttls: CacheTtls): Promise<number>;
  /** Rewrites the parts still present (refresh-ahead); returns how many were written. */
  refresh(keys: DecisionKeys, parts: CachePartsJson, ttls: CacheTtls): Promise<number>;
}

function bigintOf(value: RedisReply | undefined): bigint {
  return BigInt((value as string | number | null) ?? 0);
}

export function loadScripts(redis: Redis): DecisionScripts {
  const decide = loadScript(redis, new URL('./decide-10.lua', import.meta.url));
  const void_ = loadScript(redis, new URL('./void-5.lua', import.meta.url));
  const fill = loadScript(redis, new URL('./fill-6.lua', import.meta.url));
  const cacheParts = (mode: 'fill' | 'refresh', keys: DecisionKeys, parts: CachePartsJson, ttls: CacheTtls) =>
    fill(
      [keys.user, keys.card, keys.limits, keys.balance, keys.balance_version, keys.ledger],
      [mode, JSON.stringify(parts), ttls.user, ttls.card, ttls.limits, ttls.balance, ttls.missing_card],
    ).then(Number);
  return {
    async decide(keys, args) {
      const { request } = args;
      const reply = (await decide(
        [
          keys.user,
          keys.card,
          keys.limits,
          keys.balance,
          keys.ledger,
          keys.decision,
          keys.outbox,
          keys.auth,
          keys.velocity,
          keys.retained,
        ],
        [
          request.user_token,
          request.currency_code,
          request.amount_minor,
          request.merchant.mcc ?? '',
          request.merchant.mid ?? '',
          request.merchant.country_code ?? '',
          request.mcc_group,
          request.day_id,
          request.week_id,
          request.month_id,
          request.year_id,
          ALL_TIME_WINDOW_ID,
          request.mode,
          args.forced_status ?? -1,
          args.partial_capable ? 1 : 0,
          args.decision_ttl_s,
          RETENTION_TRIM_MAX,
          args.now_ms,
          args.request_json,
          args.call_id,
        ],
      )) as RedisReply[];
      return {
        status: Number(reply[0]),
        amount_minor: bigintOf(reply[1]),
        replayed: Number(reply[2]) === 1,
        kind: (String(reply[3] ?? '') || 'unknown') as CardKind,
        missing_mask: Number(reply[4] ?? 0),
        available_minor: bigintOf(reply[5]),
        refresh_mask: Number(reply[6] ?? 0),
      };
    },
    async void(keys, args) {
      const reply = (await void_(
        [keys.ledger, keys.decision, keys.outbox, keys.auth, keys.retained],
        [args.request_json, args.status_code, args.now_ms, args.call_id],
      )) as RedisReply[];
      const previous = Number(reply[0]);
      return { previous_status: previous < 0 ? null : previous, released_minor: bigintOf(reply[1]) };
    },
    fill: (keys, parts, ttls) => cacheParts('fill', keys, parts, ttls),
    refresh: (keys, parts, ttls) => cacheParts('refresh', keys, parts, ttls),
  };
}
