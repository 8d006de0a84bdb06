// What worker.ts needs from each consumer it runs (decisions, webhooks, Marqeta commands):
// started together from one list, reported together in /ready, stopped together on SIGTERM.

import type { MongoClient } from 'mongodb';
import type { Connection } from 'rabbitmq-client';
import type { WorkerConfig } from '../shared/config.ts';
import type { Logger } from '../shared/logger.ts';
import type { workerMetrics } from '../shared/metrics.ts';
import type { PgSql } from '../shared/stores/postgres.ts';

export interface WorkerDeps {
  readonly config: WorkerConfig;
  readonly log: Logger;
  readonly rabbit: Connection;
  readonly sql: PgSql;
  /**
   * A pool of its own for the personal cards' document locks (shared/stores/document-lock.ts):
   * a lock is held in a transaction for a whole MongoDB write, and a waiting writer holds a
   * connection too, so on the main pool a slow document store would starve the business ledger.
   */
  readonly document_lock_sql: PgSql;
  readonly mongo: MongoClient;
  readonly metrics: ReturnType<typeof workerMetrics>;
}

export interface ConsumerHandle {
  readonly name: string;
  /** Consuming (channel up). */
  isReady(): boolean;
  /** Stops taking messages, finishes or requeues those in hand, closes its channels. */
  close(): Promise<void>;
}

export type ConsumerStarter = (deps: WorkerDeps) => ConsumerHandle;
