// Hold expiry: authorizations that were never cleared or reversed release their hold (and the
// spend they counted) after HOLD_EXPIRY_DAYS. One gateway at a time scans (a Redis lock per
// interval); each release runs through the decision script with the token `expired:<group>`,
// so a repeated scan, or two gateways, release a hold once. The worker then marks it expired.

import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { DecisionStatus } from '../../shared/decision-status.ts';
import type { Logger } from '../../shared/logger.ts';
import { type DecisionRequest, EXPIRED_METHOD } from '../../shared/messages.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { Decider } from '../decide/decider.ts';
import { ledgerCommandRequest } from '../decide/ledger-command.ts';

export interface HoldExpiryOptions {
  readonly hold_expiry_days: number;
  readonly scan_interval_ms: number;
  /** Holds released per scan at most; the next scan continues. */
  readonly batch_max: number;
  readonly lock_key: string;
  readonly program_time_zone: string;
}

export interface ExpiringHold {
  readonly group_token: string;
  readonly card_token: string;
  readonly user_token: string;
  readonly currency_code: string;
}

export function expiryRequest(hold: ExpiringHold, now_ms: number, time_zone: string): DecisionRequest {
  return ledgerCommandRequest(
    {
      jit_token: `expired:${hold.group_token}`,
      original_jit_token: hold.group_token,
      mode: 'release',
      method: EXPIRED_METHOD,
      card_token: hold.card_token,
      user_token: hold.user_token,
      amount_minor: 0n,
      currency_code: hold.currency_code,
    },
    now_ms,
    time_zone,
  );
}

export class HoldExpiry {
  readonly #sql: PgSql;
  readonly #mongo: Db;
  readonly #redis: Redis;
  readonly #decider: Decider;
  readonly #options: HoldExpiryOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;

  constructor(
    sql: PgSql,
    mongo: Db,
    redis: Redis,
    decider: Decider,
    options: HoldExpiryOptions,
    log: Logger,
  ) {
    this.#sql = sql;
    this.#mongo = mongo;
    this.#redis = redis;
    this.#decider = decider;
    this.#options = options;
    this.#log = log;
  }

  start(): void {
    this.#timer = setInterval(() => void this.scanIfLeader(), this.#options.scan_interval_ms);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  /** Runs one scan when this gateway wins the interval's lock. */
  async scanIfLeader(): Promise<number> {
    if (this.#running) return 0;
    const won = await this.#redis
      .set(this.#options.lock_key, '1', 'PX', this.#options.scan_interval_ms, 'NX')
      .catch(() => null);
    if (won !== 'OK') return 0;
    this.#running = this.scan().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Releases up to batch_max expired holds; returns how many were released. */
  async scan(now_ms = Date.now()): Promise<number> {
    const cutoff = new Date(now_ms - this.#options.hold_expiry_days * 86_400_000);
    let released = 0;
    try {
      const business = await this.#sql<ExpiringHold[]>`
        SELECT group_token, card_token, user_token, currency_code FROM authorization_holds
         WHERE state = 'pending' AND held_minor > 0 AND created_at < ${cutoff}
         ORDER BY created_at LIMIT ${this.#options.batch_max}`;
      const personal = await this.#mongo
        .collection<ExpiringHold & { _id: string }>('personal_holds')
        .find({ state: 'pending', held_minor: { $gt: 0 }, created_at: { $lt: cutoff } })
        .sort({ created_at: 1 })
        .limit(this.#options.batch_max)
        .toArray();
      const holds = [...business, ...personal.map((p) => ({ ...p, group_token: p._id }))];
      for (const hold of holds) {
        const outcome = await this.#decider.decide(
          expiryRequest(hold, now_ms, this.#options.program_time_zone),
          // A Redis error mid-expiry records no void (it would block the retried release).
          { partial_capable: false, ledger_command: true },
        );
        if (outcome.status_code === DecisionStatus.APPROVED && !outcome.replayed) released++;
        else if (outcome.replayed) continue;
        else
          this.#log.warn(
            { group_token: hold.group_token, status: outcome.status_code },
            'hold expiry not applied',
          );
      }
    } catch (error) {
      this.#log.error({ err: error }, 'hold expiry scan failed; the next scan retries');
    }
    if (released > 0) this.#log.info({ released }, 'expired holds released');
    return released;
  }
}
