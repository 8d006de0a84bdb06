// Fake Marqeta API process for the demo (`npm run fake-marqeta`): listens where
// MARQETA_BASE_URL points (127.0.0.1:8090/v3 by default) with the worker's Marqeta credentials.

import { loadFakeMarqetaConfig, loadOrExit } from '../shared/config.ts';
import { startFakeMarqeta } from './server.ts';

const config = loadOrExit(() => loadFakeMarqetaConfig());
const fake = await startFakeMarqeta({
  app_token: config.app_token,
  admin_token: config.admin_token,
  base_path: config.base_path,
  host: config.host,
  port: config.port,
  log_level: config.log_level,
});
process.stdout.write(`fake Marqeta API listening at ${fake.base_url}\n`);

async function shutdown(): Promise<void> {
  await fake.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
