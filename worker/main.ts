// Worker process: config, logger, the worker, signals. SIGTERM/SIGINT stop consuming, finish
// or requeue in-flight messages and exit 0 within 30 s; after SIGKILL nothing is lost either
// (unacked messages are redelivered and every write is idempotent on the JIT token).

import { loadOrExit, loadWorkerConfig } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { stopOnSignals } from '../shared/process-signals.ts';
import { createWorker } from './worker.ts';

const config = loadOrExit(() => loadWorkerConfig());
const log = createLogger('worker', config.log_level);
const worker = await createWorker(config, log);

// An uncaught exception exits (unknown state); redelivery keeps every write exactly-once. The
// postgres.js throw after a lost connection (porsager/postgres#1154) is patched out (vendor/).
stopOnSignals(log, () => worker.close());
