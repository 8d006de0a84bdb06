// Worker throughput: how many decisions per second the worker persists, sustained.
// Publishes N synthetic decision events to a queue of its own (a backlog, so the broker is
// never the bottleneck), starts a decision consumer on it and times until every event is a
// row (PostgreSQL) or a document (MongoDB). Business and personal are measured separately:
// their stores differ. Cleans up its queue and its rows afterwards.
// With --ferretdb-pid it also reports the CPU FerretDB spent (from /proc/<pid>/stat) per personal
// decision and per cache fill of a personal card (the gateway's reads on a miss); with
// --postgres-db, the CPU of the PostgreSQL server processes serving that database (FerretDB's
// PostgreSQL back end). --history inserts prior personal transaction documents first: some
// back ends slow down as the collection grows.
//
//   node bench/worker-throughput.ts [--business 20000] [--personal 5000] [--cards 200]
//     [--history 0] [--ferretdb-pid <pid>] [--postgres-db <name>]
// Environment as for the worker (source scripts/dev-env.sh); MONGODB_URI picks the FerretDB.

import { registerPersonalCardTokens } from '../shared/personal-card-tokens.ts';
import { ObjectId } from 'mongodb';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CacheLoader, SEED_CACHE_LOADER_OPTIONS } from '../gateway/decide/cache-loader.ts';
import type { DecisionScripts } from '../gateway/decide/scripts.ts';
import { QUEUE_DECISIONS, RETRY_DELAYS_MS, workQueueDeclarations } from '../shared/broker/topology.ts';
import { loadWorkerConfig } from '../shared/config.ts';
import { effectsToJson, NO_EFFECTS } from '../shared/ledger-effects.ts';
import { createLogger } from '../shared/logger.ts';
import { createRegistry, workerMetrics } from '../shared/metrics.ts';
import type { DecisionEvent } from '../shared/messages.ts';
import { inParallel } from '../shared/in-parallel.ts';
import type { DecisionKeys } from '../shared/redis-keys.ts';
import { windowIds } from '../shared/spend-windows.ts';
import { startDecisionConsumer } from '../worker/decisions/consumer.ts';
import { createWorker, type Worker } from '../worker/worker.ts';
import { outboxLine, publishBatches } from '../test/support/decision-batches.ts';

const POLL_MS = 20;
/** Decisions per message: the relay's default RELAY_BATCH_MAX. */
const BATCH_LINES_MAX = 256;
const WAIT_MAX_MS = 300_000;
/** Cache fills at once, as concurrent misses of a busy gateway. */
const FILLS_IN_PARALLEL_MAX = 16;
const HISTORY_CHUNK = 1_000;
/** /proc/<pid>/stat counts CPU time in clock ticks (USER_HZ). */
const CLOCK_TICKS_PER_S = 100;

const { values } = parseArgs({
  options: {
    business: { type: 'string', default: '20000' },
    personal: { type: 'string', default: '5000' },
    cards: { type: 'string', default: '200' },
    history: { type: 'string', default: '0' },
    fills: { type: 'string', default: '1000' },
    'ferretdb-pid': { type: 'string' },
    'postgres-db': { type: 'string' },
  },
});
const business_events = Number(values.business);
const personal_events = Number(values.personal);
const card_count = Number(values.cards);
const history_docs = Number(values.history);
const fill_count = Number(values.fills);
const run_id = randomUUID().slice(0, 8);
const queue = `afc.decisions.bench${run_id}`;

interface Card {
  card_id: string;
  user_id: string;
  card_token: string;
  user_token: string;
}

