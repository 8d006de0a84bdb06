import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXCHANGE_EVENTS } from '../../shared/broker/topology.ts';
import type { CardIssueCommand } from '../../shared/messages.ts';
import { uniqueToken } from '../support/cardholders.ts';
import { apiKey, bearer, callApi, startTestApi, type Method, type TestApi } from '../support/api-harness.ts';

let api: TestApi;
let admin: Record<string, string>;

beforeAll(async () => {
  api = await startTestApi();
  admin = bearer(await apiKey(api, null, ['admin']));
});
afterAll(async () => {
  await api.close();
});

function call(
  method: Method,
  url: string,
  headers: Record<string, string>,
  payload?: Record<string, unknown>,
) {
  return callApi(api, method, url, headers, payload);
}

async function businessUser() {
  const company = await call('POST', '/api/companies', admin, { name: `Co ${randomUUID().slice(0, 6)}` });
  const user = await call('POST', `/api/companies/${company.body.id}/users`, admin, {
    email: `${uniqueToken('u')}@example.test`,
    role: 'employee',
  });
  return { company: company.body, user: user.body };
}

async function personalUser(kyc_status = 'verified') {
  const user = await call('POST', '/api/personal-users', admin, {
    email: `${uniqueToken('p')}@example.test`,
    kyc_status,
  });
  return user.body;
}

async function issueBusiness(extra: Record<string, unknown> = {}) {
  const { company, user } = await businessUser();
  const card = await call('POST', '/api/cards', admin, {
    kind: 'business',
    user_id: user.id,
    currency_code: 'USD',
    ...extra,
  });
  return { company, user, card: card.body };
}

/** Makes a pending card active as the worker would after Marqeta issued it. */
async function activateAsWorker(card_id: string) {
  await api.sql`UPDATE cards SET status = 'active' WHERE id = ${card_id}`;
}

