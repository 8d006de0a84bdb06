// Forward-only, tracked migrations for PostgreSQL (migrations/postgres/*.sql) and MongoDB
// (migrations/mongo/*.ts). Safe to re-run and to run from several processes at once:
// PostgreSQL work is serialized by an advisory lock, and every step is recorded by name.
// Files named *.concurrent.sql run statement by statement outside a transaction
// (CREATE INDEX CONCURRENTLY cannot run inside one).

import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Db } from 'mongodb';
import type { Sql } from 'postgres';
import type { PgSql } from '../shared/stores/postgres.ts';

const here = dirname(fileURLToPath(import.meta.url));
const MIGRATION_LOCK_ID = 4_701_224_301;

function files(folder: string, extension: string): string[] {
  return readdirSync(join(here, folder))
    .filter((name) => name.endsWith(extension))
    .sort();
}

function statements(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export async function migratePostgres(sql: Sql): Promise<string[]> {
  const applied: string[] = [];
  // A session lock (not a transaction lock: CREATE INDEX CONCURRENTLY would wait for that
  // transaction forever). A second migrator waits, then finds everything applied.
  const lock = await sql.reserve();
  try {
    await lock`SELECT pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = new Set(
      (await sql<{ name: string }[]>`SELECT name FROM schema_migrations`).map((r) => r.name),
    );
    for (const name of files('postgres', '.sql')) {
      if (done.has(name)) continue;
      const text = readFileSync(join(here, 'postgres', name), 'utf8');
      if (name.endsWith('.concurrent.sql')) {
        for (const statement of statements(text)) await sql.unsafe(statement);
        await sql`INSERT INTO schema_migrations (name) VALUES (${name}) ON CONFLICT DO NOTHING`;
      } else {
        await sql.begin(async (tx) => {
          await tx.unsafe(text);
          await tx`INSERT INTO schema_migrations (name) VALUES (${name})`;
        });
      }
      applied.push(`postgres/${name}`);
    }
  } finally {
    await lock`SELECT pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
    lock.release();
  }
  return applied;
}

/**
 * `sql`: PostgreSQL, for migrations that copy MongoDB data there (`needs_postgres`); without
 * it they are left for a run that has it (not recorded as applied).
 */
export async function migrateMongo(db: Db, sql?: PgSql): Promise<string[]> {
  const applied: string[] = [];
  const tracking = db.collection<{ _id: string; applied_at: Date }>('schema_migrations');
  for (const name of files('mongo', '.ts')) {
    if (await tracking.findOne({ _id: name })) continue;
    const migration = (await import(pathToFileURL(join(here, 'mongo', name)).href)) as {
      up: (db: Db, sql: PgSql) => Promise<void>;
      needs_postgres?: boolean;
    };
    if (migration.needs_postgres === true && sql === undefined) continue;
    // Each Mongo migration is idempotent on its own (createIndexes, existence checks).
    await migration.up(db, sql!);
    await tracking.updateOne({ _id: name }, { $setOnInsert: { applied_at: new Date() } }, { upsert: true });
    applied.push(`mongo/${name}`);
  }
  return applied;
}
