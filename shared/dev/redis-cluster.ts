// Development tooling, never imported by a process: a private Redis Cluster of redis-server
// processes on free ports (own temp dir, no persistence, a short cluster-node-timeout), for the
// fault tests and the chaos suite. Never the machine's shared Redis. Always destroy() it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './processes.ts';

const run = promisify(execFile);
/** Cluster bus ports are the client port + 10000: both must be free. */
const BUS_PORT_OFFSET = 10_000;
const PORT_SCAN_FROM = 7101;
const PORT_SCAN_MAX = 400;
const HOST = '127.0.0.1';

export interface RedisClusterOptions {
  readonly masters: number;
  /** Replicas per master (0: none). */
  readonly replicas_per_master: number;
  /** How long a master may be unreachable before its replica is promoted. */
  readonly node_timeout_ms: number;
}

export interface ClusterNodeInfo {
  readonly port: number;
  readonly id: string;
  readonly role: 'master' | 'replica';
  /** A replica's master id; null for a master. */
  readonly master_id: string | null;
  /** Slot ranges served (masters). */
  readonly slots: ReadonlyArray<readonly [number, number]>;
  readonly failed: boolean;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

async function freeClusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let port = PORT_SCAN_FROM; port < PORT_SCAN_FROM + PORT_SCAN_MAX && ports.length < count; port++) {
    if ((await portFree(port)) && (await portFree(port + BUS_PORT_OFFSET))) ports.push(port);
  }
  if (ports.length < count) throw new Error(`no ${count} free cluster ports from ${PORT_SCAN_FROM}`);
  return ports;
}

async function redisCli(port: number, ...args: string[]): Promise<string> {
  return (await run('redis-cli', ['-h', HOST, '-p', String(port), ...args])).stdout;
}

/** CLUSTER NODES as seen by the node on `port`. */
function parseNodes(text: string): ClusterNodeInfo[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.split(' ') as string[];
      const port = Number(address!.split('@')[0]!.split(':')[1]);
      const flag_list = flags!.split(',');
      return {
        port,
        id: id!,
        role: flag_list.includes('master') ? ('master' as const) : ('replica' as const),
        master_id: master === '-' ? null : master!,
        slots: slots
          .filter((range) => !range.startsWith('['))
          .map((range) => {
            const [from, to] = range.split('-').map(Number) as [number, number?];
            return [from, to ?? from] as const;
          }),
        failed: flag_list.includes('fail') || flag_list.includes('fail?'),
      };
    });
}

