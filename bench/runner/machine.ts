// The machine and the versions a result was measured with, for the report.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import type { PgSql } from '../../shared/stores/postgres.ts';

const run = promisify(execFile);

export interface MachineInfo {
  readonly nproc: number;
  readonly memory_gb: number;
  readonly cpu_model: string;
  readonly load_average_1m_at_start: number;
  readonly git_commit: string;
  readonly versions: Record<string, string>;
}

async function quietly(read: () => Promise<string>): Promise<string> {
  try {
    return (await read()).trim();
  } catch {
    return 'unknown';
  }
}

function packageVersion(name: string): string {
  try {
    const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function machineInfo(sql: PgSql, mongo: Db, redis: Redis): Promise<MachineInfo> {
  const [git_commit, postgres, redis_version, rabbitmq, ferretdb] = await Promise.all([
    quietly(async () => (await run('git', ['rev-parse', '--short', 'HEAD'])).stdout),
    quietly(async () => (await sql<{ server_version: string }[]>`SHOW server_version`)[0]!.server_version),
    quietly(async () => /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown'),
    quietly(async () => (await run('rabbitmqctl', ['-q', 'version'], { timeout: 30_000 })).stdout),
    quietly(async () => {
      const info = (await mongo.command({ buildInfo: 1 })) as { version?: string; ferretdbVersion?: string };
      return info.ferretdbVersion ?? `wire ${info.version ?? '?'}`;
    }),
  ]);
  return {
    nproc: availableParallelism(),
    memory_gb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    load_average_1m_at_start: loadavg()[0] ?? 0,
    git_commit,
    versions: {
      node: process.version,
      postgresql: postgres,
      redis: redis_version,
      rabbitmq,
      ferretdb,
      fastify: packageVersion('fastify'),
      undici: packageVersion('undici'),
      ioredis: packageVersion('ioredis'),
      'hdr-histogram-js': packageVersion('hdr-histogram-js'),
    },
  };
}
