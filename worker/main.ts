// Worker process: config, logger, the worker, signals. SIGTERM/SIGINT stop consuming, finish
// or requeue in-flight messages and exit 0 within 30 s; after SIGKILL nothing is lost either
// (unacked messages are redelivered and every write is idempotent on the JIT token).

import { loadOrExit, loadWorkerConfig } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { createWorker } from './worker.ts';

const SHUTDOWN_DEADLINE_MS = 30_000;

const config = loadOrExit(() => loadWorkerConfig());
const log = createLogger('worker', config.log_level);
const worker = await createWorker(config, log);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  setTimeout(() => {
    log.error('shutdown deadline passed; exiting (unacked messages will be redelivered)');
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS).unref();
  await worker.close();
  log.info('worker stopped');
  process.exit(0);
}

// A driver bug can throw where no caller can catch it (postgres.js 3.4.9 on a connection
// lost mid-write); its state is then unknown: exit and let the orchestrator restart us.
process.on('uncaughtException', (error) => {
  log.fatal({ err: error }, 'uncaught exception; exiting (unacked messages will be redelivered)');
  process.exit(1);
});
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
