// Background dependency monitor: each check runs every `interval_ms`, bounded by `timeout_ms`, and
// the latest result is kept, so a readiness probe answers at once from memory and reflects an outage
// within interval_ms + timeout_ms (1.25 s with the defaults; the design promises 2 s). Polls of one
// check never overlap, so a hung store costs at most one pending call per timeout.

import { type Check, type CheckResult, runCheck } from './health.ts';

export const MONITOR_INTERVAL_MS = 250;
export const MONITOR_TIMEOUT_MS = 1_000;

export interface MonitorOptions {
  readonly interval_ms?: number;
  readonly timeout_ms?: number;
}

export class DependencyMonitor {
  readonly #checks: Readonly<Record<string, Check>>;
  readonly #interval_ms: number;
  readonly #timeout_ms: number;
  readonly #latest = new Map<string, CheckResult>();
  readonly #in_flight = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(checks: Readonly<Record<string, Check>>, options: MonitorOptions = {}) {
    this.#checks = checks;
    this.#interval_ms = options.interval_ms ?? MONITOR_INTERVAL_MS;
    this.#timeout_ms = options.timeout_ms ?? MONITOR_TIMEOUT_MS;
    if (!(this.#interval_ms > 0 && this.#timeout_ms > 0))
      throw new Error('monitor interval and timeout must be positive');
  }

  /** Runs every check now and then on the interval; resolves once each has a first result. */
  async start(): Promise<void> {
    this.#timer = setInterval(() => void this.#pollAll(), this.#interval_ms);
    this.#timer.unref();
    await this.#pollAll();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Unknown (never checked yet) counts as down. */
  isUp(name: string): boolean {
    if (!(name in this.#checks)) throw new Error(`no such monitored dependency: ${name}`);
    return this.#latest.get(name)?.status === 'up';
  }

  /** The latest result of every check, in declaration order. */
  snapshot(): Record<string, CheckResult> {
    const report: Record<string, CheckResult> = {};
    for (const name of Object.keys(this.#checks)) {
      report[name] = this.#latest.get(name) ?? { status: 'down', latency_ms: 0, error: 'not checked yet' };
    }
    return report;
  }

  async #pollAll(): Promise<void> {
    await Promise.all(Object.keys(this.#checks).map((name) => this.#poll(name)));
  }

  async #poll(name: string): Promise<void> {
    if (this.#in_flight.has(name)) return;
    this.#in_flight.add(name);
    try {
      this.#latest.set(name, await runCheck(this.#checks[name]!, this.#timeout_ms));
    } finally {
      this.#in_flight.delete(name);
    }
  }
}
