// Runs a step while a test's private Redis (shared/dev/processes.ts startPrivateRedis) is stopped
// or paused, and brings it back whatever the step did.
import type { startPrivateRedis } from '../../shared/dev/processes.ts';

type PrivateRedis = Awaited<ReturnType<typeof startPrivateRedis>>;

/** Redis killed for the step (connection errors), started again afterwards. */
export async function whileRedisStopped<T>(redis: PrivateRedis, step: () => Promise<T>): Promise<T> {
  await redis.stop();
  try {
    return await step();
  } finally {
    await redis.start();
  }
}

/** Redis frozen (SIGSTOP) for the step (calls hang past the budget), resumed afterwards. */
export async function whileRedisPaused<T>(redis: PrivateRedis, step: () => Promise<T>): Promise<T> {
  redis.pause();
  try {
    return await step();
  } finally {
    redis.resume();
  }
}
