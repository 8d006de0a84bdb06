// The delivery record (PostgreSQL webhook_deliveries + webhook_delivery_attempts): one row per
// (endpoint, event), unique, so a redelivered event is not sent again once delivered.

import type { Logger } from '../../shared/logger.ts';
import { type PgSql, timed } from '../../shared/stores/postgres.ts';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'dead';

export interface Delivery {
  readonly id: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly window_started_at: Date;
}

export interface AttemptOutcome {
  readonly delivered: boolean;
  readonly status_code: number | null;
  readonly error: string | null;
  readonly duration_ms: number;
}

const ERROR_CHARS_MAX = 500;

export class DeliveryLog {
  readonly #sql: PgSql;
  readonly #log: Logger;

  constructor(sql: PgSql, log: Logger) {
    this.#sql = sql;
    this.#log = log;
  }

  /**
   * The delivery of this event to this endpoint, created as `pending` on first sight.
   * `revive` (an operator replayed a dead-lettered delivery) turns `dead` back into `pending`
   * with a fresh retry window. The body is kept (first version) for retries asked through the API.
   */
  async open(
    endpoint_id: string,
    event: { readonly id: string; readonly type: string; readonly raw_body: string },
    revive: boolean,
  ): Promise<Delivery> {
    const rows = await timed(
      this.#log,
      'webhooks.open_delivery',
      () =>
        this.#sql<Array<Delivery & { id: bigint }>>`
        INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, status, payload)
        VALUES (${endpoint_id}, ${event.id}, ${event.type}, 'pending', ${event.raw_body})
        ON CONFLICT (endpoint_id, event_id) DO UPDATE
          SET status = CASE WHEN ${revive} AND webhook_deliveries.status = 'dead' THEN 'pending'
                            ELSE webhook_deliveries.status END,
              window_started_at = CASE WHEN ${revive} AND webhook_deliveries.status = 'dead' THEN now()
                                       ELSE webhook_deliveries.window_started_at END,
              payload = coalesce(webhook_deliveries.payload, EXCLUDED.payload),
              updated_at = now()
        RETURNING id, status, attempts, window_started_at`,
    );
    const row = rows[0]!;
    return { ...row, id: String(row.id) };
  }

  /** Records one attempt and its outcome; returns the attempt count so far. */
  async recordAttempt(delivery_id: string, outcome: AttemptOutcome): Promise<number> {
    const error = outcome.error?.slice(0, ERROR_CHARS_MAX) ?? null;
    const rows = await timed(
      this.#log,
      'webhooks.record_attempt',
      () =>
        this.#sql<Array<{ attempts: number }>>`
        WITH d AS (
          UPDATE webhook_deliveries
             SET attempts = attempts + 1,
                 -- A duplicate consumer's late failure never un-delivers a delivery.
                 status = CASE WHEN status = 'delivered' THEN 'delivered'
                               ELSE ${outcome.delivered ? 'delivered' : 'failed'} END,
                 last_status_code = ${outcome.status_code},
                 last_error = ${error},
                 last_duration_ms = ${Math.round(outcome.duration_ms)},
                 last_attempt_at = now(),
                 delivered_at = CASE WHEN ${outcome.delivered} THEN now() ELSE delivered_at END,
                 updated_at = now()
           WHERE id = ${delivery_id}
          RETURNING id, attempts),
        a AS (
          INSERT INTO webhook_delivery_attempts (delivery_id, attempt, status_code, error, duration_ms)
          SELECT id, attempts, ${outcome.status_code}, ${error}, ${Math.round(outcome.duration_ms)} FROM d
          ON CONFLICT DO NOTHING)
        SELECT attempts FROM d`,
    );
    return rows[0]?.attempts ?? 0;
  }

  async markDead(delivery_id: string, reason: string): Promise<void> {
    await timed(
      this.#log,
      'webhooks.mark_dead',
      () =>
        this.#sql`
        UPDATE webhook_deliveries
           SET status = 'dead', last_error = coalesce(last_error, ${reason.slice(0, ERROR_CHARS_MAX)}), updated_at = now()
         WHERE id = ${delivery_id} AND status <> 'delivered'`,
    );
  }
}
