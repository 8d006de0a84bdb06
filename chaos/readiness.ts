// Readiness during a run: the gateway's and the worker's readiness probes, polled on a fixed
// interval, so the report can say how each fault showed (or did not show) in readiness and how
// soon it cleared. A fault shows as a 503, or, for a dependency the process works without, as that
// dependency reported down in a 200 body (the gateway decides cached cards without PostgreSQL).

import { request } from 'undici';

const POLL_MS = 250;
/** A probe slower than this counts as not ready (Kubernetes' default timeoutSeconds is 1). */
const PROBE_TIMEOUT_MS = 1_000;
/** Readiness promises to reflect an outage within this (a fault shorter than it may end first). */
export const REFLECT_WITHIN_MS = 2_000;
/** After the load, how long to keep sampling for the last faults to clear (RabbitMQ clients back off up to 5 s). */
const CLEAR_WAIT_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ReadinessSample {
  /** Since the load started. */
  readonly t_ms: number;
  readonly ready: boolean;
  /** Dependencies the body named down. */
  readonly down: readonly string[];
}

export interface ReadinessWindow {
  /** First sample at or after the fault went down that showed it (ms after it); null: never shown. */
  readonly shown_after_ms: number | null;
  /** Whether it showed as a 503 (not only as a dependency reported down). */
  readonly unready: boolean;
  /**
   * First sample after that one no longer showing it, in ms after the fault was undone (0 when it
   * cleared before: a restarted process counts as up once ready); null: never seen cleared.
   */
  readonly cleared_after_ms: number | null;
}

function downIn(body: string): string[] {
  try {
    const checks = (JSON.parse(body) as { checks?: Record<string, { status?: string }> }).checks ?? {};
    return Object.entries(checks)
      .filter(([, check]) => check?.status === 'down')
      .map(([name]) => name);
  } catch {
    return [];
  }
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

  /**
   * Stops the interval, then samples until one shows the process ready with every dependency up
   * (bounded), so each fault's "cleared" is measured even when it ended with the load.
   */
  async stop(): Promise<void> {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    const until_ms = performance.now() + CLEAR_WAIT_MS;
    for (;;) {
      while (this.#busy) await sleep(10);
      await this.#sample();
      const last = this.samples[this.samples.length - 1]!;
      if ((last.ready && last.down.length === 0) || performance.now() > until_ms) return;
      await sleep(POLL_MS);
    }
  }

  async #sample(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    const t_ms = performance.now() - this.#origin_ms;
    let ready = false;
    let down: string[] = [];
    try {
      const response = await request(this.#url, {
        headersTimeout: PROBE_TIMEOUT_MS,
        bodyTimeout: PROBE_TIMEOUT_MS,
      });
      down = downIn(await response.body.text());
      ready = response.statusCode === 200;
    } catch {
      // Refused or too slow: not ready.
    } finally {
      this.#busy = false;
    }
    this.samples.push({ t_ms, ready, down });
  }

  /** How the probe saw one outage [down_at_ms, up_at_ms] of `dependency` (null: the process itself). */
  window(down_at_ms: number, up_at_ms: number, dependency: string | null): ReadinessWindow {
    const shows = (s: ReadinessSample) => !s.ready || (dependency !== null && s.down.includes(dependency));
    const until_ms = Math.max(up_at_ms, down_at_ms + REFLECT_WITHIN_MS);
    const first = this.samples.find((s) => s.t_ms >= down_at_ms && s.t_ms <= until_ms && shows(s));
    if (first === undefined) return { shown_after_ms: null, unready: false, cleared_after_ms: null };
    const cleared = this.samples.find((s) => s.t_ms > first.t_ms && !shows(s));
    const unready = this.samples.some(
      (s) => s.t_ms >= first.t_ms && (cleared === undefined || s.t_ms < cleared.t_ms) && !s.ready,
    );
    return {
      shown_after_ms: Math.round(first.t_ms - down_at_ms),
      unready,
      cleared_after_ms: cleared === undefined ? null : Math.max(0, Math.round(cleared.t_ms - up_at_ms)),
    };
  }
}