function event(card: Card, kind: 'business' | 'personal', i: number): DecisionEvent {
  const now_ms = Date.now();
  const { day_id, week_id, month_id, year_id } = windowIds(now_ms, 'UTC');
  const approved = i % 10 !== 0; // one decline in ten
  const amount_minor = String(100 + (i % 900));
  return {
    v: 1,
    request: {
      jit_token: `bench_${run_id}_${kind}_${i}`,
      method: 'pgfs.authorization',
      transaction_token: `txn_${run_id}_${kind}_${i}`,
      card_token: card.card_token,
      user_token: card.user_token,
      acting_user_token: card.user_token,
      amount_minor,
      currency_code: 'USD',
      network: 'VISA',
      merchant: { mid: '000000000011111', mcc: '5411', name: 'Bench Grocer', country_code: 'USA' },
      day_id,
      week_id,
      month_id,
      year_id,
      original_jit_token: null,
      mode: 'auth',
      mcc_group: '',
    },
    kind,
    card_id: card.card_id,
    user_id: card.user_id,
    status_code: approved ? 0 : 1,
    approved,
    memo: approved ? 'approved' : 'insufficient_balance',
    decline_reason: approved ? null : 'INSUFFICIENT_FUNDS',
    approved_amount_minor: approved ? amount_minor : '0',
    released_amount_minor: '0',
    available_minor: '0',
    group_token: `bench_${run_id}_${kind}_${i}`,
    effects: effectsToJson(NO_EFFECTS),
    revision: 1,
    decided_at_ms: now_ms,
    state_order_ms: now_ms,
    limits_seen: null,
    outbox_id: `${now_ms}-${i}`,
  };
}

async function seedBusiness(worker: Worker): Promise<Card[]> {
  const company_id = randomUUID();
  const cards = Array.from({ length: card_count }, (_, i) => ({
    card_id: randomUUID(),
    user_id: randomUUID(),
    card_token: `bcard_${run_id}_${i}`,
    user_token: `buser_${run_id}_${i}`,
  }));
  await worker.sql.begin(async (tx) => {
    await tx`INSERT INTO companies (id, name) VALUES (${company_id}, ${`Bench ${run_id}`})`;
    await tx`INSERT INTO users ${tx(
      cards.map((c) => ({
        id: c.user_id,
        company_id,
        user_token: c.user_token,
        email: `${c.user_token}@bench.test`,
        role: 'employee',
        status: 'active',
      })),
    )}`;
    await tx`INSERT INTO cards ${tx(
      cards.map((c) => ({
        id: c.card_id,
        user_id: c.user_id,
        card_token: c.card_token,
        status: 'active',
        currency_code: 'USD',
      })),
    )}`;
  });
  return cards;
}

async function seedPersonal(worker: Worker): Promise<Card[]> {
  const db = worker.mongo.db();
  const now = new Date();
  const users = Array.from({ length: card_count }, (_, i) => ({
    user_token: `puser_${run_id}_${i}`,
    email: `puser_${run_id}_${i}@bench.test`,
    status: 'active',
    kyc_status: 'verified',
    created_at: now,
  }));
  const inserted_users = await db.collection('personal_users').insertMany(users);
  const cards = users.map((_, i) => ({
    _id: new ObjectId(),
    user_id: inserted_users.insertedIds[i]!,
    card_token: `pcard_${run_id}_${i}`,
    status: 'active',
    currency_code: 'USD',
    balance_minor: 10n ** 12n,
    held_minor: 0n,
    created_at: now,
  }));
  await registerPersonalCardTokens(db, cards);
  const inserted_cards = await db.collection('personal_cards').insertMany(cards);
  return cards.map((c, i) => ({
    card_id: String(inserted_cards.insertedIds[i]),
    user_id: String(c.user_id),
    card_token: c.card_token,
    user_token: users[i]!.user_token,
  }));
}

function cpuTicks(pid: number): number {
  try {
    // Fields after the command name: state is the 1st, utime the 12th, stime the 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0; // exited: its CPU since the last sample is not counted
  }
}

/** CPU ticks of FerretDB and of the PostgreSQL servers of --postgres-db, by pid. */
async function storeTicks(worker: Worker): Promise<Map<string, number>> {
  const ticks = new Map<string, number>();
  const ferretdb_pid = values['ferretdb-pid'];
  if (ferretdb_pid !== undefined) ticks.set('ferretdb', cpuTicks(Number(ferretdb_pid)));
  const postgres_db = values['postgres-db'];
  if (postgres_db !== undefined) {
    const servers = await worker.sql<{ pid: number }[]>`
      SELECT pid FROM pg_stat_activity WHERE datname = ${postgres_db}`;
    for (const { pid } of servers) ticks.set(`postgres:${pid}`, cpuTicks(pid));
  }
  return ticks;
}

