// Reconciliation for the operator console, served on the worker's internal listener
// (GET /reconcile, http/health-server.ts): every card compared, then the cards that differed
// compared again RECHECK_DELAY_MS later; only what differs both times is reported, so decisions
// still on their way to the ledger (outbox, queues) do not show as differences. Single-flight, the
// result kept REPORT_TTL_MS: any number of consoles cost one reconciliation per interval.

import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { Difference } from './compare.ts';
import { reconcile } from './reconcile.ts';

/** How long a difference must stand before it is reported. */
const RECHECK_DELAY_MS = 3_000;
/** A report is reused this long. */
const REPORT_TTL_MS = 30_000;
/** Cards compared again, and differences listed, at most (the count covers all). */
const RECHECKED_CARDS_MAX = 50;

export interface StandingReport {
  /** When the first comparison started (ISO 8601). */
  readonly at: string;
  readonly cards_checked: number;
  /** Differences seen in both comparisons (card tokens masked by the caller's view). */
  readonly differences: readonly Difference[];
  /** Cards whose differences stood; only the first RECHECKED_CARDS_MAX were compared again. */
  readonly cards_with_differences: number;
  /** Marqeta notifications the ledger disagrees with (program-wide, `npm run reconcile` lists them). */
  readonly notification_findings: number;
}

export interface StandingDeps {
  /** Connected on first use: a worker that never reconciles holds no Redis connection. */
  readonly redis: () => Promise<Redis>;
  readonly sql: PgSql;
  readonly db: Db;
  readonly key_prefix: string;
}

export class StandingDifferences {
  readonly #deps: StandingDeps;
  #latest: { report: StandingReport; at_ms: number } | undefined;
  #running: Promise<StandingReport> | undefined;

  constructor(deps: StandingDeps) {
    this.#deps = deps;
  }

  report(): Promise<StandingReport> {
    if (this.#latest !== undefined && Date.now() - this.#latest.at_ms < REPORT_TTL_MS)
      return Promise.resolve(this.#latest.report);
    this.#running ??= this.#compare().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #compare(): Promise<StandingReport> {
    const at_ms = Date.now();
    const deps = { ...this.#deps, redis: await this.#deps.redis() };
    const first = await reconcile(deps, { card_token: null, scope: 'all' });
    const suspects = [...new Set(first.differences.map((d) => d.card_token))];
    const standing: Difference[] = [];
    let cards_with_differences = 0;
    if (suspects.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, RECHECK_DELAY_MS));
      for (const card_token of suspects.slice(0, RECHECKED_CARDS_MAX)) {
        const again = await reconcile(deps, { card_token, scope: 'checked_cards' });
        const before = new Set(
          first.differences.filter((d) => d.card_token === card_token).map((d) => d.field),
        );
        const still = again.differences.filter((d) => before.has(d.field));
        if (still.length > 0) cards_with_differences++;
        standing.push(...still);
      }
      // Cards past the bound were not compared again: counted as they were found.
      cards_with_differences += Math.max(0, suspects.length - RECHECKED_CARDS_MAX);
    }
    const report: StandingReport = {
      at: new Date(at_ms).toISOString(),
      cards_checked: first.cards_checked,
      differences: standing.slice(0, RECHECKED_CARDS_MAX),
      cards_with_differences,
      notification_findings: first.notifications.length,
    };
    this.#latest = { report, at_ms: Date.now() };
    return report;
  }
}
