// How every process stops: SIGTERM/SIGINT run its graceful close once, and a deadline (30 s,
// seed property 10) exits anyway if the close hangs. An exception nobody can catch (a driver
// failing outside any caller) leaves unknown state: exit and let the orchestrator restart.

import type { Logger } from './logger.ts';

export const SHUTDOWN_DEADLINE_MS = 30_000;

export function stopOnSignals(log: Logger, close: () => Promise<void>, deadline_ms = SHUTDOWN_DEADLINE_MS): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error('shutdown deadline passed; exiting');
      process.exit(1);
    }, deadline_ms).unref();
    await close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'uncaught exception; exiting');
    process.exit(1);
  });
}
