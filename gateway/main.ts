// Gateway process: config, logger, the gateway, signals. SIGTERM/SIGINT drain gracefully and
// exit within 30 s (seed property 10); decisions already answered are safe in the outbox.

import { hostname } from 'node:os';
import { loadGatewayConfig, loadOrExit } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { createGateway } from './gateway.ts';

const SHUTDOWN_DEADLINE_MS = 30_000;

const config = loadOrExit(() => loadGatewayConfig());
const log = createLogger('gateway', config.log_level);
const gateway = await createGateway(config, log, { relay_consumer_name: process.env.RELAY_CONSUMER_NAME ?? hostname() });
const address = await gateway.app.listen({ host: config.host, port: config.port });
log.info({ address }, 'gateway listening');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  setTimeout(() => {
    log.error('shutdown deadline passed; exiting');
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS).unref();
  await gateway.close();
  process.exit(0);
}

process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
