// Transactions as the worker writes them (PostgreSQL rows, MongoDB documents), read back with
// their decision trace through the management API.
import { randomUUID } from 'node:crypto';
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPersonalTransactionKeys } from '../../shared/personal-transaction-keys.ts';
import { uniqueToken } from '../support/cardholders.ts';
import { apiKey, bearer, callApi, startTestApi, type TestApi } from '../support/api-harness.ts';

let api: TestApi;
let admin: Record<string, string>;

beforeAll(async () => {
  // Paging through hundreds of records takes more requests than the default rate limit allows.
  api = await startTestApi({ API_RATE_LIMIT_MAX: '1000000' });
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

/** Collects every page of a listing; checks that each cursor is accepted. */
async function allPages(url: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await get(`${url}&limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`);
    expect(page.status, page.body.error?.message).toBe(200);
    expect(page.body.data.length).toBeLessThanOrEqual(limit);
    ids.push(...page.body.data.map((t: { id: string }) => t.id));
    cursor = page.body.next_cursor;
  } while (cursor !== null);
  return ids;
}

describe('business transactions, a few hundred', () => {
  it('pages through every one exactly once, newest first, and gets each by its id', async () => {
    const { user, card } = await businessCard();
    const base = Date.UTC(2026, 2, 1);
    const rows: Array<{ id: string; at: number }> = [];
    // Three per instant: the id orders them, also across pages.
    for (let i = 0; i < 300; i++) {
      const at = base + Math.floor(i / 3) * 1000;
      rows.push({ id: await businessTransaction(card, new Date(at)), at });
    }
    rows.sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : -1));
    const expected = rows.map((t) => t.id);
    expect(await allPages(`/api/transactions?card_id=${card.id}`, 37)).toEqual(expected);
    expect(await allPages(`/api/transactions?user_id=${user.id}`, 100)).toEqual(expected);
    for (const id of expected) expect((await get(`/api/transactions/${id}`)).body.id).toBe(id);
  }, 180_000);
});

/** Personal transactions as the worker records them: their keys in PostgreSQL, then the documents. */
async function personalTransactions(
  card: { id: string; user_id: string; card_token: string },
  transactions: ReadonlyArray<{ created_at: Date; _id?: string | ObjectId; amount_minor?: bigint }>,
): Promise<string[]> {
  const docs = transactions.map(({ created_at, _id = `jit_${randomUUID()}`, amount_minor = 1000n }) => ({
    _id,
    jit_token: typeof _id === 'string' ? _id : uniqueToken('pjit'),
    transaction_token: uniqueToken('ptxn'),
    method: 'pgfs.authorization',
    card_id: new ObjectId(card.id),
    user_id: new ObjectId(card.user_id),
    card_token: card.card_token,
    amount_minor,
    approved_amount_minor: amount_minor,
    currency_code: 'USD',
    status: 'pending',
    status_code: 0,
    decline_reason: null,
    memo: 'approved',
    revision: 1,
    decided_at: created_at,
    created_at,
  }));
  await registerPersonalTransactionKeys(
    api.sql,
    docs.map((d) => ({
      transaction_id: String(d._id),
      card_id: card.id,
      user_id: card.user_id,
      created_at: d.created_at,
    })),
  );
  await api.mongo
    .db()
    .collection<{ _id: string | ObjectId; [field: string]: unknown }>('personal_transactions')
    .insertMany(docs);
  return docs.map((d) => String(d._id));
}

async function personalCard() {
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
  return { person, card: { ...card, user_id: person.id as string } };
}

describe('personal transactions', () => {
  it('lists a personal card’s transactions and gets one by its JIT token or an old ObjectId', async () => {
    const { person, card } = await personalCard();
    const ids = await personalTransactions(card, [
      { created_at: new Date(Date.UTC(2026, 1, 1)), _id: new ObjectId(), amount_minor: 1000n },
      { created_at: new Date(Date.UTC(2026, 1, 2)), amount_minor: 1001n },
      { created_at: new Date(Date.UTC(2026, 1, 3)), amount_minor: 1002n },
    ]);
    const listed = await get(`/api/transactions?card_id=${card.id}&limit=2`);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((t: { amount_minor: string }) => t.amount_minor)).toEqual(['1002', '1001']);
    const rest = await get(`/api/transactions?card_id=${card.id}&limit=2&cursor=${listed.body.next_cursor}`);
    expect(rest.status).toBe(200);
    expect(rest.body.data.map((t: { amount_minor: string }) => t.amount_minor)).toEqual(['1000']);
    const byUser = await get(`/api/transactions?user_id=${person.id}`);
    expect(byUser.body.data.map((t: { id: string }) => t.id)).toEqual([...ids].reverse());
    for (const id of ids) {
      const one = await get(`/api/transactions/${id}`);
      expect(one.status).toBe(200);
      expect(one.body).toMatchObject({
        id,
        kind: 'personal',
        card_id: card.id,
        decision: { status_name: 'APPROVED', memo: 'approved' },
      });
    }
    expect((await get(`/api/transactions/jit_${randomUUID()}`)).status).toBe(404);
    expect((await get('/api/transactions/not%20a%20token')).status).toBe(400);
  });

  it('pages through a few hundred exactly once, newest first, and gets each by its id', async () => {
    const { person, card } = await personalCard();
    const base = Date.UTC(2026, 3, 1);
    const times = Array.from({ length: 300 }, (_, i) => base + Math.floor(i / 3) * 1000);
    const created = await personalTransactions(
      card,
      times.map((at) => ({ created_at: new Date(at) })),
    );
    const expected = created.map((id, i) => ({ id, at: times[i]! }));
    // Newest first; within one instant, the larger id first.
    expected.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1));
    const ids = expected.map((t) => t.id);
    expect(await allPages(`/api/transactions?card_id=${card.id}`, 37)).toEqual(ids);
    expect(await allPages(`/api/transactions?user_id=${person.id}`, 100)).toEqual(ids);
    const window = await allPages(
      `/api/transactions?card_id=${card.id}&from=${new Date(base + 10_000).toISOString()}&to=${new Date(base + 20_000).toISOString()}`,
      7,
    );
    expect(window).toEqual(
      expected.filter((t) => t.at >= base + 10_000 && t.at < base + 20_000).map((t) => t.id),
    );
    for (const id of ids) expect((await get(`/api/transactions/${id}`)).body.id).toBe(id);
  }, 180_000);
});