describe('POST /api/cards', () => {
  it('issues a business card as pending with its limits and controls', async () => {
    const { user } = await businessUser();
    const issued = await call('POST', '/api/cards', admin, {
      kind: 'business',
      user_id: user.id,
      currency_code: 'USD',
      limits: { daily_limit_minor: '5000', per_transaction_limit_minor: 2500, weekly_limit_minor: '9000' },
      controls: { mcc_block: ['7995'], country_block: ['KP'] },
    });
    expect(issued.status).toBe(201);
    expect(issued.body).toMatchObject({
      kind: 'business',
      status: 'pending',
      user_token: user.user_token,
      limits: {
        daily_limit_minor: '5000',
        per_transaction_limit_minor: '2500',
        weekly_limit_minor: '9000',
        monthly_limit_minor: null,
      },
      controls: { mcc_block: ['7995'], mcc_allow: [], country_block: ['KP'] },
      version: 1,
    });
    expect(issued.headers.etag).toBe('"1"');
  });

  it('publishes command.card.issue with publisher confirms for a business and a personal card', async () => {
    const queue = `test.api.commands.${randomUUID().slice(0, 8)}`;
    const received: Array<{ routingKey: string; body: CardIssueCommand }> = [];
    const consumer = api.rabbit.createConsumer(
      {
        queue,
        noAck: true,
        queueOptions: { exclusive: true, autoDelete: true },
        queueBindings: [{ exchange: EXCHANGE_EVENTS, routingKey: 'command.#' }],
      },
      (message) => {
        received.push({ routingKey: message.routingKey, body: message.body as CardIssueCommand });
      },
    );
    await new Promise((resolve) => consumer.once('ready', resolve));
    try {
      const { card } = await issueBusiness({ card_product_token: 'demo_product' });
      const person = await personalUser();
      const personal = await call('POST', '/api/cards', admin, {
        kind: 'personal',
        user_id: person.id,
        currency_code: 'USD',
      });
      expect(personal.status).toBe(201);
      await expect
        .poll(() => received.filter((r) => [card.id, personal.body.id].includes(r.body.card_id)).length)
        .toBe(2);
      const business_command = received.find((r) => r.body.card_id === card.id)!;
      expect(business_command.routingKey).toBe('command.card.issue');
      expect(business_command.body).toMatchObject({
        v: 1,
        kind: 'business',
        card_token: card.card_token,
        user_token: card.user_token,
        card_product_token: 'demo_product',
      });
      expect(typeof business_command.body.requested_at_ms).toBe('number');
      expect(received.find((r) => r.body.card_id === personal.body.id)!.body).toMatchObject({
        kind: 'personal',
        user_token: person.user_token,
      });
      // A pending card's command can be published again (recovery after a failed publish).
      expect((await call('POST', `/api/cards/${card.id}/issue`, admin)).status).toBe(202);
      await expect.poll(() => received.filter((r) => r.body.card_id === card.id).length).toBe(2);
    } finally {
      await consumer.close();
    }
  });

  it('refuses a personal cardholder whose KYC is not verified (409) and an unknown cardholder (400)', async () => {
    const person = await personalUser('pending');
    const refused = await call('POST', '/api/cards', admin, {
      kind: 'personal',
      user_id: person.id,
      currency_code: 'USD',
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('API_ERR_INVALID_TRANSITION');
    const unknown = await call('POST', '/api/cards', admin, {
      kind: 'business',
      user_id: randomUUID(),
      currency_code: 'USD',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.fields).toEqual([
      { path: 'body/user_id', message: 'is not a business cardholder' },
    ]);
  });

  it('answers 400 with every field error for an invalid body', async () => {
    const { status, body } = await call('POST', '/api/cards', admin, {
      kind: 'gold',
      currency_code: 'usd',
      limits: { daily_limit_minor: '12.50' },
      surprise: 1,
    });
    expect(status).toBe(400);
    expect(body.error.code).toBe('API_ERR_BAD_REQUEST');
    const paths = body.error.fields.map((f: { path: string }) => f.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'body/kind',
        'body/user_id',
        'body/currency_code',
        'body/limits/daily_limit_minor',
        'body/surprise',
      ]),
    );
    expect(typeof body.request_id).toBe('string');
  });

  it('answers 415 for a body that is not JSON and 413 for a body over the limit', async () => {
    const text = await api.app.inject({
      method: 'POST',
      url: '/api/cards',
      headers: { ...admin, 'content-type': 'application/xml' },
      payload: '<card/>',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('API_ERR_UNSUPPORTED_MEDIA_TYPE');
    const huge = await api.app.inject({
      method: 'POST',
      url: '/api/cards',
      headers: { ...admin, 'content-type': 'application/json' },
      payload: JSON.stringify({ kind: 'business', pad: 'x'.repeat(api.config.body_limit_bytes) }),
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe('API_ERR_BODY_TOO_LARGE');
  });
});

describe('GET /api/cards', () => {
  it('gets one card with its ETag and answers 404 for an unknown id', async () => {
    const { card } = await issueBusiness();
    const got = await call('GET', `/api/cards/${card.id}`, admin);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(card);
    expect(got.headers.etag).toBe('"1"');
    const missing = await call('GET', `/api/cards/${randomUUID()}`, admin);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('API_ERR_NOT_FOUND');
    expect((await call('GET', '/api/cards/not-an-id', admin)).status).toBe(400);
  });

  it('lists a user’s cards newest first with cursor pagination and a status filter', async () => {
    const { user } = await businessUser();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        (
          await call('POST', '/api/cards', admin, {
            kind: 'business',
            user_id: user.id,
            currency_code: 'USD',
          })
        ).body.id,
      );
    }
    await activateAsWorker(ids[0]!);
    const first = await call('GET', `/api/cards?user_id=${user.id}&limit=2`, admin);
    expect(first.status).toBe(200);
    expect(first.body.data.map((c: { id: string }) => c.id)).toEqual([ids[2], ids[1]]);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await call(
      'GET',
      `/api/cards?user_id=${user.id}&limit=2&cursor=${first.body.next_cursor}`,
      admin,
    );
    expect(second.body.data.map((c: { id: string }) => c.id)).toEqual([ids[0]]);
    expect(second.body.next_cursor).toBeNull();
    const active = await call('GET', `/api/cards?user_id=${user.id}&status=active`, admin);
    expect(active.body.data.map((c: { id: string }) => c.id)).toEqual([ids[0]]);
    const bad = await call('GET', `/api/cards?user_id=${user.id}&cursor=bm9wZQ`, admin);
    expect(bad.status).toBe(400);
  });

  it('lists personal cards by personal user', async () => {
    const person = await personalUser();
    const card = await call('POST', '/api/cards', admin, {
      kind: 'personal',
      user_id: person.id,
      currency_code: 'EUR',
    });
    const listed = await call('GET', `/api/cards?user_id=${person.id}`, admin);
    expect(listed.body.data).toEqual([card.body]);
  });
});

describe('card status', () => {
  it('follows the state machine: suspend, activate, close; closed is final', async () => {
    const { card } = await issueBusiness();
    // pending -> active is the worker's step, not an operator action.
    const early = await call('POST', `/api/cards/${card.id}/status`, admin, { action: 'activate' });
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('API_ERR_INVALID_TRANSITION');
    await activateAsWorker(card.id);
    const suspended = await call('POST', `/api/cards/${card.id}/status`, admin, { action: 'suspend' });
    expect(suspended.status).toBe(200);
    expect(suspended.body).toMatchObject({ status: 'suspended', version: 2 });
    expect(suspended.headers.etag).toBe('"2"');
    const active = await call('POST', `/api/cards/${card.id}/status`, admin, { action: 'activate' });
    expect(active.body.status).toBe('active');
    expect((await call('POST', `/api/cards/${card.id}/status`, admin, { action: 'close' })).body.status).toBe(
      'closed',
    );
    const reopen = await call('POST', `/api/cards/${card.id}/status`, admin, { action: 'activate' });
    expect(reopen.status).toBe(409);
    expect((await call('POST', `/api/cards/${card.id}/status`, admin, { action: 'explode' })).status).toBe(
      400,
    );
  });

  it('applies a change with a current If-Match and refuses a stale one with 409', async () => {
    const { card } = await issueBusiness();
    await activateAsWorker(card.id);
    const stale = await call(
      'POST',
      `/api/cards/${card.id}/status`,
      { ...admin, 'if-match': '"7"' },
      { action: 'suspend' },
    );
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('API_ERR_VERSION_CONFLICT');
    const ok = await call(
      'POST',
      `/api/cards/${card.id}/status`,
      { ...admin, 'if-match': '"1"' },
      { action: 'suspend' },
    );
    expect(ok.status).toBe(200);
    const replay = await call(
      'POST',
      `/api/cards/${card.id}/status`,
      { ...admin, 'if-match': '"1"' },
      { action: 'activate' },
    );
    expect(replay.status).toBe(409);
    expect(
      (
        await call(
          'POST',
          `/api/cards/${card.id}/status`,
          { ...admin, 'if-match': 'nope' },
          { action: 'activate' },
        )
      ).status,
    ).toBe(400);
  });
});

describe('PATCH /api/cards/:id', () => {
  it('merges limits (null removes one) and replaces the lists it is given', async () => {
    const { card } = await issueBusiness({
      limits: { daily_limit_minor: '5000', monthly_limit_minor: '90000' },
      controls: { mcc_block: ['7995'], merchant_allow: ['m1'] },
    });
    const patched = await call(
      'PATCH',
      `/api/cards/${card.id}`,
      { ...admin, 'if-match': '"1"' },
      {
        limits: {
          daily_limit_minor: null,
          per_transaction_limit_minor: '700',
          velocity_count_max: 5,
          velocity_window_s: 3600,
        },
        controls: { mcc_block: ['5933', '7995'] },
      },
    );
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      version: 2,
      limits: {
        daily_limit_minor: null,
        monthly_limit_minor: '90000',
        per_transaction_limit_minor: '700',
        velocity_count_max: 5,
        velocity_window_s: 3600,
      },
      controls: { mcc_block: ['5933', '7995'], merchant_allow: ['m1'] },
    });
    const half = await call('PATCH', `/api/cards/${card.id}`, admin, { limits: { velocity_window_s: null } });
    expect(half.status).toBe(400);
    expect((await call('PATCH', `/api/cards/${card.id}`, admin, {})).status).toBe(400);
    expect(
      (
        await call(
          'PATCH',
          `/api/cards/${card.id}`,
          { ...admin, 'if-match': '"1"' },
          { limits: { daily_limit_minor: 1 } },
        )
      ).status,
    ).toBe(409);
  });

  it('changes limits of a personal card on its MongoDB document', async () => {
    const person = await personalUser();
    const card = (
      await call('POST', '/api/cards', admin, { kind: 'personal', user_id: person.id, currency_code: 'USD' })
    ).body;
    const patched = await call('PATCH', `/api/cards/${card.id}`, admin, {
      limits: { daily_limit_minor: '12345' },
      controls: { mcc_allow: ['5411'] },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      version: 2,
      limits: { daily_limit_minor: '12345' },
      controls: { mcc_allow: ['5411'] },
    });
    const stale = await call(
      'PATCH',
      `/api/cards/${card.id}`,
      { ...admin, 'if-match': '"1"' },
      { limits: { daily_limit_minor: '1' } },
    );
    expect(stale.status).toBe(409);
  });
});
