// Child processes under test (baseline server, gateway, worker): started with their own
// environment, output to a log file, ready when their readiness URL answers 200, stopped with
// SIGTERM and, past a bound, SIGKILL. Only processes this module started are ever signalled.

import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { request } from 'undici';

const READY_POLL_MS = 100;
/** Longer than the gateway's and worker's own 30 s shutdown deadline (a CPU profile is written at exit). */
const STOP_GRACE_MS = 35_000;

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly log_path: string;
  stop(): Promise<number | null>;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export interface StartOptions {
  readonly name: string;
  readonly script: string;
  readonly env: Record<string, string>;
  readonly ready_url: string;
  readonly ready_timeout_ms: number;
  readonly log_path: string;
  readonly node_args?: readonly string[];
}

export async function startChild(options: StartOptions): Promise<Child> {
  const log = createWriteStream(options.log_path);
  const child = spawn(process.execPath, [...(options.node_args ?? []), options.script], {
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const handle: Child = {
    name: options.name,
    pid: child.pid ?? -1,
    log_path: options.log_path,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      const code = await exited(child);
      clearTimeout(timer);
      return code;
    },
  };
  const deadline_ms = Date.now() + options.ready_timeout_ms;
  while (Date.now() < deadline_ms) {
    if (child.exitCode !== null) break;
    try {
      const response = await request(options.ready_url, { headersTimeout: 1_000, bodyTimeout: 1_000 });
      await response.body.dump();
      if (response.statusCode === 200) return handle;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
  await handle.stop();
  const tail = readFileSync(options.log_path, 'utf8').split('\n').slice(-15).join('\n');
  throw new Error(
    `${options.name} was not ready at ${options.ready_url} within ${options.ready_timeout_ms} ms:\n${tail}`,
  );
}
