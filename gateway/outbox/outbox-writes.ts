// The outbox streams this gateway's scripts wrote since its relay last looked, and the relay's
// wake-up. The relay reads the streams written here when they are written (after its linger),
// and sweeps them all now and then for entries no relay was told of (a gateway that died before
// its relay read them). Polling instead cost, on a cluster (one read per stream: all 64 every
// 20 ms), ~3,200 reads/s per idle gateway; a blocking read (single Redis) woke the relay on the
// first XADD of each batch, before the gateway had answered it.

import type { DecisionScripts } from '../decide/scripts.ts';

export class OutboxWrites {
  #written = new Set<string>();
  #wake: (() => void) | null = null;

  /** A script that writes `stream` ran (or may have: a failed call is counted too). */
  mark(stream: string): void {
    this.#written.add(stream);
    this.interrupt();
  }

  /** The streams marked since the last take. */
  take(): string[] {
    const streams = [...this.#written];
    this.#written.clear();
    return streams;
  }

  /** Resolves at the next mark or interrupt, or after `timeout_ms`; at once if a stream is marked. */
  wait(timeout_ms: number): Promise<void> {
    if (this.#written.size > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, timeout_ms);
      this.#wake = done;
    });
  }

  /** Ends a wait without a stream (the relay is stopping). */
  interrupt(): void {
    this.#wake?.();
  }
}

/** The scripts that write the outbox (decide, void), each call marking its shard's stream. */
export function withOutboxWrites(scripts: DecisionScripts, writes: OutboxWrites): DecisionScripts {
  return {
    ...scripts,
    async decide(keys, args) {
      try {
        return await scripts.decide(keys, args);
      } finally {
        writes.mark(keys.outbox);
      }
    },
    async void(keys, args) {
      try {
        return await scripts.void(keys, args);
      } finally {
        writes.mark(keys.outbox);
      }
    },
  };
}