/** Starts measuring store CPU; the returned function prints it per item. */
async function cpuMeter(worker: Worker): Promise<(label: string, items: number) => Promise<void>> {
  const before = await storeTicks(worker);
  const own_before = process.cpuUsage();
  return async (label, items) => {
    // This process: the worker's consumer (the bench only polls a counter meanwhile).
    const own = process.cpuUsage(own_before);
    const own_ms = (own.user + own.system) / 1000 / items;
    if (before.size === 0) {
      console.log(`  ${label}: CPU per item: worker ${own_ms.toFixed(2)} ms`);
      return;
    }
    const after = await storeTicks(worker);
    let ferretdb = 0;
    let postgres = 0;
    for (const [key, ticks] of after) {
      const delta = ticks - (before.get(key) ?? 0);
      if (key === 'ferretdb') ferretdb += delta;
      else postgres += delta;
    }
    const per_item_ms = (delta_ticks: number) => ((delta_ticks / CLOCK_TICKS_PER_S) * 1000) / items;
    const parts = [`worker ${own_ms.toFixed(2)} ms`, `FerretDB ${per_item_ms(ferretdb).toFixed(2)} ms`];
    if (values['postgres-db'] !== undefined)
      parts.push(`its PostgreSQL ${per_item_ms(postgres).toFixed(2)} ms`);
    console.log(`  ${label}: CPU per item: ${parts.join(', ')}`);
  };
}

/** Prior personal transaction documents, as a ledger that has been running a while. */
async function seedHistory(worker: Worker, cards: readonly Card[]): Promise<void> {
  const collection = worker.mongo.db().collection('personal_transactions');
  for (let at = 0; at < history_docs; at += HISTORY_CHUNK) {
    const size = Math.min(HISTORY_CHUNK, history_docs - at);
    await collection.insertMany(
      Array.from({ length: size }, (_, i) => {
        const card = cards[(at + i) % cards.length]!;
        return {
          _id: `bench_${run_id}_history_${at + i}` as unknown as ObjectId,
          jit_token: `bench_${run_id}_history_${at + i}`,
          card_id: new ObjectId(card.card_id),
          user_id: new ObjectId(card.user_id),
          card_token: card.card_token,
          amount_minor: 1_000n,
          currency_code: 'USD',
          status: 'completed',
          status_code: 0,
          memo: 'approved',
          revision: 1,
          applied_revisions: [1],
          decided_at: new Date(),
          created_at: new Date(),
        };
      }),
      { ordered: false },
    );
  }
}

/** The gateway's cache fill of a personal card (its reads; the Redis write is left out). */
async function measureFills(worker: Worker, cards: readonly Card[]): Promise<void> {
  if (fill_count === 0 || cards.length === 0) return;
  const skip_redis = { fill: async () => [] } as unknown as DecisionScripts;
  // Slow-query warnings of the business lookup that precedes every fill would drown the output.
  const loader = new CacheLoader(
    worker.sql,
    worker.mongo.db(),
    skip_redis,
    { prefix: 'worker-bench', shards: 1 },
    createLogger('worker-bench', 'error'),
    SEED_CACHE_LOADER_OPTIONS,
  );
  const windows = windowIds(Date.now(), 'UTC');
  const stop = await cpuMeter(worker);
  const started_ms = performance.now();
  await inParallel(
    Array.from({ length: fill_count }, (_, i) => cards[i % cards.length]!),
    FILLS_IN_PARALLEL_MAX,
    (card) => loader.fill({} as DecisionKeys, card.card_token, windows),
  );
  const seconds = (performance.now() - started_ms) / 1000;
  console.log(
    `personal cache fills: ${fill_count} in ${seconds.toFixed(2)} s = ${Math.round(fill_count / seconds)}/s`,
  );
  await stop('personal cache fills', fill_count);
}

