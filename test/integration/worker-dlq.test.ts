// The retry path and the DLQ: a message that keeps failing is retried 3 times, then parked in
// <queue>.dlq with its reason and attempt count; once the cause is fixed, `dlq replay`
// persists it, once. An undecodable message goes to the DLQ at once. In a batch, the poison
// decision is split off (bisect) and retried alone; the others commit.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_TYPE_DECISION_BATCH, encodeBatch } from '../../shared/decision-batch.ts';
import { listDeadLetters } from '../../shared/broker/dead-letters.ts';
import { createBusinessCard, uniqueToken } from '../support/cardholders.ts';
import { outboxLine, publishBatches } from '../support/decision-batches.ts';
import {
  decisionEvent,
  deleteWorkQueue,
  publishEvents,
  startTestWorker,
  uniqueQueue,
  waitUntil,
} from '../support/worker-harness.ts';

const run = promisify(execFile);
const queue = uniqueQueue();
let worker: Awaited<ReturnType<typeof startTestWorker>>;

beforeAll(async () => {
  worker = await startTestWorker({ WORKER_DECISIONS_QUEUE: queue });
});
afterAll(async () => {
  if (!worker) return;
  await deleteWorkQueue(worker.rabbit, queue);
  await worker.close();
});

function dlq(...args: string[]) {
  return run('node_modules/.bin/node', ['worker/cli/dlq.ts', ...args, '--queue', queue], {
    env: process.env,
  });
}

