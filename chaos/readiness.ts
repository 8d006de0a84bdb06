// Readiness during a run: the gateway's and the worker's readiness probes, polled on a fixed
// interval, so the report can say how each fault showed (or did not show) in readiness and how
// soon it recovered.

import { request } from 'undici';

const POLL_MS = 250;
/** A probe slower than this counts as not ready (Kubernetes' default timeoutSeconds is 1). */
const PROBE_TIMEOUT_MS = 1_000;

export interface ReadinessSample {
  /** Since the load started. */
  readonly t_ms: number;
  readonly ready: boolean;
}

export interface ReadinessWindow {
  /** First not-ready sample at or after the fault went down (ms after it), null: stayed ready. */
  readonly unready_after_ms: number | null;
  /**
   * First ready sample after the not-ready one, in ms after the fault was undone (0 when it was
   * ready again before: a restarted process counts as up once ready); null: never seen ready again.
   */
  readonly ready_again_after_ms: number | null;
}

export class ReadinessProbe {
  readonly samples: ReadinessSample[] = [];
  readonly #url: string;
  #timer: NodeJS.Timeout | undefined;
  #origin_ms = 0;
  #busy = false;

  constructor(url: string) {
    this.#url = url;
  }

  start(origin_ms: number): void {
    this.#origin_ms = origin_ms;
    this.#timer = setInterval(() => void this.#sample(), POLL_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #sample(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    const t_ms = performance.now() - this.#origin_ms;
    let ready = false;
    try {
      const response = await request(this.#url, { headersTimeout: PROBE_TIMEOUT_MS, bodyTimeout: PROBE_TIMEOUT_MS });
      await response.body.dump();
      ready = response.statusCode === 200;
    } catch {
      // Refused or too slow: not ready.
    } finally {
      this.#busy = false;
    }
    this.samples.push({ t_ms, ready });
  }

  /** How the probe saw one outage [down_at_ms, up_at_ms]. */
  window(down_at_ms: number, up_at_ms: number): ReadinessWindow {
    const unready = this.samples.find((s) => s.t_ms >= down_at_ms && s.t_ms <= up_at_ms && !s.ready);
    if (unready === undefined) return { unready_after_ms: null, ready_again_after_ms: null };
    const ready_again = this.samples.find((s) => s.t_ms > unready.t_ms && s.ready);
    return {
      unready_after_ms: Math.round(unready.t_ms - down_at_ms),
      ready_again_after_ms: ready_again === undefined ? null : Math.max(0, Math.round(ready_again.t_ms - up_at_ms)),
    };
  }
}
