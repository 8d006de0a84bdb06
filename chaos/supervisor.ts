// One process of the system under test (gateway or worker), run as an orchestrator would run
// it: restarted whenever it exits unasked (counted as a crash), killed with SIGKILL when a
// fault says so, stopped with SIGTERM at the end. Output is appended to a log file, so a run's
// log holds every life of the process.

import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { request } from 'undici';
import { NODE, ROOT, waitFor } from '../shared/dev/processes.ts';

/** Past this, a process that has not become ready is reported (the supervisor keeps trying). */
const READY_TIMEOUT_MS = 30_000;
const READY_PROBE_TIMEOUT_MS = 1_000;
const CRASH_RESTART_DELAY_MS = 500;
/** The processes' own shutdown deadline is 30 s. */
const STOP_GRACE_MS = 35_000;

export interface SupervisedOptions {
  readonly name: string;
  readonly script: string;
  readonly env: Record<string, string>;
  readonly ready_url: string;
  readonly log_path: string;
}

export interface Crash {
  readonly at_ms: number;
  readonly code: number | null;
  readonly signal: string | null;
}

export class Supervised {
  readonly name: string;
  readonly crashes: Crash[] = [];
  readonly #options: SupervisedOptions;
  readonly #log: WriteStream;
  readonly #origin_ms: number;
  #child: ChildProcess | null = null;
  /** False while a fault holds the process down or after stop(): exits are then expected. */
  #wanted = false;

  constructor(options: SupervisedOptions, origin_ms: number) {
    this.name = options.name;
    this.#options = options;
    this.#origin_ms = origin_ms;
    this.#log = createWriteStream(options.log_path, { flags: 'a' });
  }

  /** Starts the process (again) and waits until its readiness probe answers 200. */
  get ready_url(): string {
    return this.#options.ready_url;
  }

  async start(): Promise<void> {
    this.#wanted = true;
    this.#spawn();
    await this.waitReady();
  }

  async waitReady(limit_ms = READY_TIMEOUT_MS): Promise<void> {
    await waitFor(() => this.#ready(), `${this.name} ready`, limit_ms, 100);
  }

  /** SIGKILL: no shutdown hook runs. The process stays down until start(). */
  async kill(): Promise<void> {
    this.#wanted = false;
    await this.#signal('SIGKILL');
  }

  async stop(): Promise<void> {
    this.#wanted = false;
    const timer = setTimeout(() => this.#child?.kill('SIGKILL'), STOP_GRACE_MS);
    try {
      await this.#signal('SIGTERM');
    } finally {
      clearTimeout(timer);
      this.#log.end();
    }
  }

  #spawn(): void {
    const child = spawn(NODE, [this.#options.script], {
      cwd: ROOT,
      env: this.#options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(this.#log, { end: false });
    child.stderr?.pipe(this.#log, { end: false });
    child.once('exit', (code, signal) => {
      if (this.#child === child) this.#child = null;
      if (!this.#wanted) return;
      this.crashes.push({ at_ms: performance.now() - this.#origin_ms, code, signal });
      this.#log.write(`\n[chaos] ${this.name} exited unasked (code ${code}, signal ${signal}): restarting\n`);
      setTimeout(() => {
        if (this.#wanted && this.#child === null) this.#spawn();
      }, CRASH_RESTART_DELAY_MS);
    });
    this.#child = child;
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async #ready(): Promise<boolean> {
    const response = await request(this.#options.ready_url, {
      headersTimeout: READY_PROBE_TIMEOUT_MS,
      bodyTimeout: READY_PROBE_TIMEOUT_MS,
    });
    await response.body.dump();
    return response.statusCode === 200;
  }
}
