// Outbox relay: moves decisions from the Redis outbox streams (written by the decision
// script) to RabbitMQ, with publisher confirms, then acknowledges and deletes them from Redis.
// Entries of one read bound for the same routing key travel together in one message, a
// decision batch (shared/decision-batch.ts) of at most batch_max entries and batch_bytes_max
// bytes; entries pass through unparsed (the worker decodes them). Whatever one XREADGROUP
// returns is sent at once: no waiting for a fuller batch. At-least-once: an entry leaves Redis only after the broker confirmed it;
// the worker deduplicates on the JIT token.
//
// Survives restarts: entries read but not confirmed stay pending in the consumer group.
// A relay first re-reads its own pending entries (stable consumer name), and periodically
// claims entries left pending by a relay that died (XAUTOCLAIM after claim_idle_ms).
//
// On a single Redis one blocking XREADGROUP covers every shard stream. On a Redis Cluster the
// streams live in different slots (a multi-key read would fail with CROSSSLOT), so each stream
// is read on its own, on the master that owns its slot, without BLOCK (a blocked read would hold
// up the other reads sharing that node's connection): the streams this gateway's scripts wrote
// (outbox-writes.ts) as soon as they are written, and every stream once per sweep_ms. Every
// relay reads every stream in one consumer group, so
// the streams of a relay that dies are served by the others' sweeps, and what it held pending is
// claimed.

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
  /** How long one blocking read waits for new entries (single Redis). */
  readonly block_ms: number;
  /** Redis Cluster: how often every stream is read, written by this gateway or not. */
  readonly sweep_ms: number;
  /**
   * The pause between reading new entries and relaying them. A read wakes on the decision
   * script's XADD, before the gateway has answered that decision: relaying at once put the
   * relay's work, and the broker's and the worker's wake-ups, on the answer's path (at 40
   * decisions/s: p50 4-7 ms without the relay, 12-16 ms with it on this 2-core machine).
   */
  readonly linger_ms: number;
  /** Backoff after a failed publish or read, doubling up to retry_max_ms. */
  readonly retry_min_ms: number;
  readonly retry_max_ms: number;
}

export const RELAY_DEFAULTS = Object.freeze({
  block_ms: 500,
  sweep_ms: 1_000,
  linger_ms: 2,
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

export type RelayMetrics = Pick<ReturnType<typeof gatewayMetrics>, 'relay_lag' | 'relayed'>;

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
  /** The streams of each XREADGROUP: all in one on a single Redis, one each on a cluster. */
  readonly #reads: ReadonlyArray<readonly string[]>;
  readonly #log: Logger;
  readonly #metrics: RelayMetrics;
  /** Redis Cluster: the streams written by this gateway, read without waiting for a sweep. */
  readonly #writes: OutboxWrites;
  /** Redis Cluster: when every stream is read next (performance.now() ms). */
  #next_sweep_ms = 0;
  #running = false;
  #stopped: Promise<void> = Promise.resolve();
  readonly stats: RelayStats = { published_total: 0, messages_total: 0, last_lag_ms: 0 };

  /**
   * `redis` must be a connection of its own: the relay blocks on it. `writes`: the gateway's
   * record of outbox writes on a cluster; without it the relay reads every stream per sweep only.
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
    this.#reads = isCluster(redis) ? options.streams.map((stream) => [stream]) : [options.streams];
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
        const entries = await this.#read(own_pending ? '0' : '>');
        if (own_pending && entries.length === 0) own_pending = false;
        if (entries.length > 0) {
          if (!own_pending) await new Promise((resolve) => setTimeout(resolve, this.#options.linger_ms));
          await this.#relay(entries);
        }
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

  async #read(from: '0' | '>'): Promise<Array<{ stream: string; id: string; fields: string[] }>> {
    const { consumer_name, batch_max, block_ms } = this.#options;
    // Blocking is safe only when this read is the one command in flight on its connection.
    const block = from === '>' && this.#reads.length === 1;
    const reads = from === '>' && !block ? this.#clusterReads() : this.#reads;
    const replies = await Promise.all(
      reads.map((streams) => {
        const args: Array<string | number> = ['GROUP', RELAY_GROUP, consumer_name, 'COUNT', batch_max];
        if (block) args.push('BLOCK', block_ms);
        args.push('STREAMS', ...streams, ...streams.map(() => from));
        return this.#redis.call('XREADGROUP', ...args) as Promise<StreamReply>;
      }),
    );
    const entries: Array<{ stream: string; id: string; fields: string[] }> = [];
    for (const reply of replies) {
      for (const [stream, list] of streamsOf(reply)) {
        // A full read may have left entries behind: read that stream again next round.
        if (list.length >= batch_max && !block) this.#writes.mark(stream);
        for (const [id, fields] of list) {
          // A pending entry deleted meanwhile comes back with null fields: ack it away.
          if (fields === null) await this.#redis.xack(stream, RELAY_GROUP, id);
          else entries.push({ stream, id, fields });
        }
      }
    }
    if (from === '>' && !block && entries.length === 0) await this.#untilNextRead();
    return entries;
  }

  /** Redis Cluster: every stream when a sweep is due, else the streams written since the last read. */
  #clusterReads(): ReadonlyArray<readonly string[]> {
    const written = this.#writes.take();
    if (performance.now() < this.#next_sweep_ms) return written.map((stream) => [stream]);
    this.#next_sweep_ms = performance.now() + this.#options.sweep_ms;
    return this.#reads;
  }

  /** Redis Cluster, nothing read: until this gateway writes a stream or the next sweep is due. */
  async #untilNextRead(): Promise<void> {
    await this.#writes.wait(Math.max(0, this.#next_sweep_ms - performance.now()));
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
    // One pipeline per XREADGROUP's streams: a cluster pipeline may touch one slot only.
    const pipelines = new Map<string, ChainableCommander>();
    for (const [stream, ids] of ids_by_stream) {
      const group = this.#reads.length === 1 ? '' : stream;
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
  }
}
