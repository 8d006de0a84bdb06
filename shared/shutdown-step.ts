// One step of a process's graceful shutdown, logged with its duration, so a slow shutdown names
// the step that held it (the 30 s deadline of shared/process-signals.ts is for all of them).

import type { Logger } from './logger.ts';

export async function shutdownStep(log: Logger, name: string, run: () => Promise<unknown>): Promise<void> {
  const started_ms = Date.now();
  await run();
  log.info({ step: name, elapsed_ms: Date.now() - started_ms }, 'shutdown step done');
}
