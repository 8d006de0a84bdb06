// A private FerretDB (SQLite handler, temporary data directory) for one chaos session: the
// suite kills and restarts it with the same data directory, as an orchestrator restarts a
// crashed container, without touching the shared FerretDB on 27017.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort, waitFor } from '../../shared/dev/processes.ts';

const START_TIMEOUT_MS = 30_000;

function binary(): string {
  return join(process.env.FERRETDB_BIN_DIR ?? join(homedir(), '.local/bin'), 'ferretdb');
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface PrivateFerretDb {
  /** Database `name` on this instance. */
  uri(name: string): string;
  start(): Promise<void>;
  kill(): Promise<void>;
  /** SIGSTOP: a stalled store, its connections open and silent; `resume` sends SIGCONT. */
  pause(): void;
  resume(): void;
  destroy(): Promise<void>;
}

export async function startPrivateFerretDb(): Promise<PrivateFerretDb> {
  const data_dir = mkdtempSync(join(tmpdir(), 'afc-chaos-ferretdb-'));
  const port = await freePort();
  const args = [
    '--handler=sqlite',
    `--sqlite-url=file:${data_dir}/`,
    `--listen-addr=127.0.0.1:${port}`,
    '--debug-addr=-',
    '--telemetry=disable',
    '--state-dir=-',
    '--log-level=error',
  ];
  let child: ChildProcess | null = null;
  const handle: PrivateFerretDb = {
    uri: (name) => `mongodb://127.0.0.1:${port}/${name}`,
    async start() {
      child = spawn(binary(), args, { stdio: 'ignore' });
      await waitFor(() => listening(port), `ferretdb on ${port}`, START_TIMEOUT_MS);
    },
    async kill() {
      const running = child;
      child = null;
      if (running === null || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async destroy() {
      handle.resume();
      await handle.kill();
      rmSync(data_dir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}
