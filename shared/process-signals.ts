// How every process stops: SIGTERM/SIGINT run its graceful close once, and a deadline (30 s,
// seed property 10) exits anyway if the close hangs. An exception nobody can catch (a driver
// failing outside any caller) leaves unknown state: exit and let the orchestrator restart.

import type { Logger } from './logger.ts';

export const SHUTDOWN_DEADLINE_MS = 30_000;

/** Flushes the asynchronous log stream, then exits. */
function exit(log: Logger, code: number): void {
  log.flush(() => process.exit(code));
  // A stream that cannot flush must not keep a stopping process alive.
  setTimeout(() => process.exit(code), 1_000).unref();
}

export function stopOnSignals(
  log: Logger,
  close: () => Promise<void>,
  deadline_ms = SHUTDOWN_DEADLINE_MS,
): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error('shutdown deadline passed; exiting');
      exit(log, 1);
    }, deadline_ms).unref();
    await close();
    log.info('stopped');
    exit(log, 0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('uncaughtException', (error, origin) => {
    // origin tells a thrown error ('uncaughtException') from a promise nobody awaited ('unhandledRejection').
    log.fatal({ err: error, origin }, 'uncaught exception; exiting');
    exit(log, 1);
  });
}
