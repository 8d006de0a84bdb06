// Outbox relay: moves decisions from the Redis outbox streams (written by the decision
// script) to RabbitMQ, with publisher confirms, then acknowledges and deletes them from Redis.
// Entries of one read bound for the same routing key travel together in one message, a
// decision batch (shared/decision-batch.ts) of at most message_decisions_max entries and
// message_bytes_max bytes; entries pass through unparsed (the worker decodes them).
// At-least-once: an entry leaves Redis only after the broker confirmed it; the worker
// deduplicates on the JIT token.
//
// When to read: the gateway's scripts record the streams they wrote (outbox-writes.ts); the relay
// wakes on that record, lingers linger_ms so that the decisions of those milliseconds travel
// together, then reads the written streams without BLOCK. Every stream is also read once per
// sweep_ms, for entries no relay was told of (a gateway that died before its relay read them).
// A blocking XREADGROUP woke the relay on the first XADD of every batch (a Redis reply and a
// wake-up more per batch) and relayed only what that one read returned.
// On a Redis Cluster the streams live in different slots (a multi-key read would fail with
// CROSSSLOT), so each stream is read on its own, on the master that owns its slot; on a single
// Redis one XREADGROUP covers every stream read.
//
// Survives restarts: entries read but not confirmed stay pending in the consumer group.
// A relay first re-reads its own pending entries (stable consumer name), and periodically
// claims entries left pending by a relay that died (XAUTOCLAIM after claim_idle_ms). Every
// relay reads every stream in one consumer group, so the streams of a relay that dies are
// served by the others' sweeps, and what it held pending is claimed.

import type { ChainableCommander, Redis } from 'ioredis';
import type { Connection, Publisher } from 'rabbitmq-client';
import { EXCHANGE_EVENTS, exchanges, queueBindings, queues } from '../../shared/broker/topology.ts';
import { CONTENT_TYPE_DECISION_BATCH, encodeBatch } from '../../shared/decision-batch.ts';
import type { Logger } from '../../shared/logger.ts';
import type { gatewayMetrics } from '../../shared/metrics.ts';
import { isCluster } from '../../shared/stores/redis.ts';
import { OutboxWrites } from './outbox-writes.ts';
import { packBatches } from './pack-batches.ts';

export const RELAY_GROUP = 'relay';

export interface RelayOptions {
  readonly streams: readonly string[];
  readonly consumer_name: string;
  /** Outbox entries read at once (XREADGROUP COUNT). */
  readonly batch_max: number;
  /** Decisions per message, and bytes per message body (an entry larger than this goes alone). */
  readonly message_decisions_max: number;
  readonly message_bytes_max: number;
  readonly claim_idle_ms: number;
  /** How often every stream is read, written by this gateway or not. */
  readonly sweep_ms: number;
  /**
   * The pause between a write and the read that relays it. The decisions written meanwhile
   * travel in the same messages; relaying at once also put the relay's work, and the broker's
   * and the worker's wake-ups, on the answers' path (at 40 decisions/s: p50 4-7 ms without the
   * relay, 12-16 ms with it on this 2-core machine).
   */
  readonly linger_ms: number;
  /** Backoff after a failed publish or read, doubling up to retry_max_ms. */
  readonly retry_min_ms: number;
  readonly retry_max_ms: number;
}

export const RELAY_DEFAULTS = Object.freeze({
  sweep_ms: 1_000,
  retry_min_ms: 100,
  retry_max_ms: 5_000,
});

type StreamEntry = [id: string, fields: string[] | null];
/** RESP2 gives [[stream, entries], ...]; RESP3 (a map) comes flattened as [stream, entries, ...]. */
type StreamReply = Array<[string, StreamEntry[]]> | Array<string | StreamEntry[]> | null;

function streamsOf(reply: StreamReply): Array<[string, StreamEntry[]]> {
  if (reply === null || reply.length === 0) return [];
  if (Array.isArray(reply[0])) return reply as Array<[string, StreamEntry[]]>;
  const pairs: Array<[string, StreamEntry[]]> = [];
  for (let i = 0; i + 1 < reply.length; i += 2)
    pairs.push([reply[i] as string, reply[i + 1] as StreamEntry[]]);
  return pairs;
}

export type RelayMetrics = Pick<
  ReturnType<typeof gatewayMetrics>,
  'relay_lag' | 'relayed' | 'relay_messages'
>;

export interface RelayStats {
  /** Decisions confirmed, and the messages that carried them. */
  published_total: number;
  messages_total: number;
  /** Outbox entry age at publish time (ms), last batch's maximum. */
  last_lag_ms: number;
}

