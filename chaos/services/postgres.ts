// A private PostgreSQL cluster for one chaos session (initdb in a temporary directory), so the
// suite may crash and restart it freely without touching the machine's shared instance that
// other engineers' tests use. Stopped with `-m immediate`: a crash, recovered from the WAL.

import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor } from '../../shared/dev/processes.ts';

const run = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';
const PG_CTL_TIMEOUT_S = 30;
const COMMAND_TIMEOUT_MS = 60_000;

/** initdb and pg_ctl refuse to run as root: they run as the postgres user. */
async function pg(tool: string, ...args: string[]): Promise<void> {
  await run('runuser', ['-u', 'postgres', '--', join(PG_BIN, tool), ...args], {
    timeout: COMMAND_TIMEOUT_MS,
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface PrivatePostgres {
  readonly url: string;
  start(): Promise<void>;
  /** A crash: no checkpoint, connections cut; the next start recovers from the WAL. */
  crash(): Promise<void>;
  /** SIGKILL to the postmaster and every backend at once: connections die with writes in flight. */
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const data_dir = mkdtempSync(join(tmpdir(), 'afc-chaos-pg-'));
  chmodSync(data_dir, 0o777);
  await run('chown', ['postgres', data_dir]);
  await pg('initdb', '-D', data_dir, '-A', 'trust', '-U', 'postgres', '--no-sync');
  const port = await freePort();
  let running = false;
  const handle: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      const options = `-p ${port} -k ${data_dir} -c listen_addresses=127.0.0.1 -c max_connections=200`;
      // A log file of its own: otherwise the server inherits pg_ctl's stdout and the call waits on it.
      const log_file = join(data_dir, 'server.log');
      await pg(
        'pg_ctl',
        '-D',
        data_dir,
        '-w',
        '-t',
        String(PG_CTL_TIMEOUT_S),
        '-l',
        log_file,
        '-o',
        options,
        'start',
      );
      running = true;
    },
    async crash() {
      await pg('pg_ctl', '-D', data_dir, '-w', '-m', 'immediate', 'stop');
      running = false;
    },
    async kill() {
      const postmaster_pid = readFileSync(join(data_dir, 'postmaster.pid'), 'utf8').split('\n')[0]!.trim();
      const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', postmaster_pid]);
      const pids = [postmaster_pid, ...stdout.split('\n').map((line) => line.trim())].filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Already gone: a backend may exit on its own once the postmaster has died.
        }
      }
      // Gone before a restart binds the port and the shared memory again.
      await waitFor(
        async () => pids.every((pid) => !alive(Number(pid))),
        'killed postgres processes',
        COMMAND_TIMEOUT_MS,
      );
      running = false;
    },
    async destroy() {
      if (running) await pg('pg_ctl', '-D', data_dir, '-w', '-m', 'immediate', 'stop').catch(() => {});
      running = false;
      rmSync(data_dir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}
