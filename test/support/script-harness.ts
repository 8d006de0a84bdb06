// Calls the decision scripts directly on a real Redis, with a fresh key prefix.
import { randomUUID } from 'node:crypto';
import { loadScripts, type DecisionScripts } from '../../gateway/decide/scripts.ts';
import { CACHE_TTL_S, decisionKeys, type DecisionKeys, type KeyLayout } from '../../shared/redis-keys.ts';
import { connectRedis } from '../../shared/stores/redis.ts';

export interface CardState {
  readonly kind?: 'business' | 'personal';
  readonly status?: string;
  readonly user_status?: string;
  readonly currency?: string;
  readonly balance_minor?: bigint;
  readonly held_minor?: bigint;
  readonly limits?: Record<string, string>;
}

export async function scriptHarness() {
  const redis = connectRedis({ url: process.env.REDIS_URL!, connection_name: 'afc-script-test' });
  await redis.connect();
  const scripts: DecisionScripts = loadScripts(redis);
  const layout: KeyLayout = { prefix: `s${randomUUID().slice(0, 8)}`, shards: 8 };

  async function seedCard(user_token: string, card_token: string, state: CardState = {}) {
    const keys = decisionKeys(layout, user_token, card_token, 'seed');
    const parts = {
      card: {
        status: state.status ?? 'active',
        kind: state.kind ?? 'business',
        user_token,
        currency: state.currency ?? 'USD',
        card_id: `id-${card_token}`,
        user_id: `id-${user_token}`,
      },
      user: { status: state.user_status ?? 'active' },
      limits: { v: '2', per_txn: '', d_amt: '', m_amt: '', ...state.limits },
      balance: state.balance_minor === undefined ? undefined : state.balance_minor.toString(),
      ledger: { held: (state.held_minor ?? 0n).toString(), pend: '0', dw: '20261125', ds: '0', dn: '0' },
    };
    await scripts.fill(
      keys.user,
      keys.card,
      keys.limits,
      keys.balance,
      keys.ledger,
      JSON.stringify(parts),
      CACHE_TTL_S.user,
      CACHE_TTL_S.card,
      CACHE_TTL_S.limits,
      CACHE_TTL_S.balance,
      CACHE_TTL_S.ledger_idle,
      CACHE_TTL_S.missing_card,
    );
    return keys;
  }

  interface DecideArgs {
    user_token: string;
    card_token: string;
    jit_token: string;
    amount_minor: bigint;
    original_jit_token?: string;
    mode?: string;
    currency?: string;
    mcc?: string;
    mid?: string;
    country?: string;
    mcc_group?: string;
    day_id?: string;
    week_id?: string;
    month_id?: string;
    year_id?: string;
    forced?: number;
    partial?: boolean;
    now_ms?: number;
    call_id?: string;
  }

  async function decide(args: DecideArgs) {
    const keys: DecisionKeys = decisionKeys(
      layout,
      args.user_token,
      args.card_token,
      args.jit_token,
      args.original_jit_token,
    );
    const reply = (await scripts.decide(
      keys.user,
      keys.card,
      keys.limits,
      keys.balance,
      keys.ledger,
      keys.decision,
      keys.outbox,
      keys.auth,
      keys.velocity,
      args.user_token,
      args.currency ?? 'USD',
      args.amount_minor.toString(),
      args.mcc ?? '5812',
      args.mid ?? 'mid-1',
      args.country ?? 'USA',
      args.mcc_group ?? '',
      args.day_id ?? '20261125',
      args.week_id ?? '2026-W48',
      args.month_id ?? '202611',
      args.year_id ?? '2026',
      'all',
      args.mode ?? 'auth',
      args.forced ?? -1,
      args.partial ? 1 : 0,
      3600,
      3600,
      args.now_ms ?? Date.now(),
      JSON.stringify({ jit_token: args.jit_token }),
      args.call_id ?? `call-${args.jit_token}`,
    )) as [number, number, number, string, number, number];
    return {
      status: reply[0],
      approved: reply[1],
      replayed: reply[2] === 1,
      kind: reply[3],
      missing: reply[4],
      available: reply[5],
      keys,
    };
  }

  async function ledger(user_token: string, card_token: string) {
    return redis.hgetall(decisionKeys(layout, user_token, card_token, '').ledger);
  }

  async function close() {
    const keys = await redis.keys(`${layout.prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }

  return { redis, scripts, layout, seedCard, decide, ledger, close };
}