describe('worker retry path and dead-letter queue', () => {
  it('parks a failing decision after 3 retries with its reason, and replay persists it once fixed', async () => {
    // A business card the database does not know yet: the foreign key rejects the row.
    const card = {
      card_id: randomUUID(),
      user_id: randomUUID(),
      card_token: uniqueToken('card'),
      user_token: uniqueToken('user'),
    };
    const poison = decisionEvent({ card, kind: 'business', amount_minor: 2_500n });
    const garbage = { hello: 'not a decision' };
    await publishEvents(worker.rabbit, queue, [garbage]);
    await waitUntil(async () => (await listDeadLetters(worker.rabbit, queue)).length === 1);
    await publishEvents(worker.rabbit, queue, [poison]);
    await waitUntil(async () => (await listDeadLetters(worker.rabbit, queue)).length === 2);

    const [undecodable, parked] = await listDeadLetters(worker.rabbit, queue);
    expect(undecodable).toMatchObject({ attempts: 1, routing_key: queue });
    expect(undecodable!.reason).toMatch(/^WK_ERR_INVALID_MESSAGE/);
    expect(parked).toMatchObject({
      position: 2,
      message_id: `${poison.request.jit_token}:1`,
      attempts: 4,
      routing_key: queue,
    });
    expect(parked!.reason).toMatch(/^23503: .*foreign key/);

    const listed = await dlq('list');
    expect(listed.stdout).toContain(`${poison.request.jit_token}:1`);
    expect(listed.stdout).toContain('2 message(s)');

    // The fix: the cardholder now exists.
    const company_id = randomUUID();
    await worker.sql.begin(async (tx) => {
      await tx`INSERT INTO companies (id, name) VALUES (${company_id}, 'DLQ Co')`;
      await tx`INSERT INTO users (id, company_id, user_token, email, role, status)
               VALUES (${card.user_id}, ${company_id}, ${card.user_token}, ${`${card.user_token}@example.test`}, 'employee', 'active')`;
      await tx`INSERT INTO cards (id, user_id, card_token, status, currency_code)
               VALUES (${card.card_id}, ${card.user_id}, ${card.card_token}, 'active', 'USD')`;
    });
    const replayed = await dlq('replay', '2');
    expect(replayed.stdout).toContain('replayed 1 message(s)');
    await waitUntil(async () => {
      const rows = await worker.sql`SELECT 1 FROM transactions WHERE jit_token = ${poison.request.jit_token}`;
      return rows.length === 1;
    });
    const [spend] = await worker.sql<{ spent_minor: bigint; txn_count: number }[]>`
      SELECT spent_minor, txn_count FROM spending_controls WHERE card_id = ${card.card_id} AND period = 'day'`;
    expect(spend).toEqual({ spent_minor: 2_500n, txn_count: 1 });

    // Only the undecodable message is left; purge removes it.
    expect((await listDeadLetters(worker.rabbit, queue)).map((l) => l.message_id)).toEqual([
      undecodable!.message_id,
    ]);
    expect((await dlq('purge')).stdout).toContain('purged 1 message(s)');
    expect(await listDeadLetters(worker.rabbit, queue)).toEqual([]);
  });

  it('a batch with a poison decision commits the others; only the poison is retried and parked', async () => {
    const good_card = await createBusinessCard(worker.sql, { daily_limit_minor: 1_000_000n });
    const missing_card = {
      card_id: randomUUID(),
      user_id: randomUUID(),
      card_token: uniqueToken('card'),
      user_token: uniqueToken('user'),
    };
    const goods = Array.from({ length: 6 }, () =>
      decisionEvent({ card: good_card, kind: 'business', amount_minor: 100n }),
    );
    const poison = decisionEvent({ card: missing_card, kind: 'business', amount_minor: 100n });
    const lines = [...goods.slice(0, 3), poison, ...goods.slice(3)].map(outboxLine);
    const before = (await listDeadLetters(worker.rabbit, queue)).length;
    await publishBatches(worker.rabbit, queue, [{ lines }]);
    await waitUntil(async () => (await listDeadLetters(worker.rabbit, queue)).length === before + 1);

    const tokens = goods.map((e) => e.request.jit_token);
    const rows = await worker.sql`SELECT jit_token FROM transactions WHERE jit_token = ANY(${tokens})`;
    expect(rows).toHaveLength(6);
    const parked = (await listDeadLetters(worker.rabbit, queue)).at(-1)!;
    expect(parked).toMatchObject({ message_id: `${poison.request.jit_token}:1`, attempts: 4 });
    expect(parked.reason).toMatch(/^23503: .*foreign key/);
    // `show` gives the single decision, decoded.
    const shown = JSON.parse((await dlq('show', String(parked.position))).stdout);
    expect(shown.body).toHaveLength(1);
    expect(JSON.parse(shown.body[0].r).jit_token).toBe(poison.request.jit_token);
    await dlq('purge');
  });

  it('a batch of an unknown version is dead-lettered at once, with the reason', async () => {
    const line = outboxLine(
      decisionEvent({ card: null, kind: 'unknown', amount_minor: 1n, approved: false }),
    );
    const body = encodeBatch([line])
      .toString('utf8')
      .replace(/^afc-decision-batch 1 /, 'afc-decision-batch 99 ');
    const publisher = worker.rabbit.createPublisher({ confirm: true });
    await publisher.send(
      { exchange: '', routingKey: queue, contentType: CONTENT_TYPE_DECISION_BATCH, messageId: 'v99' },
      Buffer.from(body),
    );
    await publisher.close();
    await waitUntil(async () =>
      (await listDeadLetters(worker.rabbit, queue)).some((l) => l.message_id === 'v99'),
    );
    const letter = (await listDeadLetters(worker.rabbit, queue)).find((l) => l.message_id === 'v99')!;
    expect(letter).toMatchObject({ attempts: 1 });
    expect(letter.reason).toMatch(/^WK_ERR_UNSUPPORTED_VERSION: .*version 99 is not supported/);
    await dlq('purge');
  });

  it('a decision published as JSON by a relay of the previous version is still persisted or parked', async () => {
    const good = decisionEvent({
      card: await createBusinessCard(worker.sql),
      kind: 'business',
      amount_minor: 5n,
    });
    const missing_card = {
      card_id: randomUUID(),
      user_id: randomUUID(),
      card_token: uniqueToken('card'),
      user_token: uniqueToken('user'),
    };
    const poison = decisionEvent({ card: missing_card, kind: 'business', amount_minor: 5n });
    const publisher = worker.rabbit.createPublisher({ confirm: true });
    for (const event of [good, poison]) {
      const message_id = `${event.request.jit_token}:1`;
      await publisher.send({ exchange: '', routingKey: queue, durable: true, messageId: message_id }, event);
    }
    await publisher.close();
    await waitUntil(async () => (await listDeadLetters(worker.rabbit, queue)).length === 1);
    const rows = await worker.sql`SELECT 1 FROM transactions WHERE jit_token = ${good.request.jit_token}`;
    expect(rows).toHaveLength(1);
    const [parked] = await listDeadLetters(worker.rabbit, queue);
    expect(parked).toMatchObject({ message_id: `${poison.request.jit_token}:1`, attempts: 4 });
    expect(parked!.body).toMatchObject({ request: { jit_token: poison.request.jit_token } });
    await dlq('purge');
  });

  it('the CLI rejects a bad command with the usage and exit code 64', async () => {
    await expect(dlq('replay')).rejects.toMatchObject({ code: 64 });
  });
});
