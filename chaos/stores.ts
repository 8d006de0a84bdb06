// The databases of one chaos run: a private PostgreSQL cluster and a private FerretDB, both
// fresh and migrated like production. Fresh per run, so a run's outcome never depends on what
// earlier runs left behind (FerretDB slows as its SQLite files grow) and a replayed seed
// starts from the same state.

import type { Db } from 'mongodb';
import { migrateMongo, migratePostgres } from '../migrations/migrate.ts';
import { connectMongo } from '../shared/stores/mongo.ts';
import { connectPostgres, type PgSql } from '../shared/stores/postgres.ts';
import { type PrivateFerretDb, startPrivateFerretDb } from './services/ferretdb.ts';
import { type PrivatePostgres, startPrivatePostgres } from './services/postgres.ts';

const MONGO_DATABASE = 'afc_chaos';
const STORE_TIMEOUT_MS = 10_000;

export interface RunStores {
  readonly postgres: PrivatePostgres;
  readonly ferretdb: PrivateFerretDb;
  readonly sql: PgSql;
  readonly db: Db;
  readonly database_url: string;
  readonly mongodb_uri: string;
  close(): Promise<void>;
}

export async function openRunStores(): Promise<RunStores> {
  const postgres = await startPrivatePostgres();
  const ferretdb = await startPrivateFerretDb().catch(async (error) => {
    await postgres.destroy();
    throw error;
  });
  const mongodb_uri = ferretdb.uri(MONGO_DATABASE);
  const sql = connectPostgres({ url: postgres.url, application_name: 'afc-chaos', max_connections: 4 });
  const mongo = connectMongo({
    uri: mongodb_uri,
    app_name: 'afc-chaos',
    server_selection_timeout_ms: STORE_TIMEOUT_MS,
  });
  const close = async () => {
    await Promise.allSettled([sql.end({ timeout: 5 }), mongo.close()]);
    await Promise.allSettled([postgres.destroy(), ferretdb.destroy()]);
  };
  try {
    await migratePostgres(sql);
    await migrateMongo(mongo.db());
  } catch (error) {
    await close();
    throw error;
  }
  return { postgres, ferretdb, sql, db: mongo.db(), database_url: postgres.url, mongodb_uri, close };
}
