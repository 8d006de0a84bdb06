import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { startFakeMarqeta } from '../../fake-marqeta/server.ts';
import type { Fault } from '../../fake-marqeta/faults.ts';
import { createLogger } from '../../shared/logger.ts';
import { workerMetrics } from '../../shared/metrics.ts';
import { MarqetaClient, type MarqetaClientOptions } from '../../worker/marqeta/client.ts';
import { MarqetaError } from '../../worker/marqeta/errors.ts';
import { uniqueToken } from '../support/cardholders.ts';

const APP_TOKEN = 'test-app-token';
const ADMIN_TOKEN = 'test-admin-token';
type Fake = Awaited<ReturnType<typeof startFakeMarqeta>>;
let fake: Fake;
const clients: MarqetaClient[] = [];

beforeAll(async () => {
  fake = await startFakeMarqeta({ app_token: APP_TOKEN, admin_token: ADMIN_TOKEN, port: 0 });
});
afterEach(() => {
  fake.faults.clear();
  fake.store.strict_duplicates = false;
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await fake.close();
});

/** A client whose waits are recorded instead of slept: the test sees every retry delay. */
function client(overrides: Partial<MarqetaClientOptions> = {}) {
  const delays_ms: number[] = [];
  const registry = new Registry();
  const metrics = workerMetrics(registry);
  const marqeta = new MarqetaClient({
    base_url: fake.base_url,
    app_token: APP_TOKEN,
    admin_token: ADMIN_TOKEN,
    connect_timeout_ms: 1_000,
    timeout_ms: 1_000,
    connections: 4,
    log: createLogger('marqeta-client-test', 'silent'),
    calls_counter: metrics.marqeta_calls,
    sleep: async (delay_ms) => {
      delays_ms.push(delay_ms);
    },
    random: () => 0.5,
    ...overrides,
  });
  clients.push(marqeta);
  const calls = async (operation: string) =>
    Object.fromEntries(
      (await metrics.marqeta_calls.get()).values
        .filter((v) => v.labels.operation === operation)
        .map((v) => [String(v.labels.outcome), v.value]),
    );
  return { marqeta, delays_ms, calls };
}

function fault(spec: Partial<Fault> & Pick<Fault, 'path_prefix' | 'mode'>): void {
  fake.faults.add({ count: 1, delay_ms: 0, phase: 'before', ...spec });
}

async function caught(promise: Promise<unknown>): Promise<MarqetaError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MarqetaError);
  return error as MarqetaError;
}

async function newUser(marqeta: MarqetaClient) {
  return marqeta.createUser({ token: uniqueToken('mu') });
}

