// Management API process: config, logger, the API, signals. SIGTERM/SIGINT drain
// gracefully and exit within 30 s (seed property 10).

import { loadApiConfig, loadOrExit } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { createApi } from './api.ts';

const SHUTDOWN_DEADLINE_MS = 30_000;

const config = loadOrExit(() => loadApiConfig());
const log = createLogger('api', config.log_level);
const api = await createApi(config, log);
const address = await api.app.listen({ host: config.host, port: config.port });
log.info({ address }, 'management API listening');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  setTimeout(() => {
    log.error('shutdown deadline passed; exiting');
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS).unref();
  await api.close();
  process.exit(0);
}

process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
