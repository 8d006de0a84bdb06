// `node bench/redis-memory.ts [--cards=1000,100000,1000000] [--decisions-per-card=3]`: bytes of
// Redis memory per card and per decision, measured on a private redis-server (no persistence)
// with the gateway's own scripts: the cached parts a fill writes (user, card, limits, balance),
// the live ledger hash, and what decisions add (idempotency records, authorization groups,
// outbox entries before the relay takes them). Prints a Markdown table (docs/capacity.md).

import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { loadScripts } from '../gateway/decide/scripts.ts';
import type { DecisionRequest } from '../shared/messages.ts';
import { CACHE_TTL_S, decisionKeys, type KeyLayout } from '../shared/redis-keys.ts';
import { freePort } from '../shared/dev/processes.ts';

const PIPELINE_DEPTH = 500;
const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const card_counts = (args.get('cards') ?? '1000,100000').split(',').map(Number);
const decisions_per_card = Number(args.get('decisions-per-card') ?? 3);

const port = await freePort();
const server = spawn(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  {
    stdio: 'ignore',
  },
);
const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
for (let attempt = 0; ; attempt++) {
  try {
    await redis.connect();
    break;
  } catch (error) {
    if (attempt > 50) throw error;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
const scripts = loadScripts(redis);

async function usedBytes(): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

/** A card's cached parts as the gateway's fill writes them (cache-loader.ts), refresh times included. */
function parts(i: number, personal: boolean) {
  const now_ms = Date.now();
  const rf = String(now_ms + 150_000);
  return {
    card: {
      status: 'active',
      kind: personal ? 'personal' : 'business',
      user_token: `user_${i.toString(36).padStart(20, '0')}`,
      currency: 'USD',
      card_id: personal ? '65f1c0c2a1b2c3d4e5f60718' : '2f8a4c1e-6b7d-4e21-9c3a-5d8e7f6a1b2c',
      user_id: personal ? '65f1c0c2a1b2c3d4e5f60719' : '7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f',
      rf,
      ...(personal ? { brf: rf } : {}),
    },
    user: { status: 'active', rf },
    limits: {
      v: '2',
      per_txn: '500000',
      d_amt: '1000000',
      w_amt: '',
      m_amt: '5000000',
      y_amt: '',
      a_amt: '',
      vel_max: '',
      vel_win_s: '',
      mcc_allow: '',
      mcc_block: ',7995,',
      mid_allow: '',
      mid_block: '',
      cc_allow: '',
      cc_block: '',
      rf,
    },
    ...(personal ? { balance: '250000' } : {}),
    ledger: {
      held: '0',
      pend: '0',
      dw: '20261204',
      ds: '0',
      dn: '0',
      ww: '2026-W49',
      ws: '0',
      wn: '0',
      mw: '202612',
      ms: '0',
      mn: '0',
      yw: '2026',
      ys: '0',
      yn: '0',
      aw: 'all',
      as: '0',
      an: '0',
    },
  };
}

const rows: string[] = [];
let prefix_index = 0;
for (const cards of card_counts) {
  await redis.flushall();
  const layout: KeyLayout = { prefix: `m${prefix_index++}`, shards: 64 };
  const before = await usedBytes();
  for (let start = 0; start < cards; start += PIPELINE_DEPTH) {
    const calls: Array<Promise<unknown>> = [];
    for (let i = start; i < Math.min(cards, start + PIPELINE_DEPTH); i++) {
      const personal = i % 4 === 3;
      const p = parts(i, personal);
      const keys = decisionKeys(layout, p.card.user_token, `card_${i.toString(36).padStart(20, '0')}`, '');
      calls.push(scripts.fill(keys, p, CACHE_TTL_S));
    }
    await Promise.all(calls);
  }
  const filled = await usedBytes();
  const ledger_bytes = await sampleKeys(layout, 'ledger');
  const decided_cards = Math.min(cards, 10_000);
  const request: DecisionRequest = {
    jit_token: 'jit_7c1d2e3f4a5b4c6d8e7f9a0b1c2d3e4f',
    method: 'pgfs.authorization',
    transaction_token: 'txn_2f8a4c1e6b7d4e219c3a5d8e7f6a1b2c',
    card_token: 'card_000000000000000000001',
    user_token: 'user_000000000000000000001',
    acting_user_token: 'user_000000000000000000001',
    amount_minor: '100',
    currency_code: 'USD',
    network: 'VISA',
    merchant: { mid: '000000000011111', mcc: '5812', name: 'Cafe Example', country_code: 'USA' },
    day_id: '20261204',
    week_id: '2026-W49',
    month_id: '202612',
    year_id: '2026',
    original_jit_token: null,
    mode: 'auth',
    mcc_group: '',
  };
  // The outbox carries the request as the gateway sends it: a typical one's size.
  const request_json = JSON.stringify(request);
  const before_decisions = await usedBytes();
  for (let start = 0; start < decided_cards; start += PIPELINE_DEPTH) {
    const calls: Array<Promise<unknown>> = [];
    for (let i = start; i < Math.min(decided_cards, start + PIPELINE_DEPTH); i++) {
      const p = parts(i, i % 4 === 3);
      for (let d = 0; d < decisions_per_card; d++) {
        const jit = `jit_${i}_${d}_7c1d2e3f4a5b4c6d8e7f`;
        const card_token = `card_${i.toString(36).padStart(20, '0')}`;
        const keys = decisionKeys(layout, p.card.user_token, card_token, jit);
        calls.push(
          scripts.decide(keys, {
            request: { ...request, jit_token: jit, card_token, user_token: p.card.user_token },
            request_json,
            forced_status: null,
            partial_capable: false,
            decision_ttl_s: 8 * 24 * 3600,
            now_ms: Date.now(),
            call_id: `call-${jit}`,
          }),
        );
      }
    }
    await Promise.all(calls);
  }
  const decided = await usedBytes();
  const outbox_streams = await redis.keys(`${layout.prefix}:{*}:outbox`);
  if (outbox_streams.length > 0) await redis.del(...outbox_streams);
  const relayed = await usedBytes();
  const decisions = decided_cards * decisions_per_card;
  const per_card = (filled - before) / cards;
  const per_decision_kept = (relayed - before_decisions) / decisions;
  const per_outbox_entry = (decided - relayed) / decisions;
  rows.push(
    `| ${cards.toLocaleString('en-US')} | ${Math.round(per_card)} | ${Math.round(ledger_bytes)} | ${Math.round(per_card - ledger_bytes)} | ${Math.round(per_decision_kept)} | ${Math.round(per_outbox_entry)} | ${((filled - before) / 1024 / 1024).toFixed(1)} |`,
  );
  process.stderr.write(`${cards} cards measured\n`);
}

/** Mean MEMORY USAGE of up to 200 keys of one kind (`ledger`), bytes. */
async function sampleKeys(layout: KeyLayout, kind: string): Promise<number> {
  const [, keys] = await redis.scan('0', 'MATCH', `${layout.prefix}:{*}:${kind}:*`, 'COUNT', 10_000);
  const sample = keys.slice(0, 200);
  const sizes = await Promise.all(sample.map((key) => redis.memory('USAGE', key)));
  return sizes.reduce((sum: number, n) => sum + Number(n ?? 0), 0) / Math.max(1, sample.length);
}

console.log(
  `Redis ${/redis_version:(\S+)/.exec(await redis.info('server'))![1]}, 3 business cards in 4, ${decisions_per_card} authorizations per card on up to 10,000 cards.\n`,
);
console.log(
  '| cards | bytes per card (all parts) | live ledger hash | cached parts (evictable) | bytes per decision kept (idempotency record + authorization group) | bytes per outbox entry in flight | total MiB for the cards |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const row of rows) console.log(row);
redis.disconnect();
server.kill('SIGKILL');
