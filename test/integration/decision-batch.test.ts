// Both sides of the decision batch (shared/decision-batch.ts) on the real services: what
// decide-10.lua and void-5.lua write into the outbox is relayed in batches by routing key and
// decoded by the reader into the same decisions. RabbitMQ side in a vhost of its own, so no
// other test's worker sees these messages.
import { randomUUID } from 'node:crypto';
import { Connection, type SyncMessage } from 'rabbitmq-client';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withVhost } from '../../bench/runner/env.ts';
import { OutboxWrites } from '../../gateway/outbox/outbox-writes.ts';
import { OutboxRelay, RELAY_DEFAULTS, RELAY_GROUP } from '../../gateway/outbox/relay.ts';
import { QUEUE_DECISIONS, QUEUE_PERSONAL_DECISIONS } from '../../shared/broker/topology.ts';
import { CONTENT_TYPE_DECISION_BATCH, decisionEventOf, decodeBatch } from '../../shared/decision-batch.ts';
import { DecisionStatus } from '../../shared/decision-status.ts';
import { effectsToJson, parseLedgerEffects } from '../../shared/ledger-effects.ts';
import { createLogger } from '../../shared/logger.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import { gatewayMetrics } from '../../shared/metrics.ts';
import { connectRedis } from '../../shared/stores/redis.ts';
import { uniqueToken } from '../support/cardholders.ts';
import { scriptHarness } from '../support/script-harness.ts';
import { waitUntil } from '../support/worker-harness.ts';

const vhost = `afc-batch-${randomUUID().slice(0, 8)}`;
let h: Awaited<ReturnType<typeof scriptHarness>>;
let rabbit: Connection;
const relay_redis = connectRedis({ url: process.env.REDIS_URL!, connection_name: 'afc-batch-test' });
const metrics = gatewayMetrics(new Registry());

beforeAll(async () => {
  h = await scriptHarness();
  await relay_redis.connect();
  await createVhost(vhost);
  rabbit = new Connection(withVhost(process.env.RABBITMQ_URL!, vhost));
  rabbit.on('error', () => {});
});
afterAll(async () => {
  await rabbit?.close();
  await deleteVhost(vhost);
  relay_redis.disconnect();
  await h?.close();
});

function relayOf(
  streams: string[],
  options: {
    message_decisions_max?: number;
    claim_idle_ms?: number;
    sweep_ms?: number;
    writes?: OutboxWrites;
  } = {},
) {
  return new OutboxRelay(
    relay_redis,
    rabbit,
    {
      streams,
      consumer_name: `test-${randomUUID().slice(0, 8)}`,
      batch_max: 512,
      message_decisions_max: options.message_decisions_max ?? 256,
      message_bytes_max: 256 * 1024,
      claim_idle_ms: options.claim_idle_ms ?? 60_000,
      linger_ms: 2,
      ...RELAY_DEFAULTS,
      sweep_ms: options.sweep_ms ?? RELAY_DEFAULTS.sweep_ms,
    },
    createLogger('relay-test', 'silent'),
    metrics,
    options.writes,
  );
}

/** Every message waiting in the vhost's decision queues, removed. */
async function drainDecisionQueues(): Promise<SyncMessage[]> {
  const channel = await rabbit.acquire();
  try {
    const messages: SyncMessage[] = [];
    for (const queue of [QUEUE_DECISIONS, QUEUE_PERSONAL_DECISIONS]) {
      for (;;) {
        const message = await channel.basicGet({ queue, noAck: true });
        if (message === undefined) break;
        messages.push(message);
      }
    }
    return messages;
  } finally {
    await channel.close();
  }
}

async function outboxLength(streams: readonly string[]): Promise<number> {
  let length = 0;
  for (const stream of streams) length += await h.redis.xlen(stream);
  return length;
}

