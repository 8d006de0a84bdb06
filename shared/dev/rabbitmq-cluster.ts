// Development tooling, never imported by a process: a private RabbitMQ cluster of local
// rabbitmq-server nodes (own node names, AMQP and distribution ports, data under a temp dir), for
// the fault tests. The machine's shared node (rabbit@localhost, 5672) is never touched: each node
// gets a config file of its own, so the system one (which binds 5672) is not read. The server
// script runs the node as the rabbitmq user, so the temp dir is handed to that user.
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor } from './processes.ts';

const run = promisify(execFile);
const CTL_TIMEOUT_MS = 60_000;
/** Three Erlang VMs booting at once on a busy two-core machine. */
const START_MS_MAX = 150_000;
const HOST = '127.0.0.1';

interface Node {
  readonly name: string;
  readonly port: number;
  readonly dir: string;
}

function ctl(node: Node, ...args: string[]) {
  return run('rabbitmqctl', ['-q', '-n', node.name, ...args], { timeout: CTL_TIMEOUT_MS });
}

export async function startRabbitCluster(count: number) {
  const root = mkdtempSync(join(tmpdir(), 'afc-rabbitmq-cluster-'));
  // The owner of the shared node's data: the user rabbitmq-server runs nodes as.
  const { uid, gid } = statSync('/var/lib/rabbitmq');
  const plugins = join(root, 'enabled_plugins');
  writeFileSync(plugins, '[].\n');
  const id = randomUUID().slice(0, 6);
  const nodes: Node[] = [];
  for (let i = 1; i <= count; i++) {
    const dir = join(root, `n${i}`);
    const node = { name: `afc${id}n${i}@localhost`, port: await freePort(), dir };
    mkdirSync(join(dir, 'mnesia'), { recursive: true });
    mkdirSync(join(dir, 'log'));
    writeFileSync(
      join(dir, 'rabbitmq.conf'),
      `listeners.tcp.local = ${HOST}:${node.port}\nloopback_users = none\n`,
    );
    nodes.push(node);
  }
  for (const path of [
    root,
    plugins,
    ...nodes.flatMap((n) => [n.dir, join(n.dir, 'mnesia'), join(n.dir, 'log'), join(n.dir, 'rabbitmq.conf')]),
  ])
    chownSync(path, uid, gid);

  const start = async (node: Node) => {
    const child = spawn('rabbitmq-server', [], {
      stdio: 'ignore',
      detached: false,
      env: {
        ...process.env,
        RABBITMQ_NODENAME: node.name,
        RABBITMQ_CONFIG_FILE: join(node.dir, 'rabbitmq.conf'),
        RABBITMQ_DIST_PORT: String(await freePort()),
        RABBITMQ_MNESIA_BASE: join(node.dir, 'mnesia'),
        RABBITMQ_LOG_BASE: join(node.dir, 'log'),
        RABBITMQ_ENABLED_PLUGINS_FILE: plugins,
        RABBITMQ_PID_FILE: join(node.dir, 'pid'),
      },
    });
    child.unref();
    // Until the node registers with epmd, rabbitmqctl cannot reach it at all.
    await waitFor(
      async () => {
        await ctl(node, 'await_startup', '--timeout', '30');
        return true;
      },
      `rabbitmq node ${node.name}`,
      START_MS_MAX,
      1_000,
    );
  };
  const destroy = async () => {
    await Promise.allSettled(nodes.map((node) => ctl(node, 'stop')));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map(start));
    for (const node of nodes.slice(1)) {
      await ctl(node, 'stop_app');
      await ctl(node, 'join_cluster', nodes[0]!.name);
      await ctl(node, 'start_app');
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  return {
    /** `host:port` of every node: RABBITMQ_HOSTS. */
    hosts: nodes.map((node) => `${HOST}:${node.port}`),
    url: `amqp://guest:guest@${HOST}:${nodes[0]!.port}`,
    /** The node's Erlang VM killed with SIGKILL (no shutdown): a lost machine. */
    async kill(index: number): Promise<void> {
      const node = nodes[index]!;
      const { stdout } = await ctl(node, 'eval', 'list_to_integer(os:getpid()).');
      process.kill(Number(stdout.trim()), 'SIGKILL');
    },
    /** Whether the node answers rabbitmqctl. */
    async isRunning(index: number): Promise<boolean> {
      return ctl(nodes[index]!, 'ping').then(
        () => true,
        () => false,
      );
    },
    destroy,
  };
}

export type RabbitCluster = Awaited<ReturnType<typeof startRabbitCluster>>;
