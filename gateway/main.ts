// Gateway process: config, logger, the gateway, signals. SIGTERM/SIGINT drain gracefully and
// exit within 30 s (seed property 10); decisions already answered are safe in the outbox.

import { hostname } from 'node:os';
import { loadGatewayConfig, loadOrExit } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { stopOnSignals } from '../shared/process-signals.ts';
import { createGateway } from './gateway.ts';

const config = loadOrExit(() => loadGatewayConfig());
const log = createLogger('gateway', config.log_level);
const gateway = await createGateway(config, log, {
  relay_consumer_name: process.env.RELAY_CONSUMER_NAME ?? hostname(),
});
stopOnSignals(log, () => gateway.close());
// The internal listener first: probes and scrapes answer while the public one opens.
const internal_address = await gateway.internal_app.listen({
  host: config.internal_host,
  port: config.internal_port,
});
const address = await gateway.app.listen({
  host: config.host,
  port: config.port,
  backlog: config.listen_backlog,
});
log.info({ address, internal_address }, 'gateway listening');