describe('decision batches: Lua outbox -> relay -> reader', () => {
  it('relays what the scripts wrote in batches per routing key, decoded into the same decisions', async () => {
    const business = { user_token: uniqueToken('u'), card_token: uniqueToken('c') };
    const personal = { user_token: uniqueToken('u'), card_token: uniqueToken('c') };
    await h.seedCard(business.user_token, business.card_token, { kind: 'business' });
    await h.seedCard(personal.user_token, personal.card_token, { kind: 'personal', balance_minor: 10_000n });
    // A token with a quote, a tab and a non-ASCII letter: JSON in the request, raw in `grp`.
    const tricky = `${uniqueToken('j')}"\té`;
    const approvals = [tricky, uniqueToken('j'), uniqueToken('j')];
    const replies = [];
    for (const jit_token of approvals)
      replies.push(await h.decide({ ...business, jit_token, amount_minor: 700n }));
    const declined = uniqueToken('j');
    replies.push(
      await h.decide({
        ...business,
        jit_token: declined,
        amount_minor: 1n,
        forced: DecisionStatus.CARD_INACTIVE,
      }),
    );
    const voided = uniqueToken('j');
    const p = await h.decide({ ...personal, jit_token: voided, amount_minor: 1_200n, call_id: 'slow-call' });
    replies.push(p);
    const request_json = JSON.stringify({ jit_token: voided });
    expect(
      await h.scripts.void(p.keys, {
        request_json,
        status_code: DecisionStatus.TIMEOUT,
        now_ms: Date.now(),
        call_id: 'slow-call',
      }),
    ).toEqual({ previous_status: 0, released_minor: 1200n });

    const streams = [...new Set(replies.map((r) => r.keys.outbox))];
    // Keyed by JIT token and revision: entry ids are unique per stream only (two shards' streams
    // may both hold `<ms>-0`).
    const keyOf = (jit_token: string, revision: number | string) => `${jit_token}:${revision}`;
    const written = new Map<string, { id: string; fields: string[] }>();
    for (const stream of streams)
      for (const [id, fields] of await h.redis.xrange(stream, '-', '+')) {
        const request = JSON.parse(fields[fields.indexOf('r') + 1]!) as { jit_token: string };
        written.set(keyOf(request.jit_token, fields[fields.indexOf('rev') + 1]!), { id, fields });
      }
    expect(written.size).toBe(6);

    const relay = relayOf(streams, { message_decisions_max: 2 });
    relay.start();
    await waitUntil(async () => (await outboxLength(streams)) === 0, 20);
    await relay.stop();
    const messages = await drainDecisionQueues();

    const decoded = new Map<string, DecisionEvent>();
    for (const message of messages) {
      expect(message.contentType).toBe(CONTENT_TYPE_DECISION_BATCH);
      const entries = decodeBatch(message.body as Buffer);
      expect(entries.length).toBeLessThanOrEqual(2);
      expect(message.messageId).toBe(
        `batch:${entries[0]!.outbox_id}..${entries.at(-1)!.outbox_id}:${entries.length}`,
      );
      for (const entry of entries) {
        const event = decisionEventOf(entry);
        expect(message.routingKey).toBe(`decision.${event.kind}.${event.approved ? 'approved' : 'declined'}`);
        const key = keyOf(event.request.jit_token, event.revision);
        expect(decoded.has(key)).toBe(false);
        decoded.set(key, event);
      }
    }
    // Every entry once; three business approvals in two messages (at most 2 each).
    expect([...decoded.keys()].sort()).toEqual([...written.keys()].sort());
    expect(messages.filter((m) => m.routingKey === 'decision.business.approved')).toHaveLength(2);

    for (const [key, { id, fields }] of written) {
      const field = (name: string) => fields[fields.indexOf(name) + 1];
      const event = decoded.get(key)!;
      expect(event.request).toEqual(JSON.parse(field('r')!));
      expect(event.effects).toEqual(effectsToJson(parseLedgerEffects(field('fx'))));
      expect(event).toMatchObject({
        kind: field('k'),
        status_code: Number(field('s')),
        approved_amount_minor: field('a'),
        revision: Number(field('rev')),
        decided_at_ms: Number(field('t')),
        outbox_id: id,
      });
    }
    const byToken = (jit_token: string, revision = 1) =>
      [...decoded.values()].find((e) => e.request.jit_token === jit_token && e.revision === revision)!;
    expect(byToken(tricky)).toMatchObject({
      approved: true,
      group_token: tricky,
      approved_amount_minor: '700',
    });
    expect(byToken(tricky).effects.held_delta_minor).toBe('700');
    expect(byToken(declined)).toMatchObject({ approved: false, status_code: DecisionStatus.CARD_INACTIVE });
    expect(byToken(voided, 2)).toMatchObject({
      kind: 'personal',
      approved: false,
      status_code: DecisionStatus.TIMEOUT,
      released_amount_minor: '1200',
    });
    expect(byToken(voided, 2).effects.held_delta_minor).toBe('-1200');
  });

  it("claims a dead relay's pending entries and relays them", async () => {
    const c = { user_token: uniqueToken('u'), card_token: uniqueToken('c') };
    await h.seedCard(c.user_token, c.card_token, { kind: 'business' });
    const jit_tokens = [uniqueToken('j'), uniqueToken('j')];
    const replies = [];
    for (const jit_token of jit_tokens) replies.push(await h.decide({ ...c, jit_token, amount_minor: 100n }));
    const stream = replies[0]!.keys.outbox;
    // A relay that read them and died before publishing.
    await h.redis.xgroup('CREATE', stream, RELAY_GROUP, '0', 'MKSTREAM').catch(() => {});
    await h.redis.xreadgroup('GROUP', RELAY_GROUP, 'dead-relay', 'COUNT', 100, 'STREAMS', stream, '>');
    await new Promise((resolve) => setTimeout(resolve, 50));

    const relay = relayOf([stream], { claim_idle_ms: 20 });
    relay.start();
    await waitUntil(async () => (await h.redis.xlen(stream)) === 0, 20);
    await relay.stop();
    const tokens = (await drainDecisionQueues()).flatMap((m) =>
      decodeBatch(m.body as Buffer).map((entry) => decisionEventOf(entry).request.jit_token),
    );
    expect(tokens.sort()).toEqual(expect.arrayContaining([...jit_tokens].sort()));
  });

  it('reads a stream when the gateway records a write: everything written by then in one message', async () => {
    const c = { user_token: uniqueToken('u'), card_token: uniqueToken('c') };
    await h.seedCard(c.user_token, c.card_token, { kind: 'business' });
    const first = await h.decide({ ...c, jit_token: uniqueToken('j'), amount_minor: 100n });
    const stream = first.keys.outbox;
    const writes = new OutboxWrites();
    // No sweep after the first: only a recorded write makes this relay read again.
    const relay = relayOf([stream], { sweep_ms: 3_600_000, writes });
    relay.start();
    try {
      await waitUntil(async () => (await h.redis.xlen(stream)) === 0, 20);
      await drainDecisionQueues();
      const messages_before = sample(await metrics.relay_messages.get());
      const jit_tokens = [uniqueToken('j'), uniqueToken('j'), uniqueToken('j'), uniqueToken('j')];
      for (const jit_token of jit_tokens) await h.decide({ ...c, jit_token, amount_minor: 100n });
      expect(await h.redis.xlen(stream)).toBe(jit_tokens.length);
      writes.mark(stream);
      await waitUntil(async () => (await h.redis.xlen(stream)) === 0, 20);
      const messages = await drainDecisionQueues();
      expect(messages).toHaveLength(1);
      const tokens = decodeBatch(messages[0]!.body as Buffer).map(
        (entry) => decisionEventOf(entry).request.jit_token,
      );
      expect(tokens).toEqual(jit_tokens);
      expect(sample(await metrics.relay_messages.get()) - messages_before).toBe(1);
    } finally {
      await relay.stop();
    }
  });
});

function sample(metric: { values: ReadonlyArray<{ value: number }> }): number {
  return metric.values.reduce((sum, { value }) => sum + value, 0);
}