export class OutboxRelay {
  readonly #redis: Redis;
  readonly #publisher: Publisher;
  /** Message ids the broker returned as unroutable (mandatory flag) in the current batch. */
  readonly #returned = new Set<string>();
  readonly #options: RelayOptions;
  /** Redis Cluster: streams of different slots go in different XREADGROUPs. */
  readonly #cluster: boolean;
  readonly #log: Logger;
  readonly #metrics: RelayMetrics;
  /** The streams written by this gateway, read without waiting for a sweep. */
  readonly #writes: OutboxWrites;
  /** When every stream is read next (performance.now() ms). */
  #next_sweep_ms = 0;
  #running = false;
  #stopped: Promise<void> = Promise.resolve();
  readonly stats: RelayStats = { published_total: 0, messages_total: 0, last_lag_ms: 0 };

  /**
   * `redis`: a connection of its own, so the relay's reads and acks never queue ahead of a
   * decision. `writes`: the gateway's record of outbox writes; without it the relay reads
   * every stream per sweep only.
   */
  constructor(
    redis: Redis,
    rabbit: Connection,
    options: RelayOptions,
    log: Logger,
    metrics: RelayMetrics,
    writes: OutboxWrites | null = null,
  ) {
    this.#redis = redis;
    // The topology is declared on every (re)connect, before the first publish.
    this.#publisher = rabbit.createPublisher({
      confirm: true,
      maxAttempts: 1,
      exchanges: exchanges.map((e) => ({ ...e })),
      queues: queues.map((q) => ({ ...q, arguments: { ...q.arguments } })),
      queueBindings: queueBindings.map((b) => ({ ...b })),
      onReturn: (message) => {
        if (message.messageId) this.#returned.add(message.messageId);
      },
    });
    this.#options = options;
    this.#cluster = isCluster(redis);
    this.#log = log;
    this.#metrics = metrics;
    this.#writes = writes ?? new OutboxWrites();
  }

  start(): void {
    this.#running = true;
    this.#stopped = this.#loop();
  }

  async #ensureGroups(): Promise<void> {
    for (const stream of this.#options.streams) {
      try {
        // From id 0: entries written before the group existed are relayed too.
        await this.#redis.xgroup('CREATE', stream, RELAY_GROUP, '0', 'MKSTREAM');
      } catch (error) {
        if (!String(error).includes('BUSYGROUP')) throw error;
      }
    }
  }

  /** Finishes the batch in hand, then returns. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#writes.interrupt();
    await this.#stopped;
    await this.#publisher.close();
  }

  async #loop(): Promise<void> {
    let own_pending = true;
    let backoff_ms = this.#options.retry_min_ms;
    let next_claim_ms = 0;
    let groups_ready = false;
    while (this.#running) {
      try {
        if (!groups_ready) {
          await this.#ensureGroups();
          groups_ready = true;
        }
        if (Date.now() >= next_claim_ms) {
          await this.#claimAbandoned();
          next_claim_ms = Date.now() + Math.max(1_000, this.#options.claim_idle_ms / 2);
        }
        if (!own_pending) {
          await this.#writes.wait(Math.max(0, this.#next_sweep_ms - performance.now()));
          if (!this.#running) break;
          await new Promise((resolve) => setTimeout(resolve, this.#options.linger_ms));
        }
        const entries = await this.#read(own_pending ? '0' : '>');
        if (own_pending && entries.length === 0) own_pending = false;
        if (entries.length > 0) await this.#relay(entries);
        backoff_ms = this.#options.retry_min_ms;
      } catch (error) {
        this.#log.error({ err: error, backoff_ms }, 'outbox relay failed; will retry');
        // A Redis that lost its data has lost the consumer group too.
        if (String(error).includes('NOGROUP')) groups_ready = false;
        // Whatever was read stays pending in the group; re-read it after the backoff.
        own_pending = true;
        await new Promise((resolve) => setTimeout(resolve, backoff_ms));
        backoff_ms = Math.min(backoff_ms * 2, this.#options.retry_max_ms);
      }
    }
  }

  /** From '0': this relay's pending entries, every stream. From '>': new entries (#streamsToRead). */
  async #read(from: '0' | '>'): Promise<Array<{ stream: string; id: string; fields: string[] }>> {
    const { consumer_name, batch_max } = this.#options;
    const streams = from === '0' ? this.#options.streams : this.#streamsToRead();
    const reads = this.#cluster ? streams.map((stream) => [stream]) : [streams];
    const replies = await Promise.all(
      reads
        .filter((read) => read.length > 0)
        .map(
          (read) =>
            this.#redis.call(
              'XREADGROUP',
              'GROUP',
              RELAY_GROUP,
              consumer_name,
              'COUNT',
              batch_max,
              'STREAMS',
              ...read,
              ...read.map(() => from),
            ) as Promise<StreamReply>,
        ),
    );
    const entries: Array<{ stream: string; id: string; fields: string[] }> = [];
    for (const reply of replies) {
      for (const [stream, list] of streamsOf(reply)) {
        // A full read may have left entries behind: read that stream again next round.
        if (list.length >= batch_max && from === '>') this.#writes.mark(stream);
        for (const [id, fields] of list) {
          // A pending entry deleted meanwhile comes back with null fields: ack it away.
          if (fields === null) await this.#redis.xack(stream, RELAY_GROUP, id);
          else entries.push({ stream, id, fields });
        }
      }
    }
    return entries;
  }

  /** Every stream when a sweep is due, else the streams written since the last read. */
  #streamsToRead(): readonly string[] {
    const written = this.#writes.take();
    if (performance.now() < this.#next_sweep_ms) return written;
    this.#next_sweep_ms = performance.now() + this.#options.sweep_ms;
    return this.#options.streams;
  }

  async #claimAbandoned(): Promise<void> {
    const { streams, consumer_name, claim_idle_ms, batch_max } = this.#options;
    for (const stream of streams) {
      const reply = (await this.#redis.call(
        'XAUTOCLAIM',
        stream,
        RELAY_GROUP,
        consumer_name,
        claim_idle_ms,
        '0',
        'COUNT',
        batch_max,
      )) as [string, StreamEntry[], string[]?];
      const claimed = reply[1].filter((entry): entry is [string, string[]] => entry[1] !== null);
      if (claimed.length > 0) {
        this.#log.warn({ stream, claimed: claimed.length }, 'claimed outbox entries of a dead relay');
        await this.#relay(claimed.map(([id, fields]) => ({ stream, id, fields })));
      }
    }
  }

  async #relay(entries: Array<{ stream: string; id: string; fields: string[] }>): Promise<void> {
    const now_ms = Date.now();
    let lag_ms = 0;
    this.#returned.clear();
    const { message_decisions_max, message_bytes_max } = this.#options;
    const { batches, decided_at_ms } = packBatches(entries, message_decisions_max, message_bytes_max);
    for (const decided_ms of decided_at_ms) lag_ms = Math.max(lag_ms, now_ms - decided_ms);
    await Promise.all(
      batches.map((batch) =>
        this.#publisher.send(
          {
            exchange: EXCHANGE_EVENTS,
            routingKey: batch.routing_key,
            durable: true,
            mandatory: true,
            contentType: CONTENT_TYPE_DECISION_BATCH,
            messageId: batch.message_id,
            timestamp: Math.floor(now_ms / 1000),
          },
          encodeBatch(batch.lines),
        ),
      ),
    );
    // A returned message reached no queue: keep the entries pending and retry (duplicates are fine).
    if (batches.some((batch) => this.#returned.has(batch.message_id))) {
      throw new Error('broker returned unroutable decisions; is the decisions queue bound?');
    }
    // Confirmed by the broker: now the entries may leave Redis (one XACK and one XDEL per stream).
    const ids_by_stream = new Map<string, string[]>();
    for (const { stream, id } of entries) {
      const ids = ids_by_stream.get(stream);
      if (ids) ids.push(id);
      else ids_by_stream.set(stream, [id]);
    }
    // One pipeline per stream on a cluster: a cluster pipeline may touch one slot only.
    const pipelines = new Map<string, ChainableCommander>();
    for (const [stream, ids] of ids_by_stream) {
      const group = this.#cluster ? stream : '';
      let pipeline = pipelines.get(group);
      if (pipeline === undefined) {
        pipeline = this.#redis.pipeline();
        pipelines.set(group, pipeline);
      }
      pipeline.xack(stream, RELAY_GROUP, ...ids);
      pipeline.xdel(stream, ...ids);
    }
    await Promise.all([...pipelines.values()].map((pipeline) => pipeline.exec()));
    this.stats.published_total += entries.length;
    this.stats.messages_total += batches.length;
    this.stats.last_lag_ms = lag_ms;
    const confirmed_ms = Date.now();
    for (const decided_ms of decided_at_ms)
      this.#metrics.relay_lag.observe((confirmed_ms - decided_ms) / 1000);
    this.#metrics.relayed.inc(entries.length);
    this.#metrics.relay_messages.inc(batches.length);
  }
}
