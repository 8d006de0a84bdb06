// Management API process: config, logger, the API, signals. SIGTERM/SIGINT drain
// gracefully and exit within 30 s (seed property 10).

import { loadApiConfig, loadOrExit } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { stopOnSignals } from '../shared/process-signals.ts';
import { createApi } from './api.ts';

const config = loadOrExit(() => loadApiConfig());
const log = createLogger('api', config.log_level);
const api = await createApi(config, log);
stopOnSignals(log, () => api.close());
const internal_address = await api.internal_app.listen({
  host: config.internal_host,
  port: config.internal_port,
});
const address = await api.app.listen({ host: config.host, port: config.port });
log.info({ address, internal_address }, 'management API listening');