async function measure(worker: Worker, label: string, events: DecisionEvent[], count: () => Promise<number>) {
  if (events.length === 0) return;
  // Declared first: the default exchange silently drops messages for a queue that does not exist.
  const [declaration] = workQueueDeclarations(queue, RETRY_DELAYS_MS[QUEUE_DECISIONS]!);
  await worker.rabbit.queueDeclare({ ...declaration!, arguments: { ...declaration!.arguments } });
  // Packed as the relay packs them: one decision batch message per BATCH_LINES_MAX decisions.
  const batches = [];
  for (let at = 0; at < events.length; at += BATCH_LINES_MAX)
    batches.push({ lines: events.slice(at, at + BATCH_LINES_MAX).map(outboxLine) });
  await publishBatches(worker.rabbit, queue, batches);
  const consumer = startDecisionConsumer({
    config: worker_config,
    log,
    rabbit: worker.rabbit,
    sql: worker.sql,
    document_lock_sql: worker.document_lock_sql,
    mongo: worker.mongo,
    metrics,
  });
  // Polls the consumer's own commit counter (a message counts once its batch committed), so
  // the measurement adds no load to the stores; the rows are counted once at the end.
  const committed = async () => (await metrics.processed.get()).values.reduce((sum, v) => sum + v.value, 0);
  const before = await committed();
  const stop = await cpuMeter(worker);
  const started_ms = performance.now();
  while ((await committed()) - before < batches.length) {
    if (performance.now() - started_ms > WAIT_MAX_MS) throw new Error(`${label}: not all persisted in time`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const seconds = (performance.now() - started_ms) / 1000;
  await stop(label, events.length);
  await consumer.close();
  const rows = await count();
  if (rows !== events.length) throw new Error(`${label}: ${rows} rows for ${events.length} decisions`);
  console.log(
    `${label}: ${events.length} decisions persisted in ${seconds.toFixed(2)} s = ${Math.round(events.length / seconds)} decisions/s`,
  );
}

const worker_config = loadWorkerConfig({
  ...process.env,
  WORKER_HEALTH_PORT: '0',
  WORKER_DECISIONS_QUEUE: queue,
});
const log = createLogger('worker-bench', 'warn');
const worker = await createWorker(worker_config, log, { consumers: [] });
const metrics = workerMetrics(createRegistry('worker-bench'));

console.log(
  `worker throughput: prefetch ${worker_config.prefetch}, concurrency ${worker_config.concurrency}, batch ${worker_config.batch_max}, linger ${worker_config.batch_linger_ms} ms, ${card_count} cards per kind`,
);
const business = await seedBusiness(worker);
const personal = await seedPersonal(worker);
try {
  const business_ids = business.map((c) => c.card_id);
  await measure(
    worker,
    'business (PostgreSQL)',
    Array.from({ length: business_events }, (_, i) => event(business[i % business.length]!, 'business', i)),
    async () =>
      Number(
        (
          await worker.sql`SELECT count(*)::int AS n FROM transactions WHERE card_id = ANY(${business_ids})`
        )[0]!.n,
      ),
  );
  await seedHistory(worker, personal);
  await measure(
    worker,
    'personal (MongoDB/FerretDB)',
    Array.from({ length: personal_events }, (_, i) => event(personal[i % personal.length]!, 'personal', i)),
    () =>
      worker.mongo
        .db()
        .collection('personal_transactions')
        .countDocuments({ jit_token: { $regex: `^bench_${run_id}_personal_` } }),
  );
  await measureFills(worker, personal);
} finally {
  await worker.rabbit.queueDelete({ queue });
  for (const suffix of ['.dlq', '.retry.1', '.retry.2', '.retry.3'])
    await worker.rabbit.queueDelete({ queue: queue + suffix });
  const business_ids = business.map((c) => c.card_id);
  await worker.sql`DELETE FROM transactions WHERE card_id = ANY(${business_ids})`;
  await worker.sql`DELETE FROM spending_controls WHERE card_id = ANY(${business_ids})`;
  await worker.sql`DELETE FROM cards WHERE id = ANY(${business_ids})`;
  await worker.sql`DELETE FROM users WHERE id = ANY(${business.map((c) => c.user_id)})`;
  await worker.sql`DELETE FROM companies WHERE name = ${`Bench ${run_id}`}`;
  const db = worker.mongo.db();
  await db.collection('personal_transactions').deleteMany({ jit_token: { $regex: `^bench_${run_id}_` } });
  await db.collection('personal_holds').deleteMany({ _id: { $regex: `^bench_${run_id}_` } } as object);
  await db.collection('personal_card_tokens').deleteMany({ _id: { $regex: `^pcard_${run_id}_` } } as object);
  await db.collection('personal_cards').deleteMany({ card_token: { $regex: `^pcard_${run_id}_` } });
  await db.collection('personal_users').deleteMany({ user_token: { $regex: `^puser_${run_id}_` } });
  await worker.close();
}