describe('Marqeta client', () => {
  it('creates a user, issues a card, walks it through its transitions and reads a transaction', async () => {
    const { marqeta } = client();
    const user = await marqeta.createUser({ token: uniqueToken('mu'), email: 'someone@example.test' });
    expect(user).toMatchObject({ active: true, email: 'someone@example.test' });
    expect((await marqeta.getUser(user.token)).token).toBe(user.token);

    const card = await marqeta.issueCard({
      token: uniqueToken('mc'),
      user_token: user.token,
      card_product_token: 'cp_test',
    });
    expect(card).toMatchObject({
      user_token: user.token,
      card_product_token: 'cp_test',
      state: 'UNACTIVATED',
    });
    expect(card.last_four).toMatch(/^\d{4}$/);
    expect(card.pan).toBe(`411111______${card.last_four}`);

    const activated = await marqeta.activateCard({ token: uniqueToken('mt'), card_token: card.token });
    expect(activated).toMatchObject({
      card_token: card.token,
      user_token: user.token,
      state: 'ACTIVE',
      channel: 'API',
    });
    await marqeta.suspendCard({ token: uniqueToken('mt'), card_token: card.token });
    expect((await marqeta.getCard(card.token)).state).toBe('SUSPENDED');
    await marqeta.terminateCard({ token: uniqueToken('mt'), card_token: card.token });
    expect((await marqeta.getCard(card.token)).state).toBe('TERMINATED');

    const seeded = fake.store.putTransaction({
      token: uniqueToken('mx'),
      card_token: card.token,
      amount: 42.75,
    });
    expect(await marqeta.getTransaction(seeded.token as string)).toMatchObject({
      token: seeded.token,
      amount: 42.75,
    });
  });

  it('honours Retry-After on 429 and succeeds once the limit lifts', async () => {
    const { marqeta, delays_ms, calls } = client();
    fault({ path_prefix: '/users', method: 'POST', mode: '429', count: 2, retry_after_s: 1 });
    await newUser(marqeta);
    expect(delays_ms).toEqual([1_000, 1_000]);
    expect(await calls('users.create')).toEqual({ MQ_ERR_RATE_LIMITED: 2, ok: 1 });
  });

  it('caps a long Retry-After', async () => {
    const { marqeta, delays_ms } = client({ retry: { retry_after_cap_ms: 1_500 } });
    fault({ path_prefix: '/users', method: 'POST', mode: '503', retry_after_s: 3600 });
    await newUser(marqeta);
    expect(delays_ms).toEqual([1_500]);
  });

  it('retries 500 and 503 with exponential backoff and jitter, then succeeds', async () => {
    const { marqeta, delays_ms, calls } = client();
    fault({ path_prefix: '/users', method: 'POST', mode: '500' });
    fault({ path_prefix: '/users', method: 'POST', mode: '503' });
    await newUser(marqeta);
    // random() = 0.5: half of 100 ms, then half of 200 ms.
    expect(delays_ms).toEqual([50, 100]);
    expect(await calls('users.create')).toEqual({ MQ_ERR_SERVER: 2, ok: 1 });
  });

  it('gives up with MQ_ERR_SERVER after 3 retries', async () => {
    const { marqeta, delays_ms } = client();
    fault({ path_prefix: '/users', method: 'POST', mode: '500', count: 10 });
    const error = await caught(newUser(marqeta));
    expect(error).toMatchObject({ code: 'MQ_ERR_SERVER', status: 500, attempts: 4, retryable: true });
    expect(delays_ms).toEqual([50, 100, 200]);
  });

  it('retries a call that times out, and reports MQ_ERR_TIMEOUT when it never answers', async () => {
    const { marqeta, delays_ms } = client({ timeout_ms: 200 });
    fault({ path_prefix: '/users', method: 'POST', mode: 'slow', delay_ms: 1_000 });
    await newUser(marqeta);
    expect(delays_ms).toHaveLength(1);

    fault({ path_prefix: '/users', method: 'GET', mode: 'slow', delay_ms: 1_000, count: 4 });
    const error = await caught(marqeta.getUser(uniqueToken('mu')));
    expect(error).toMatchObject({ code: 'MQ_ERR_TIMEOUT', attempts: 4 });
  });

  it('retries a dropped connection (MQ_ERR_NETWORK)', async () => {
    const { marqeta, calls } = client();
    fault({ path_prefix: '/users', method: 'POST', mode: 'reset' });
    await newUser(marqeta);
    expect(await calls('users.create')).toEqual({ MQ_ERR_NETWORK: 1, ok: 1 });
  });

  it('never retries 400, 401 or 404', async () => {
    const { marqeta, delays_ms, calls } = client();
    const bad = await caught(
      marqeta.issueCard({
        token: uniqueToken('mc'),
        user_token: uniqueToken('nobody'),
        card_product_token: 'cp',
      }),
    );
    expect(bad).toMatchObject({ code: 'MQ_ERR_CLIENT', status: 400, attempts: 1, retryable: false });
    expect(bad.marqeta_error_code).toBe('400003');

    const missing = await caught(marqeta.getCard(uniqueToken('mc')));
    expect(missing).toMatchObject({ code: 'MQ_ERR_NOT_FOUND', status: 404, attempts: 1 });

    const { marqeta: wrong, calls: wrong_calls } = client({ admin_token: 'not-the-password' });
    const unauthorized = await caught(wrong.getUser(uniqueToken('mu')));
    expect(unauthorized).toMatchObject({ code: 'MQ_ERR_UNAUTHORIZED', status: 401, attempts: 1 });

    expect(delays_ms).toEqual([]);
    expect(await calls('cards.create')).toEqual({ MQ_ERR_CLIENT: 1 });
    expect(await wrong_calls('users.get')).toEqual({ MQ_ERR_UNAUTHORIZED: 1 });
  });

  it('a create retried after its answer was lost creates one card, not two', async () => {
    const { marqeta, delays_ms } = client();
    const user = await newUser(marqeta);
    const token = uniqueToken('mc');
    fault({ path_prefix: '/cards', method: 'POST', mode: '500', phase: 'after' });
    const card = await marqeta.issueCard({ token, user_token: user.token, card_product_token: 'cp' });
    expect(delays_ms).toHaveLength(1);
    expect(card.token).toBe(token);
    expect((await marqeta.getCard(token)).last_four).toBe(card.last_four);
  });

  it('a 409 "token already exists" on a retried create returns the existing object', async () => {
    const { marqeta, calls } = client();
    const user = await newUser(marqeta);
    fake.store.strict_duplicates = true;
    const token = uniqueToken('mc');
    fault({ path_prefix: '/cards', method: 'POST', mode: '503', phase: 'after' });
    const card = await marqeta.issueCard({ token, user_token: user.token, card_product_token: 'cp' });
    expect(card).toMatchObject({ token, user_token: user.token });
    expect(await calls('cards.create')).toEqual({ MQ_ERR_SERVER: 1, MQ_ERR_CONFLICT: 1 });
    expect(await calls('cards.get')).toEqual({ ok: 1 });

    const transition = uniqueToken('mt');
    fault({ path_prefix: '/cardtransitions', method: 'POST', mode: 'reset', phase: 'after' });
    expect(await marqeta.activateCard({ token: transition, card_token: token })).toMatchObject({
      token: transition,
      state: 'ACTIVE',
    });
  });

  it('a token held by a different object is MQ_ERR_CONFLICT, not success', async () => {
    const { marqeta } = client();
    const first = await newUser(marqeta);
    const second = await newUser(marqeta);
    const token = uniqueToken('mc');
    await marqeta.issueCard({ token, user_token: first.token, card_product_token: 'cp' });
    const error = await caught(
      marqeta.issueCard({ token, user_token: second.token, card_product_token: 'cp' }),
    );
    expect(error).toMatchObject({ code: 'MQ_ERR_CONFLICT', status: 409, retryable: false });
  });
});
