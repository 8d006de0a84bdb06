// Development tooling, never imported by a process: child processes and private service
// instances (a private redis-server a test may stop) for the fault tests, the bench and the chaos
// suite alike.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
export const ROOT = new URL('../..', import.meta.url).pathname;

/** Lowest port handed out for a listener started later (freePort). */
const LISTEN_PORT_MIN = 20_000;
const FREE_PORT_ATTEMPTS_MAX = 100;
/** Handed out by this process: never twice, even before the first one listens. */
const handed_out = new Set<number>();

/** The first port the kernel gives outgoing connections (ip_local_port_range), 32768 if unknown. */
function ephemeralPortMin(): number {
  try {
    const min = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(min) && min > LISTEN_PORT_MIN + 1_000 ? min : 32_768;
  } catch {
    return 32_768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/**
 * A port for a listener a child process opens later. Chosen below the kernel's ephemeral range:
 * a port the kernel picked (listen on 0) could be taken meanwhile by an outgoing connection's
 * local port (the chaos suite's worker once failed to listen for a whole run, EADDRINUSE, beside
 * the gateway's pooled connections).
 */
export async function freePort(): Promise<number> {
  const span = ephemeralPortMin() - LISTEN_PORT_MIN;
  for (let attempt = 0; attempt < FREE_PORT_ATTEMPTS_MAX; attempt++) {
    const port = LISTEN_PORT_MIN + Math.floor(Math.random() * span);
    if (handed_out.has(port) || !(await canListen(port))) continue;
    handed_out.add(port);
    return port;
  }
  throw new Error(`no free port in ${LISTEN_PORT_MIN}..${LISTEN_PORT_MIN + span - 1}`);
}

export async function waitFor(
  check: () => Promise<boolean>,
  what: string,
  limit_ms = 30_000,
  every_ms = 100,
): Promise<void> {
  const until = Date.now() + limit_ms;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, every_ms));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface Child {
  readonly process: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

export function startNode(script: string, env: Record<string, string>): Child {
  const child = spawn(NODE, [script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { process: child, output: () => output, exited };
}

/** A private redis-server (not the machine's shared one), so a test may stop it freely. */
export async function startPrivateRedis(extra_args: string[] = []) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'afc-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    ...extra_args,
  ];
  let child = spawn('redis-server', args, { stdio: 'ignore' });
  const { Redis } = await import('ioredis');
  const ping = async () => {
    const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    probe.on('error', () => {});
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG';
    } finally {
      probe.disconnect();
    }
  };
  await waitFor(ping, `redis on ${port}`);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    },
    async start() {
      child = spawn('redis-server', args, { stdio: 'ignore' });
      await waitFor(ping, `redis on ${port}`);
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
    async destroy() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
