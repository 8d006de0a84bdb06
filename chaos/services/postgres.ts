// A private PostgreSQL cluster for one chaos session (initdb in a temporary directory), so the
// suite may crash and restart it freely without touching the machine's shared instance that
// other engineers' tests use. Stopped with `-m immediate`: a crash, recovered from the WAL.

import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../test/support/processes.ts';

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

export interface PrivatePostgres {
  readonly url: string;
  start(): Promise<void>;
  /** A crash: no checkpoint, connections cut; the next start recovers from the WAL. */
  crash(): Promise<void>;
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
    async destroy() {
      if (running) await pg('pg_ctl', '-D', data_dir, '-w', '-m', 'immediate', 'stop').catch(() => {});
      running = false;
      rmSync(data_dir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}
