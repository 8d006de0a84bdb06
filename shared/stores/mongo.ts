// MongoDB client: pool of 2-10 connections (design card), bounded server selection so a
// missing server fails fast instead of hanging a request.
//
// The driver connects on first use. If that first connect fails (MongoDB down when the process
// starts), mongodb 7.x closes the new topology but keeps it on the client, so every later
// operation fails with "Topology is closed" until the process restarts (found by chaos: a
// worker restarted during a FerretDB kill dead-lettered decisions and never became ready).
// So the client connects by itself, again after each failure, until one connect succeeds;
// from then on the driver's own monitors reconnect through outages.

import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';

const CONNECT_RETRY_MIN_MS = 100;
const CONNECT_RETRY_MAX_MS = 2_000;

export interface MongoOptions {
  readonly uri: string;
  readonly app_name: string;
  readonly server_selection_timeout_ms?: number;
}

class SelfConnectingMongoClient extends MongoClient {
  #closed = false;

  constructor(...args: ConstructorParameters<typeof MongoClient>) {
    super(...args);
    void this.#connectUntilUp();
  }

  override async close(force?: boolean): Promise<void> {
    this.#closed = true;
    await super.close(force);
  }

  async #connectUntilUp(): Promise<void> {
    let backoff_ms = CONNECT_RETRY_MIN_MS;
    while (!this.#closed) {
      try {
        await this.connect();
        return;
      } catch {
        // Operations meanwhile fail with a transient error (server selection, closed topology).
        await sleep(backoff_ms, undefined, { ref: false });
        backoff_ms = Math.min(backoff_ms * 2, CONNECT_RETRY_MAX_MS);
      }
    }
  }
}

export function connectMongo(options: MongoOptions): MongoClient {
  return new SelfConnectingMongoClient(options.uri, {
    appName: options.app_name,
    minPoolSize: 2,
    maxPoolSize: 10,
    maxIdleTimeMS: 30_000,
    useBigInt64: true,
    serverSelectionTimeoutMS: options.server_selection_timeout_ms ?? 2_000,
    connectTimeoutMS: 2_000,
    socketTimeoutMS: 30_000,
    retryWrites: true,
  });
}
