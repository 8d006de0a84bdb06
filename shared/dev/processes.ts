// Development tooling, never imported by a process: child processes and private service
// instances (a private redis-server a test may stop) for the fault tests, the bench and the chaos
// suite alike.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
export const ROOT = new URL('../..', import.meta.url).pathname;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
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
