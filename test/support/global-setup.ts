// Applies migrations once before the integration and fault projects (idempotent).
import './env.ts';
import { migrateMongo, migratePostgres } from '../../migrations/migrate.ts';
import { connectMongo } from '../../shared/stores/mongo.ts';
import { connectPostgres } from '../../shared/stores/postgres.ts';

export default async function setup(): Promise<void> {
  const sql = connectPostgres({
    url: process.env.DATABASE_URL!,
    application_name: 'afc-test-setup',
    max_connections: 2,
  });
  const mongo = connectMongo({
    uri: process.env.MONGODB_URI!,
    app_name: 'afc-test-setup',
    server_selection_timeout_ms: 10_000,
  });
  try {
    await migratePostgres(sql);
    await migrateMongo(mongo.db(), sql);
  } finally {
    await sql.end();
    await mongo.close();
  }
}
