// The cluster mode's Redis faults (`npm run chaos -- --cluster`), on the run's private Redis
// Cluster (shared/dev/redis-cluster.ts): a master SIGKILLed, and a live reshard.

import { waitFor } from '../../shared/dev/processes.ts';
import type { RedisCluster } from '../../shared/dev/redis-cluster.ts';

/** A promotion takes cluster-node-timeout and an election: seconds, more on a busy machine. */
const PROMOTION_MS_MAX = 30_000;
/** Slots moved by one reshard fault. */
const RESHARD_SLOTS = 2;

async function liveMasters(cluster: RedisCluster) {
  return (await cluster.topology())
    .filter((node) => node.role === 'master' && !node.failed && node.slots.length > 0)
    .sort((a, b) => a.port - b.port);
}

/**
 * down: SIGKILL the live master with the lowest port (no persistence: what it had not replicated
 * is gone; with REDIS_WAIT_REPLICAS=1 nothing answered was). up: once its replica serves its slots,
 * start it again: it rejoins as that replica's replica, and the fault ends when it is in sync.
 * Starting it before the promotion would bring it back empty as the master of its slots.
 */
export function masterKill(cluster: RedisCluster): { down(): Promise<void>; up(): Promise<void> } {
  let victim: { port: number; slot: number } | null = null;
  return {
    async down() {
      const master = (await liveMasters(cluster))[0];
      if (master === undefined) throw new Error('no live master to kill');
      victim = { port: master.port, slot: master.slots[0]![0] };
      await cluster.kill(master.port);
    },
    async up() {
      if (victim === null) return;
      const { port, slot } = victim;
      await waitFor(
        async () => (await cluster.masterOfSlot(slot).catch(() => port)) !== port,
        `slot ${slot} served by the killed master's replica`,
        PROMOTION_MS_MAX,
      );
      await cluster.restart(port);
    },
  };
}

/**
 * down: move a few of the run's data slots, key by key, from the master of the first to another
 * master while the load runs (MOVED/ASK, and TRYAGAIN for a script whose keys are split). up:
 * nothing: the slots stay where they went.
 */
export function reshard(
  cluster: RedisCluster,
  shard_keys: readonly string[],
): { down(): Promise<void>; up(): Promise<void> } {
  return {
    async down() {
      const slots = [...new Set(await Promise.all(shard_keys.map((key) => cluster.keyslot(key))))];
      const from = await cluster.masterOfSlot(slots[0]!);
      const to = (await liveMasters(cluster)).find((node) => node.port !== from);
      if (to === undefined) throw new Error('no other live master to move slots to');
      const moving: number[] = [];
      for (const slot of slots) {
        if (moving.length < RESHARD_SLOTS && (await cluster.masterOfSlot(slot)) === from) moving.push(slot);
      }
      await cluster.migrateSlots(moving, from, to.port);
    },
    async up() {},
  };
}
