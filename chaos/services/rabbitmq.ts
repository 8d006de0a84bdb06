// The machine's RabbitMQ, shared by every engineer: each chaos run works in a vhost of its own
// (bench/runner/broker.ts), and an outage stops the broker application for a short moment
// (`rabbitmqctl stop_app` / `start_app`, every vhost at once). Whatever happens, a stopped
// broker is started again before the suite ends (see `ensureRabbitRunning`).

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Connection } from 'rabbitmq-client';
import { WORK_QUEUES } from '../../shared/broker/topology.ts';
import { listDeadLetters } from '../../shared/broker/dead-letters.ts';

const run = promisify(execFile);
const RABBITMQCTL_TIMEOUT_MS = 60_000;
const BROKER_CONNECT_TIMEOUT_MS = 5_000;

let stopped_by_us = false;

async function rabbitmqctl(...args: string[]): Promise<void> {
  await run('rabbitmqctl', ['-q', ...args], { timeout: RABBITMQCTL_TIMEOUT_MS });
}

export async function stopRabbitApp(): Promise<void> {
  stopped_by_us = true;
  await rabbitmqctl('stop_app');
}

export async function startRabbitApp(): Promise<void> {
  await rabbitmqctl('start_app');
  await rabbitmqctl('await_startup');
  stopped_by_us = false;
}

/** Starts the broker application again if this process stopped it and did not restart it. */
export async function ensureRabbitRunning(): Promise<void> {
  if (stopped_by_us) await startRabbitApp();
}

export interface QueueDepths {
  /** Messages still on their way, ready or delivered and not yet acknowledged: work and retry queues. */
  readonly in_flight: number;
  /** Dead-lettered messages per DLQ (only non-empty ones). */
  readonly dead_letters: Record<string, number>;
  /** Work queues without a consumer, and queues not running: the depths are not final yet. */
  readonly unsettled: string[];
}

/**
 * Every queue of the vhost, counting unacknowledged deliveries too (a passive declare does not).
 * After a broker restart a quorum queue may be listed empty, or not at all, until it has
 * recovered its log: a queue not `running`, or a work queue the worker has not subscribed to
 * again, is `unsettled`, and an unlisted work queue throws. An unknown depth is never taken for
 * an empty queue.
 */
export async function queueDepths(vhost: string): Promise<QueueDepths> {
  const { stdout } = await run(
    'rabbitmqctl',
    ['-q', 'list_queues', '-p', vhost, '--no-table-headers', 'name', 'messages', 'consumers', 'state'],
    { timeout: RABBITMQCTL_TIMEOUT_MS },
  );
  let in_flight = 0;
  const dead_letters: Record<string, number> = {};
  const unsettled: string[] = [];
  const counted = new Set<string>();
  for (const line of stdout.split('\n')) {
    const [name, count, consumers, state] = line.trim().split(/\s+/);
    if (!name || !/^\d+$/.test(count ?? '')) continue;
    counted.add(name);
    if (state !== 'running') unsettled.push(`${name} ${state ?? 'unknown'}`);
    if ((WORK_QUEUES as readonly string[]).includes(name) && consumers === '0')
      unsettled.push(`${name} no consumer`);
    const messages = Number(count);
    if (name.endsWith('.dlq')) {
      if (messages > 0) dead_letters[name] = messages;
      continue;
    }
    in_flight += messages;
  }
  const unlisted = WORK_QUEUES.filter((queue) => !counted.has(queue));
  if (unlisted.length > 0) throw new Error(`queues without a depth: ${unlisted.join(', ')}`);
  return { in_flight, dead_letters, unsettled };
}

const DEAD_LETTER_SAMPLE_MAX = 20;

/** Up to 20 dead letters of each non-empty DLQ (left in place), to explain them in the report. */
export async function explainDeadLetters(amqp_url: string, dlqs: readonly string[]): Promise<string[]> {
  const rabbit = new Connection({
    url: amqp_url,
    connectionTimeout: BROKER_CONNECT_TIMEOUT_MS,
    retryLow: 200,
  });
  rabbit.on('error', () => {});
  try {
    const lines: string[] = [];
    for (const dlq of dlqs) {
      const work_queue = dlq.replace(/\.dlq$/, '');
      for (const letter of await listDeadLetters(rabbit, work_queue, DEAD_LETTER_SAMPLE_MAX)) {
        lines.push(`${dlq} #${letter.position} ${letter.message_id ?? '-'}: ${letter.reason ?? 'no reason'}`);
      }
    }
    return lines;
  } finally {
    await rabbit.close();
  }
}
