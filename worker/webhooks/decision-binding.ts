// Keeps the webhook queue's decision binding as the endpoints want it (shared/webhooks/
// decision-binding.ts): applied when the consumer starts or reconnects, then every interval_ms,
// so a broker that lost its bindings, or an endpoint changed outside the API, is followed
// within that time. One application at a time; a failure is logged and retried next interval.

import type { Connection } from 'rabbitmq-client';
import type { Logger } from '../../shared/logger.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { applyDecisionBinding, takesDecisionBinding } from '../../shared/webhooks/decision-binding.ts';

export const DECISION_BINDING_INTERVAL_MS = 5_000;

export class DecisionBindingKeeper {
  readonly #sql: PgSql;
  readonly #rabbit: Connection;
  readonly #queue: string;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #applying: Promise<void> | null = null;

  constructor(sql: PgSql, rabbit: Connection, queue: string, log: Logger) {
    this.#sql = sql;
    this.#rabbit = rabbit;
    this.#queue = queue;
    this.#log = log;
  }

  /** Applies now, then every interval_ms (a second start only applies now); nothing for a queue that takes no binding. */
  start(interval_ms: number = DECISION_BINDING_INTERVAL_MS): void {
    if (!takesDecisionBinding(this.#queue)) return;
    void this.apply();
    this.#timer ??= setInterval(() => void this.apply(), interval_ms);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#applying;
  }

  /** One application (joined if one is running). */
  apply(): Promise<void> {
    this.#applying ??= this.#sql
      .begin((tx) => applyDecisionBinding(tx, this.#rabbit, this.#queue))
      .then(
        () => undefined,
        (error: unknown) =>
          this.#log.warn(
            { err: error, queue: this.#queue },
            'webhook decision binding not applied; will retry',
          ),
      )
      .finally(() => {
        this.#applying = null;
      });
    return this.#applying;
  }
}
