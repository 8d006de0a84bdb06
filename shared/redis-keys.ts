// Redis key layout. Every key of one cardholder carries the same hash tag `{<shard>}`,
// and so does that shard's outbox stream: the decision script touches one slot only and
// runs unchanged on Redis Cluster. The shard is a stable hash of the cardholder's user token.
//
// Only the cached parts (user, card, limits, balance and its version, a missing-card marker)
// carry a TTL: under a `volatile-*` maxmemory policy they are all Redis may evict. Money state
// (ledger, decision and authorization records, stand-in booked markers, velocity, outbox,
// retention set) never has one.

export interface KeyLayout {
  readonly prefix: string;
  readonly shards: number;
}

/** FNV-1a 32-bit: stable across processes and versions (never change it: keys would move). */
export function shardOf(user_token: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < user_token.length; i++) {
    hash ^= user_token.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

function tag(layout: KeyLayout, shard: number): string {
  return `${layout.prefix}:{${shard}}`;
}

/** The keys one decision touches, in the order of the decision script's KEYS. */
export interface DecisionKeys {
  /** Cache (TTL 3600 s): cardholder hash {status}. */
  readonly user: string;
  /** Cache (TTL 900 s): card hash {status, kind, user_token, currency, card_id, user_id, ...} or {missing}. */
  readonly card: string;
  /** Cache (TTL 300 s): limits and merchant rules of the card. */
  readonly limits: string;
  /** Cache (TTL 600 s): posted balance in minor units (personal cards). */
  readonly balance: string;
  /** balance_version of the cached balance, when the management API wrote it (api/cache/balance-set-2.lua). */
  readonly balance_version: string;
  /** Live state, no TTL: held amount and windowed spend counters (rebuilt from the ledger when lost). */
  readonly ledger: string;
  /** Idempotency record of one JIT token, no TTL: the first answer, and the hold it made. */
  readonly decision: string;
  /** The shard's outbox stream, relayed to RabbitMQ (no TTL; the relay deletes what it delivered). */
  readonly outbox: string;
  /** Authorization group of the original JIT token, no TTL: the hold that reversals and clearings settle. */
  readonly auth: string;
  /** Approval times of the card (sorted set, no TTL), for the sliding velocity window. */
  readonly velocity: string;
  /** The shard's decision and authorization records by age (sorted set): trimmed past the idempotency window. */
  readonly retained: string;
  /**
   * A Marqeta stand-in approval of this JIT token already booked, no TTL: the ledger action it
   * recorded. Listed in `retained`, scored so that the same trim deletes it STANDIN_BOOKED_S after it was written.
   */
  readonly booked: string;
}

export function decisionKeys(
  layout: KeyLayout,
  user_token: string,
  card_token: string,
  jit_token: string,
  original_jit_token: string | null = null,
): DecisionKeys {
  const t = tag(layout, shardOf(user_token, layout.shards));
  return {
    user: `${t}:user:${user_token}`,
    card: `${t}:card:${card_token}`,
    limits: `${t}:limits:${card_token}`,
    balance: `${t}:balance:${card_token}`,
    balance_version: `${t}:balance:${card_token}:v`,
    ledger: `${t}:ledger:${card_token}`,
    decision: `${t}:jit:${jit_token}`,
    outbox: `${t}:outbox`,
    auth: `${t}:auth:${original_jit_token ?? jit_token}`,
    velocity: `${t}:velocity:${card_token}`,
    retained: `${t}:retained`,
    booked: `${t}:booked:${jit_token}`,
  };
}

/** A booked stand-in is remembered this long: its clearing can come weeks past the idempotency window. */
export const STANDIN_BOOKED_S = 400 * 24 * 3600;

/**
 * The `retained` score of a booked-stand-in marker written at now_ms: the shard's trim deletes
 * what is older than the idempotency window, so the marker is dated forward to live STANDIN_BOOKED_S.
 */
export function bookedRetainedScore(now_ms: number, idempotency_ttl_s: number): number {
  return now_ms + (STANDIN_BOOKED_S - idempotency_ttl_s) * 1000;
}

export function outboxKeys(layout: KeyLayout): string[] {
  return Array.from({ length: layout.shards }, (_, shard) => `${tag(layout, shard)}:outbox`);
}

/** The cached parts' TTLs (seconds) with a scale applied (CACHE_TTL_SCALE); never under 1 s. */
export function scaledCacheTtls(scale: number): CacheTtls {
  const scaled = (ttl_s: number) => Math.max(1, Math.round(ttl_s * scale));
  return Object.freeze({
    ...CACHE_TTL_S,
    user: scaled(CACHE_TTL_S.user),
    card: scaled(CACHE_TTL_S.card),
    limits: scaled(CACHE_TTL_S.limits),
    balance: scaled(CACHE_TTL_S.balance),
  });
}

export type CacheTtls = Readonly<Record<keyof typeof CACHE_TTL_S, number>>;

/** Seed TTLs of the cached parts (seconds). */
export const CACHE_TTL_S = Object.freeze({
  user: 3600,
  card: 900,
  limits: 300,
  balance: 600,
  /** A card found in neither store is remembered as missing this long. */
  missing_card: 30,
});
