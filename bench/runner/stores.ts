// The bench's own data: a PostgreSQL database and a MongoDB database named `afc_bench` (so a
// million bench cards never slow another engineer's tests), migrated like production, and the
// run's Redis keys, all under the run id.

import type { Redis } from 'ioredis';
import type { TransactionSql } from 'postgres';
import { connectPostgres } from '../../shared/stores/postgres.ts';
import { isCluster, scanKeys } from '../../shared/stores/redis.ts';

export const BENCH_DATABASE = 'afc_bench';
const SCAN_COUNT = 5_000;
const UNLINK_BATCH = 5_000;

/**
 * Inside a transaction that writes or removes whole sets of rows whose references hold by
 * construction: skips the per-row foreign-key checks (session_replication_role = replica). Needs a
 * superuser, as the bench's PostgreSQL here has; elsewhere the checks run and the work is slower.
 */
export async function skipForeignKeyChecks(tx: TransactionSql<{ bigint: bigint }>): Promise<void> {
  const [role] = await tx<
    { rolsuper: boolean }[]
  >`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`;
  if (role?.rolsuper) await tx`SET LOCAL session_replication_role = replica`;
}

export async function ensurePostgresDatabase(server_url: string): Promise<void> {
  const admin = connectPostgres({ url: server_url, application_name: 'afc-bench-admin', max_connections: 1 });
  try {
    const found = await admin`SELECT 1 FROM pg_database WHERE datname = ${BENCH_DATABASE}`;
    if (found.length === 0) await admin.unsafe(`CREATE DATABASE ${BENCH_DATABASE}`);
  } finally {
    await admin.end();
  }
}

/** Removes every Redis key of the run (cache, ledger, decisions, outbox), in bounded batches. */
export async function removeRedisKeys(redis: Redis, prefix: string): Promise<number> {
  let removed = 0;
  for await (const { node, keys } of scanKeys(redis, `${prefix}:*`, SCAN_COUNT)) {
    for (let i = 0; i < keys.length; i += UNLINK_BATCH) {
      const batch = keys.slice(i, i + UNLINK_BATCH);
      // A cluster node refuses a multi-key UNLINK across slots: one key per call there.
      const counts = isCluster(redis)
        ? await Promise.all(batch.map((key) => node.unlink(key)))
        : [await node.unlink(...batch)];
      removed += counts.reduce((sum, n) => sum + n, 0);
    }
  }
  return removed;
}
