// API keys: 401 without a valid key, 403 for a scope it lacks, 404 for another tenant's resources
// (as for unknown ones), 429 past the rate limit.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerPersonalTransactionKeys } from '../../shared/personal-transaction-keys.ts';
import { uniqueToken } from '../support/cardholders.ts';
import {
  apiKey,
  apiKeySecret,
  bearer,
  callApi,
  startTestApi,
  type Method,
  type TestApi,
} from '../support/api-harness.ts';

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

/** A company with a user, a business card and a transaction, and an admin key of its own. */
async function tenant() {
  const company = (
    await call('POST', '/api/companies', admin, { name: `Tenant ${randomUUID().slice(0, 6)}` })
  ).body;
  const user = (
    await call('POST', `/api/companies/${company.id}/users`, admin, {
      email: `${uniqueToken('t')}@example.test`,
      role: 'employee',
    })
  ).body;
  const card = (
    await call('POST', '/api/cards', admin, { kind: 'business', user_id: user.id, currency_code: 'USD' })
  ).body;
  const transaction_id = randomUUID();
  await api.sql`
    INSERT INTO transactions (id, jit_token, transaction_token, method, card_id, user_id, card_token, amount_minor,
                              approved_amount_minor, currency_code, status, status_code, memo, day_window, month_window, decided_at)
    VALUES (${transaction_id}, ${uniqueToken('jit')}, ${uniqueToken('txn')}, 'pgfs.authorization', ${card.id}, ${user.id},
            ${card.card_token}, 1000, 1000, 'USD', 'pending', 0, 'approved', current_date, date_trunc('month', now())::date, now())`;
  const key = bearer(await apiKey(api, company.id, ['admin']));
  return { company, user, card, transaction_id, key };
}

describe('authentication', () => {
  it('answers 401 without a key, with a malformed key, an unknown key and a revoked key', async () => {
    expect((await call('GET', '/api/companies', {})).status).toBe(401);
    expect((await call('GET', '/api/companies', { authorization: 'Basic abc' })).status).toBe(401);
    expect(
      (
        await call(
          'GET',
          '/api/companies',
          bearer('afc_0000000000000000_thisKeyDoesNotExistAnywhere000000000000000'),
        )
      ).status,
    ).toBe(401);
    const created = await call('POST', '/api/api-keys', admin, {
      name: 'short-lived',
      company_id: null,
      scopes: ['read'],
    });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^afc_[a-z0-9]+_/);
    const key = bearer(created.body.key);
    expect((await call('GET', '/api/companies', key)).status).toBe(200);
    expect((await call('DELETE', `/api/api-keys/${created.body.id}`, admin)).body.revoked_at).not.toBeNull();
    const revoked = await call('GET', '/api/companies', key);
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.code).toBe('API_ERR_UNAUTHORIZED');
  });

  it('stores only the SHA-256 of a key', async () => {
    const created = await call('POST', '/api/api-keys', admin, {
      name: 'hashed',
      company_id: null,
      scopes: ['read'],
    });
    const [row] = await api.sql<
      { key_sha256: Buffer }[]
    >`SELECT key_sha256 FROM api_keys WHERE id = ${created.body.id}`;
    expect(row!.key_sha256.length).toBe(32);
    expect(JSON.stringify(await api.sql`SELECT * FROM api_keys WHERE id = ${created.body.id}`)).not.toContain(
      apiKeySecret(created.body.key),
    );
  });
});

describe('scopes', () => {
  it('a read key may read but not write (403); a write key may not manage keys (403)', async () => {
    const read = bearer(await apiKey(api, null, ['read']));
    expect((await call('GET', '/api/companies', read)).status).toBe(200);
    const denied = await call('POST', '/api/companies', read, { name: 'nope' });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('API_ERR_FORBIDDEN');
    const write = bearer(await apiKey(api, null, ['write']));
    expect((await call('POST', '/api/companies', write, { name: 'yes' })).status).toBe(201);
    expect((await call('GET', '/api/api-keys', write)).status).toBe(403);
  });
});

