// Calls the decision scripts directly on a real Redis, with a fresh key prefix.
import { randomUUID } from 'node:crypto';
import { loadScripts, type DecisionScripts } from '../../gateway/decide/scripts.ts';
import type { DecisionStatusCode } from '../../shared/decision-status.ts';
import type { LedgerMode } from '../../shared/messages.ts';
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

export async function scriptHarness(url = process.env.REDIS_URL!) {
  const redis = connectRedis({ url, connection_name: 'afc-script-test' });
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
    await scripts.fill(keys, parts, CACHE_TTL_S);
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
    const reply = await scripts.decide(keys, {
      request: {
        jit_token: args.jit_token,
        method: 'pgfs.authorization',
        transaction_token: `txn-${args.jit_token}`,
        card_token: args.card_token,
        user_token: args.user_token,
        acting_user_token: args.user_token,
        amount_minor: args.amount_minor.toString(),
        currency_code: args.currency ?? 'USD',
        network: null,
        merchant: {
          mcc: args.mcc ?? '5812',
          mid: args.mid ?? 'mid-1',
          name: null,
          country_code: args.country ?? 'USA',
        },
        day_id: args.day_id ?? '20261125',
        week_id: args.week_id ?? '2026-W48',
        month_id: args.month_id ?? '202611',
        year_id: args.year_id ?? '2026',
        original_jit_token: args.original_jit_token ?? null,
        mode: (args.mode ?? 'auth') as LedgerMode,
        mcc_group: args.mcc_group ?? '',
      },
      // What the outbox carries is the test's business: a small marker is enough here.
      request_json: JSON.stringify({ jit_token: args.jit_token }),
      forced_status: (args.forced ?? null) as DecisionStatusCode | null,
      partial_capable: args.partial ?? false,
      decision_ttl_s: 3600,
      now_ms: args.now_ms ?? Date.now(),
      call_id: args.call_id ?? `call-${args.jit_token}`,
    });
    return {
      status: reply.status,
      approved: Number(reply.amount_minor),
      replayed: reply.replayed,
      kind: reply.kind,
      missing: reply.missing_mask,
      available: Number(reply.available_minor),
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
