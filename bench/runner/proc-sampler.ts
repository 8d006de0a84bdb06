// CPU and memory of each process of interest, sampled from /proc (pidusage-style): CPU % is
// the delta of utime+stime over the wall-clock delta (100 % = one core), memory is VmRSS.
// A group (e.g. every `postgres` process) is summed; a process seen for the first time
// contributes from its second sample on.

import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: clock ticks per second in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_S = 100;

export interface ProcessGroup {
  readonly name: string;
  readonly pids: () => readonly number[];
}

/** Pseudo-group: every process on the machine (busy ticks of /proc/stat), to see the noise of others. */
export const MACHINE_GROUP = 'machine (all processes)';

/** Busy clock ticks of all CPUs together: user + nice + system + irq + softirq + steal. */
function machineBusyTicks(): number {
  const fields = readFileSync('/proc/stat', 'utf8')
    .split('\n', 1)[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return user + nice + system + irq + softirq + steal;
}

export interface UsageSample {
  readonly t_s: number;
  readonly cpu_percent: Record<string, number>;
  readonly rss_mb: Record<string, number>;
}

function ticksOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function rssMbOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Pids whose command name (/proc/<pid>/comm) is one of `names`. */
export function pidsByCommand(names: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

export class ProcSampler {
  readonly samples: UsageSample[] = [];
  readonly #groups: ProcessGroup[];
  readonly #origin_ms: number;
  readonly #previous = new Map<number, { ticks: number; at_ms: number }>();
  #machine_previous: { ticks: number; at_ms: number } | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(groups: ProcessGroup[], origin_ms: number) {
    this.#groups = groups;
    this.#origin_ms = origin_ms;
  }

  add(group: ProcessGroup): void {
    this.#groups.push(group);
  }

  start(interval_ms: number): void {
    this.sample();
    this.#timer = setInterval(() => this.sample(), interval_ms);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Machine CPU % (100 = one core) over the last `window_s` seconds of samples. */
  recentMachineCpu(window_s: number): number {
    const last = this.samples.at(-1);
    if (last === undefined) return 0;
    const recent = this.samples.filter((s) => s.t_s > last.t_s - window_s);
    return recent.reduce((sum, s) => sum + (s.cpu_percent[MACHINE_GROUP] ?? 0), 0) / recent.length;
  }

  sample(): void {
    const now_ms = performance.now();
    const cpu_percent: Record<string, number> = {};
    const rss_mb: Record<string, number> = {};
    for (const group of this.#groups) {
      let cpu = 0;
      let rss = 0;
      for (const pid of group.pids()) {
        const ticks = ticksOf(pid);
        if (ticks === undefined) continue;
        const previous = this.#previous.get(pid);
        if (previous && now_ms > previous.at_ms) {
          cpu += ((ticks - previous.ticks) / CLOCK_TICKS_PER_S / ((now_ms - previous.at_ms) / 1000)) * 100;
        }
        this.#previous.set(pid, { ticks, at_ms: now_ms });
        rss += rssMbOf(pid);
      }
      cpu_percent[group.name] = cpu;
      rss_mb[group.name] = rss;
    }
    const machine_ticks = machineBusyTicks();
    const previous = this.#machine_previous;
    cpu_percent[MACHINE_GROUP] =
      previous && now_ms > previous.at_ms
        ? ((machine_ticks - previous.ticks) / CLOCK_TICKS_PER_S / ((now_ms - previous.at_ms) / 1000)) * 100
        : 0;
    this.#machine_previous = { ticks: machine_ticks, at_ms: now_ms };
    this.samples.push({ t_s: (now_ms - this.#origin_ms) / 1000, cpu_percent, rss_mb });
  }

  /** Mean CPU % and peak RSS of each group between two instants (seconds since origin). */
  summary(from_s: number, to_s: number): Record<string, { cpu_percent_mean: number; rss_mb_max: number }> {
    const window = this.samples.filter((s) => s.t_s > from_s && s.t_s <= to_s);
    const out: Record<string, { cpu_percent_mean: number; rss_mb_max: number }> = {};
    for (const name of [...this.#groups.map((g) => g.name), MACHINE_GROUP]) {
      const cpu = window.map((s) => s.cpu_percent[name] ?? 0);
      const rss = window.map((s) => s.rss_mb[name] ?? 0);
      out[name] = {
        cpu_percent_mean: cpu.length ? cpu.reduce((a, b) => a + b, 0) / cpu.length : 0,
        rss_mb_max: rss.length ? Math.max(...rss) : 0,
      };
    }
    return out;
  }
}