describe('tenants', () => {
  it('a company key sees its own company, users, cards and transactions', async () => {
    const own = await tenant();
    expect((await call('GET', `/api/companies/${own.company.id}`, own.key)).status).toBe(200);
    expect((await call('GET', '/api/companies', own.key)).body.data.map((c: { id: string }) => c.id)).toEqual(
      [own.company.id],
    );
    expect((await call('GET', `/api/users/${own.user.id}`, own.key)).status).toBe(200);
    expect((await call('GET', `/api/cards/${own.card.id}`, own.key)).status).toBe(200);
    expect((await call('GET', '/api/cards', own.key)).body.data.map((c: { id: string }) => c.id)).toEqual([
      own.card.id,
    ]);
    expect((await call('GET', `/api/transactions/${own.transaction_id}`, own.key)).status).toBe(200);
    expect(
      (await call('GET', '/api/transactions', own.key)).body.data.map((t: { id: string }) => t.id),
    ).toEqual([own.transaction_id]);
    expect(
      (await call('POST', `/api/cards/${own.card.id}/status`, own.key, { action: 'close' })).status,
    ).toBe(200);
  });

  it('another company’s resources answer exactly as unknown ones do (404): nothing tells they exist', async () => {
    const mine = await tenant();
    const theirs = await tenant();
    const their_key = (
      await call('POST', '/api/api-keys', admin, {
        name: 'theirs',
        company_id: theirs.company.id,
        scopes: ['read'],
      })
    ).body;
    const unknown = randomUUID();
    // [method, their resource, the same request naming an id that exists nowhere, body]
    const pairs: Array<[Method, string, string, Record<string, unknown>?]> = [
      ['GET', `/api/companies/${theirs.company.id}`, `/api/companies/${unknown}`],
      ['GET', `/api/companies/${theirs.company.id}/users`, `/api/companies/${unknown}/users`],
      [
        'POST',
        `/api/companies/${theirs.company.id}/users`,
        `/api/companies/${unknown}/users`,
        { email: `${uniqueToken('x')}@example.test`, role: 'spy' },
      ],
      ['GET', `/api/users/${theirs.user.id}`, `/api/users/${unknown}`],
      ['PATCH', `/api/users/${theirs.user.id}`, `/api/users/${unknown}`, { status: 'suspended' }],
      ['GET', `/api/cards/${theirs.card.id}`, `/api/cards/${unknown}`],
      ['GET', `/api/cards?company_id=${theirs.company.id}`, `/api/cards?company_id=${unknown}`],
      ['GET', `/api/cards?user_id=${theirs.user.id}`, `/api/cards?user_id=${unknown}`],
      [
        'PATCH',
        `/api/cards/${theirs.card.id}`,
        `/api/cards/${unknown}`,
        { limits: { daily_limit_minor: '1' } },
      ],
      ['POST', `/api/cards/${theirs.card.id}/status`, `/api/cards/${unknown}/status`, { action: 'close' }],
      ['POST', `/api/cards/${theirs.card.id}/issue`, `/api/cards/${unknown}/issue`],
      ['GET', `/api/transactions/${theirs.transaction_id}`, `/api/transactions/${unknown}`],
      ['GET', `/api/transactions?card_id=${theirs.card.id}`, `/api/transactions?card_id=${unknown}`],
      ['GET', `/api/transactions?user_id=${theirs.user.id}`, `/api/transactions?user_id=${unknown}`],
      ['GET', `/api/transactions?company_id=${theirs.company.id}`, `/api/transactions?company_id=${unknown}`],
      ['DELETE', `/api/api-keys/${their_key.id}`, `/api/api-keys/${unknown}`],
    ];
    for (const [method, url, unknown_url, payload] of pairs) {
      const foreign = await call(method, url, mine.key, payload);
      const missing = await call(method, unknown_url, mine.key, payload);
      expect({ url, status: foreign.status, code: foreign.body.error?.code }).toEqual({
        url,
        status: 404,
        code: 'API_ERR_NOT_FOUND',
      });
      expect({ url, message: foreign.body.error.message }).toEqual({
        url,
        message: missing.body.error.message,
      });
    }
    // Bodies naming their resources: refused as naming unknown ones.
    const bodies: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      [
        '/api/cards',
        { kind: 'business', user_id: theirs.user.id, currency_code: 'USD' },
        { kind: 'business', user_id: unknown, currency_code: 'USD' },
      ],
      [
        '/api/api-keys',
        { name: 'steal', company_id: theirs.company.id, scopes: ['read'] },
        { name: 'steal', company_id: unknown, scopes: ['read'] },
      ],
    ];
    for (const [url, foreign_body, unknown_body] of bodies) {
      const foreign = await call('POST', url, mine.key, foreign_body);
      const missing = await call('POST', url, mine.key, unknown_body);
      expect(foreign.status, url).toBeGreaterThanOrEqual(400);
      expect({ url, status: foreign.status, error: foreign.body.error }).toEqual({
        url,
        status: missing.status,
        error: missing.body.error,
      });
    }
    // Nothing of theirs changed.
    expect((await call('GET', `/api/cards/${theirs.card.id}`, admin)).body.status).toBe('pending');
    expect((await call('GET', `/api/users/${theirs.user.id}`, admin)).body.status).toBe('active');
  });

  it('program-level actions need a program-wide key (403 for a company key, its scope)', async () => {
    const mine = await tenant();
    const refused: Array<[Method, string, Record<string, unknown>?]> = [
      ['POST', '/api/api-keys', { name: 'escalate', company_id: null, scopes: ['admin'] }],
      ['POST', '/api/companies', { name: 'new tenant' }],
      ['POST', '/api/personal-users', { email: `${uniqueToken('q')}@example.test` }],
      ['GET', '/api/personal-users'],
      ['GET', '/api/cards?kind=personal'],
      ['GET', '/api/transactions?kind=personal'],
    ];
    for (const [method, url, payload] of refused) {
      const answer = await call(method, url, mine.key, payload);
      expect({ method, url, status: answer.status, code: answer.body.error?.code }).toEqual({
        method,
        url,
        status: 403,
        code: 'API_ERR_FORBIDDEN',
      });
    }
  });

  it('personal resources answer a company key as unknown ones (404)', async () => {
    const mine = await tenant();
    const person = (
      await call('POST', '/api/personal-users', admin, {
        email: `${uniqueToken('pp')}@example.test`,
        kyc_status: 'verified',
      })
    ).body;
    const card = (
      await call('POST', '/api/cards', admin, { kind: 'personal', user_id: person.id, currency_code: 'USD' })
    ).body;
    const jit_token = `jit_${randomUUID()}`;
    await registerPersonalTransactionKeys(api.sql, [
      { transaction_id: jit_token, card_id: card.id, user_id: person.id, created_at: new Date() },
    ]);
    await api.mongo
      .db()
      .collection<{ _id: string; [field: string]: unknown }>('personal_transactions')
      .insertOne({
        _id: jit_token,
        jit_token,
        card_id: card.id,
        user_id: person.id,
        amount_minor: 100n,
        currency_code: 'USD',
        status: 'pending',
        status_code: 0,
        memo: 'approved',
        decided_at: new Date(),
        created_at: new Date(),
      });
    expect((await call('GET', `/api/transactions/${jit_token}`, admin)).status).toBe(200);
    const unknown = '0123456789abcdef01234567';
    const pairs: Array<[Method, string, string, Record<string, unknown>?]> = [
      ['GET', `/api/personal-users/${person.id}`, `/api/personal-users/${unknown}`],
      [
        'PATCH',
        `/api/personal-users/${person.id}`,
        `/api/personal-users/${unknown}`,
        { kyc_status: 'rejected' },
      ],
      ['GET', `/api/cards/${card.id}`, `/api/cards/${unknown}`],
      ['GET', `/api/cards/${card.id}/balance`, `/api/cards/${unknown}/balance`],
      [
        'POST',
        `/api/cards/${card.id}/balance/loads`,
        `/api/cards/${unknown}/balance/loads`,
        { amount_minor: '1', currency_code: 'USD' },
      ],
      ['GET', `/api/transactions?card_id=${card.id}`, `/api/transactions?card_id=${unknown}`],
      ['GET', `/api/transactions?user_id=${person.id}`, `/api/transactions?user_id=${unknown}`],
      ['GET', `/api/transactions/${jit_token}`, `/api/transactions/jit_${randomUUID()}`],
    ];
    for (const [method, url, unknown_url, payload] of pairs) {
      const headers = url.endsWith('/loads')
        ? { ...mine.key, 'idempotency-key': uniqueToken('i') }
        : mine.key;
      const foreign = await call(method, url, headers, payload);
      const missing = await call(method, unknown_url, headers, payload);
      expect({ url, status: foreign.status, code: foreign.body.error?.code }).toEqual({
        url,
        status: 404,
        code: 'API_ERR_NOT_FOUND',
      });
      expect({ url, message: foreign.body.error.message }).toEqual({
        url,
        message: missing.body.error.message,
      });
    }
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After once a key has used its burst; other keys are unaffected', async () => {
    const limited = await startTestApi({ API_RATE_LIMIT_MAX: '3', API_RATE_LIMIT_WINDOW_MS: '30000' });
    try {
      const key = bearer(await apiKey(limited, null, ['read']));
      for (let i = 0; i < 3; i++)
        expect((await callApi(limited, 'GET', '/api/companies?limit=1', key)).status).toBe(200);
      const over = await callApi(limited, 'GET', '/api/companies?limit=1', key);
      expect(over.status).toBe(429);
      expect(over.body.error.code).toBe('API_ERR_RATE_LIMITED');
      const retry_after_s = Number(over.headers['retry-after']);
      expect(Number.isInteger(retry_after_s)).toBe(true);
      expect(retry_after_s).toBeGreaterThanOrEqual(1);
      expect(retry_after_s).toBeLessThanOrEqual(30);
      const other = bearer(await apiKey(limited, null, ['read']));
      expect((await callApi(limited, 'GET', '/api/companies?limit=1', other)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('OpenAPI', () => {
  it('serves the document generated from the route schemas and the UI at /docs', async () => {
    const doc = await api.app.inject({ method: 'GET', url: '/docs/json' });
    expect(doc.statusCode).toBe(200);
    const spec = doc.json();
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/api/cards',
        '/api/cards/{id}',
        '/api/cards/{id}/balance/loads',
        '/api/transactions',
        '/api/api-keys',
      ]),
    );
    expect(
      spec.paths['/api/cards'].post.requestBody.content['application/json'].schema.properties.kind,
    ).toBeDefined();
    expect((await api.app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
  });
});