export async function startRedisCluster(options: RedisClusterOptions) {
  const count = options.masters * (1 + options.replicas_per_master);
  const ports = await freeClusterPorts(count);
  const dir = mkdtempSync(join(tmpdir(), 'afc-redis-cluster-'));
  const servers = new Map<number, ChildProcess>();
  /** Ports of the nodes this helper killed. */
  const killed = new Set<number>();
  const start = (port: number) => {
    const args = ['--port', String(port), '--bind', HOST, '--cluster-enabled', 'yes'];
    args.push('--cluster-config-file', `nodes-${port}.conf`);
    args.push('--cluster-node-timeout', String(options.node_timeout_ms));
    args.push('--save', '', '--appendonly', 'no', '--dir', dir);
    servers.set(port, spawn('redis-server', args, { stdio: 'ignore' }));
  };
  for (const port of ports) start(port);
  const destroy = async () => {
    const exits = [...servers.values()]
      .filter((server) => server.exitCode === null && server.signalCode === null)
      .map((server) => new Promise((resolve) => server.once('exit', resolve)));
    for (const server of servers.values()) server.kill('SIGKILL');
    await Promise.allSettled(exits);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports)
      await waitFor(async () => (await redisCli(port, 'ping')).trim() === 'PONG', `redis ${port}`);
    const nodes = ports.map((port) => `${HOST}:${port}`);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes,
      '--cluster-replicas',
      String(options.replicas_per_master),
      '--cluster-yes',
    ]);
    for (const port of ports) {
      await waitFor(
        async () => (await redisCli(port, 'cluster', 'info')).includes('cluster_state:ok'),
        `cluster state ok on ${port}`,
      );
      // A replica still in its first full sync would not be promoted: wait for its link.
      await waitFor(async () => {
        const replication = await redisCli(port, 'info', 'replication');
        return replication.includes('role:master') || replication.includes('master_link_status:up');
      }, `replica ${port} in sync`);
    }
  } catch (error) {
    await destroy();
    throw error;
  }

  const cluster = {
    ports,
    /** `host:port` of every node: REDIS_CLUSTER_NODES. */
    nodes: ports.map((port) => `${HOST}:${port}`),
    url: `redis://${HOST}:${ports[0]}`,
    /** The process id of the node on `port` (the bench samples its CPU). */
    pid(port: number): number | undefined {
      return servers.get(port)?.pid;
    },
    /** The cluster's view from a live node. */
    async topology(): Promise<ClusterNodeInfo[]> {
      for (const port of ports) {
        if (killed.has(port)) continue;
        try {
          return parseNodes(await redisCli(port, 'cluster', 'nodes'));
        } catch {
          // That node is going away: ask the next one.
        }
      }
      throw new Error('no live cluster node answers');
    },
    /** The slot of `key` (CLUSTER KEYSLOT on a live node). */
    async keyslot(key: string): Promise<number> {
      for (const port of ports) {
        if (killed.has(port)) continue;
        return Number((await redisCli(port, 'cluster', 'keyslot', key)).trim());
      }
      throw new Error('no live cluster node answers');
    },
    /** The port of the master serving `slot`. */
    async masterOfSlot(slot: number): Promise<number> {
      const master = (await cluster.topology()).find(
        (node) =>
          node.role === 'master' && !node.failed && node.slots.some(([a, b]) => slot >= a && slot <= b),
      );
      if (master === undefined) throw new Error(`slot ${slot} is not served`);
      return master.port;
    },
    /** SIGKILL: no shutdown, no last replication. */
    async kill(port: number): Promise<void> {
      const server = servers.get(port);
      if (server === undefined || killed.has(port)) return;
      killed.add(port);
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGKILL');
      await exited;
    },
    /**
     * Starts a killed node again on its port and config file: with no persistence it comes back
     * empty, so only once its replica has taken over (or it rejoins as a master with no keys):
     * it then rejoins as that master's replica and copies its data. Waits for the copy.
     */
    async restart(port: number, limit_ms = 30_000): Promise<void> {
      if (!killed.has(port)) return;
      start(port);
      killed.delete(port);
      await waitFor(async () => (await redisCli(port, 'ping')).trim() === 'PONG', `redis ${port}`, limit_ms);
      await waitFor(
        async () => (await redisCli(port, 'info', 'replication')).includes('master_link_status:up'),
        `restarted node ${port} in sync with its master`,
        limit_ms,
      );
    },
    /** Waits until every node still running reports cluster_state:ok. */
    async waitHealthy(limit_ms = 30_000): Promise<void> {
      for (const port of ports) {
        if (killed.has(port)) continue;
        await waitFor(
          async () => (await redisCli(port, 'cluster', 'info')).includes('cluster_state:ok'),
          `cluster state ok on ${port}`,
          limit_ms,
        );
      }
    },
    /**
     * Moves slots from one master to another live, key by key (what `redis-cli --cluster reshard`
     * does): IMPORTING/MIGRATING, MIGRATE in batches, then SETSLOT NODE on both.
     */
    async migrateSlots(slots: readonly number[], from_port: number, to_port: number): Promise<number> {
      const topology = await cluster.topology();
      const id_of = (port: number) => topology.find((node) => node.port === port)!.id;
      const from_id = id_of(from_port);
      const to_id = id_of(to_port);
      let moved = 0;
      for (const slot of slots) {
        await redisCli(to_port, 'cluster', 'setslot', String(slot), 'importing', from_id);
        await redisCli(from_port, 'cluster', 'setslot', String(slot), 'migrating', to_id);
        for (;;) {
          const keys = (await redisCli(from_port, 'cluster', 'getkeysinslot', String(slot), '100'))
            .split('\n')
            .filter((key) => key !== '');
          if (keys.length === 0) break;
          await redisCli(
            from_port,
            'migrate',
            HOST,
            String(to_port),
            '',
            '0',
            '5000',
            'REPLACE',
            'KEYS',
            ...keys,
          );
          moved += keys.length;
        }
        await redisCli(to_port, 'cluster', 'setslot', String(slot), 'node', to_id);
        await redisCli(from_port, 'cluster', 'setslot', String(slot), 'node', to_id);
      }
      return moved;
    },
    destroy,
  };
  return cluster;
}

export type RedisCluster = Awaited<ReturnType<typeof startRedisCluster>>;
