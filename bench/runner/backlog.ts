// Backlog over time: decisions in the run's Redis outbox (not yet confirmed by RabbitMQ) and
// messages in the decision queue (not yet persisted by the worker), sampled on an interval.

import type { Redis } from 'ioredis';
import { outboxKeys, type KeyLayout } from '../../shared/redis-keys.ts';
import type { BrokerProbe, DepthSample } from './broker.ts';

export class BacklogSampler {
  readonly samples: DepthSample[] = [];
  readonly #redis: Redis;
  readonly #streams: string[];
  readonly #origin_ms: number;
  #probe: BrokerProbe | null = null;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(redis: Redis, layout: KeyLayout, origin_ms: number) {
    this.#redis = redis;
    this.#streams = outboxKeys(layout);
    this.#origin_ms = origin_ms;
  }

  watch(probe: BrokerProbe): void {
    this.#probe = probe;
  }

  start(interval_ms: number): void {
    this.#timer = setInterval(() => void this.sample(), interval_ms);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async outboxDepth(): Promise<number> {
    // One XLEN per stream: on a cluster the streams live on different masters.
    const lengths = await Promise.all(this.#streams.map((stream) => this.#redis.xlen(stream)));
    return lengths.reduce((sum, length) => sum + length, 0);
  }

  async queueDepth(): Promise<number> {
    return this.#probe ? await this.#probe.decisionQueueDepth() : 0;
  }

  async sample(): Promise<DepthSample | undefined> {
    // A slow sample is skipped rather than stacked.
    if (this.#busy) return undefined;
    this.#busy = true;
    try {
      const [outbox, decisions_queue] = await Promise.all([this.outboxDepth(), this.queueDepth()]);
      const sample = { t_s: (performance.now() - this.#origin_ms) / 1000, outbox, decisions_queue };
      this.samples.push(sample);
      return sample;
    } catch {
      return undefined;
    } finally {
      this.#busy = false;
    }
  }
}
