// Transactions as the worker writes them (PostgreSQL rows, MongoDB documents), read back with
// their decision trace through the management API.
import { randomUUID } from 'node:crypto';
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueToken } from '../support/cardholders.ts';
import { apiKey, bearer, callApi, startTestApi, type TestApi } from '../support/api-harness.ts';

let api: TestApi;
let admin: Record<string, string>;

beforeAll(async () => {
  api = await startTestApi();
  admin = bearer(await apiKey(api, null, ['admin']));
});
afterAll(async () => {
  await api.close();
});

function get(url: string, headers = admin) {
  return callApi(api, 'GET', url, headers);
}

async function businessCard() {
  const company = (
    await callApi(api, 'POST', '/api/companies', admin, { name: `Txn Co ${randomUUID().slice(0, 6)}` })
  ).body;
  const user = (
    await callApi(api, 'POST', `/api/companies/${company.id}/users`, admin, {
      email: `${uniqueToken('tx')}@example.test`,
      role: 'employee',
    })
  ).body;
  const card = (
    await callApi(api, 'POST', '/api/cards', admin, {
      kind: 'business',
      user_id: user.id,
      currency_code: 'USD',
    })
  ).body;
  return { company, user, card };
}

async function businessTransaction(
  card: { id: string; user_id: string; card_token: string },
  created_at: Date,
  declined = false,
) {
  const id = randomUUID();
  await api.sql`
    INSERT INTO transactions (id, jit_token, transaction_token, method, card_id, user_id, card_token, amount_minor,
                              approved_amount_minor, currency_code, merchant, mcc, status, status_code, decline_reason,
                              memo, revision, day_window, month_window, decided_at, created_at)
    VALUES (${id}, ${uniqueToken('jit')}, ${uniqueToken('txn')}, 'pgfs.authorization', ${card.id}, ${card.user_id},
            ${card.card_token}, 4275, ${declined ? 0 : 4275}, 'USD', 'Coffee', '5814',
            ${declined ? 'declined' : 'pending'}, ${declined ? 3 : 0}, ${declined ? 'AMOUNT_LIMIT_EXCEEDED' : null},
            ${declined ? 'limit_exceeded' : 'approved'}, 1, ${created_at}, ${created_at}, ${created_at}, ${created_at})`;
  return id;
}

describe('business transactions', () => {
  it('gets one transaction with its decision trace', async () => {
    const { card } = await businessCard();
    const id = await businessTransaction(card, new Date(), true);
    const got = await get(`/api/transactions/${id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id,
      kind: 'business',
      card_id: card.id,
      amount_minor: '4275',
      approved_amount_minor: '0',
      currency_code: 'USD',
      merchant: { name: 'Coffee', mcc: '5814' },
      status: 'declined',
      decision: {
        status_code: 3,
        status_name: 'LIMIT_DAILY',
        memo: 'limit_exceeded',
        decline_reason: 'AMOUNT_LIMIT_EXCEEDED',
        revision: 1,
      },
    });
    expect((await get(`/api/transactions/${randomUUID()}`)).status).toBe(404);
  });

  it('lists by card, user and company newest first, with cursor pages and a time window', async () => {
    const { company, user, card } = await businessCard();
    const base = Date.UTC(2026, 0, 10);
    const ids: string[] = [];
    for (let day = 0; day < 4; day++)
      ids.push(await businessTransaction(card, new Date(base + day * 86_400_000)));
    const newest_first = [...ids].reverse();
    for (const filter of [`card_id=${card.id}`, `user_id=${user.id}`, `company_id=${company.id}`]) {
      const all = await get(`/api/transactions?${filter}`);
      expect(all.body.data.map((t: { id: string }) => t.id)).toEqual(newest_first);
    }
    const page1 = await get(`/api/transactions?card_id=${card.id}&limit=3`);
    const page2 = await get(`/api/transactions?card_id=${card.id}&limit=3&cursor=${page1.body.next_cursor}`);
    expect([...page1.body.data, ...page2.body.data].map((t: { id: string }) => t.id)).toEqual(newest_first);
    expect(page2.body.next_cursor).toBeNull();
    const window = await get(
      `/api/transactions?card_id=${card.id}&from=${new Date(base + 86_400_000).toISOString()}&to=${new Date(base + 3 * 86_400_000).toISOString()}`,
    );
    expect(window.body.data.map((t: { id: string }) => t.id)).toEqual([ids[2], ids[1]]);
    expect((await get(`/api/transactions?card_id=${card.id}&from=yesterday`)).status).toBe(400);
  });
});

describe('personal transactions', () => {
  it('lists a personal card’s transactions from MongoDB and gets one', async () => {
    const person = (
      await callApi(api, 'POST', '/api/personal-users', admin, {
        email: `${uniqueToken('pt')}@example.test`,
        kyc_status: 'verified',
      })
    ).body;
    const card = (
      await callApi(api, 'POST', '/api/cards', admin, {
        kind: 'personal',
        user_id: person.id,
        currency_code: 'USD',
      })
    ).body;
    const docs = [0, 1, 2].map((i) => ({
      _id: new ObjectId(),
      jit_token: uniqueToken('pjit'),
      transaction_token: uniqueToken('ptxn'),
      method: 'pgfs.authorization',
      card_id: new ObjectId(card.id),
      user_id: new ObjectId(person.id),
      card_token: card.card_token,
      amount_minor: 1000n + BigInt(i),
      approved_amount_minor: 1000n + BigInt(i),
      currency_code: 'USD',
      status: 'pending',
      status_code: 0,
      decline_reason: null,
      memo: 'approved',
      revision: 1,
      decided_at: new Date(Date.UTC(2026, 1, 1 + i)),
      created_at: new Date(Date.UTC(2026, 1, 1 + i)),
    }));
    await api.mongo.db().collection('personal_transactions').insertMany(docs);
    const listed = await get(`/api/transactions?card_id=${card.id}&limit=2`);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((t: { amount_minor: string }) => t.amount_minor)).toEqual(['1002', '1001']);
    const rest = await get(`/api/transactions?card_id=${card.id}&limit=2&cursor=${listed.body.next_cursor}`);
    expect(rest.body.data.map((t: { amount_minor: string }) => t.amount_minor)).toEqual(['1000']);
    const byUser = await get(`/api/transactions?user_id=${person.id}`);
    expect(byUser.body.data).toHaveLength(3);
    const one = await get(`/api/transactions/${String(docs[0]!._id)}`);
    expect(one.body).toMatchObject({
      kind: 'personal',
      card_id: card.id,
      decision: { status_name: 'APPROVED', memo: 'approved' },
    });
  });
});
