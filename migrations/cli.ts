// `npm run migrate`: applies PostgreSQL and MongoDB migrations, prints what it applied.

import { ConfigError } from '../shared/config.ts';
import { connectMongo } from '../shared/stores/mongo.ts';
import { connectPostgres } from '../shared/stores/postgres.ts';
import { migrateMongo, migratePostgres } from './migrate.ts';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new ConfigError(`${name} is required but not set`);
  return value;
}

try {
  const sql = connectPostgres({
    url: env('DATABASE_URL'),
    application_name: 'afc-migrate',
    max_connections: 2,
  });
  const mongo = connectMongo({
    uri: env('MONGODB_URI'),
    app_name: 'afc-migrate',
    server_selection_timeout_ms: 10_000,
  });
  const applied = [...(await migratePostgres(sql)), ...(await migrateMongo(mongo.db(), sql))];
  process.stdout.write(applied.length ? `migrated: ${applied.join(', ')}\n` : 'migrations: up to date\n');
  await sql.end();
  await mongo.close();
} catch (error) {
  process.stderr.write(`migration failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
