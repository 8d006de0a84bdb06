// Console sessions: the cookie's attributes, the Redis key and its TTL, sign-out, revocation,
// CSRF on writes, and the key's scopes and tenant applied exactly as on the bearer API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKey, bearer, callApi, startTestApi, type TestApi } from '../support/api-harness.ts';
import { createBusinessCard, type CreatedCard } from '../support/cardholders.ts';

let api: TestApi;
let card: CreatedCard;

beforeAll(async () => {
  api = await startTestApi();
  card = await createBusinessCard(api.sql, { daily_limit_minor: 50_000n });
});
afterAll(async () => {
  await api?.close();
});

async function signIn(key: string) {
  const response = await api.app.inject({
    method: 'POST',
    url: '/console/session',
    payload: { api_key: key },
  });
  const cookie = response.cookies.find((c) => c.name === 'afc_console_session');
  return { response, cookie, body: response.json() as { csrf_token: string } };
}

function asSession(id: string, csrf_token?: string): Record<string, string> {
  return {
    cookie: `afc_console_session=${id}`,
    ...(csrf_token === undefined ? {} : { 'x-csrf-token': csrf_token }),
  };
}

async function companyOf(c: CreatedCard): Promise<string> {
  const [row] = await api.sql<{ company_id: string }[]>`SELECT company_id FROM users WHERE id = ${c.user_id}`;
  return row!.company_id;
}

describe('console sessions', () => {
  it('keeps the session in Redis under session:{id} for 86400 s behind an HttpOnly SameSite=Strict cookie', async () => {
    const { response, cookie } = await signIn(await apiKey(api, null, ['read']));
    expect(response.statusCode).toBe(201);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
    expect(cookie!.secure).toBeUndefined();
    const ttl = await api.redis.ttl(`${api.config.redis_key_prefix}:session:${cookie!.value}`);
    expect(ttl).toBeGreaterThan(86_000);
    expect(ttl).toBeLessThanOrEqual(86_400);
    const stored = await api.redis.get(`${api.config.redis_key_prefix}:session:${cookie!.value}`);
    expect(stored).not.toContain('afc_');
  });

  it('refuses a bad key, and a form post (no JSON) never signs in', async () => {
    expect((await signIn('afc_nosuchkey1_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')).response.statusCode).toBe(
      401,
    );
    const form = await api.app.inject({
      method: 'POST',
      url: '/console/session',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'api_key=x',
    });
    expect(form.statusCode).toBe(415);
  });

  it('writes need the session CSRF token; sign-out deletes the session', async () => {
    const key = await apiKey(api, null, ['admin']);
    const { cookie, body } = await signIn(key);
    const url = `/console/api/cards/${card.card_id}`;
    const patch = { limits: { daily_limit_minor: '40000' } };
    const without = await api.app.inject({
      method: 'PATCH',
      url,
      headers: asSession(cookie!.value),
      payload: patch,
    });
    expect(without.statusCode).toBe(403);
    const wrong = await api.app.inject({
      method: 'PATCH',
      url,
      headers: asSession(cookie!.value, 'x'.repeat(43)),
      payload: patch,
    });
    expect(wrong.statusCode).toBe(403);
    const right = await api.app.inject({
      method: 'PATCH',
      url,
      headers: asSession(cookie!.value, body.csrf_token),
      payload: patch,
    });
    expect(right.statusCode).toBe(200);

    const out = await api.app.inject({
      method: 'DELETE',
      url: '/console/session',
      headers: asSession(cookie!.value, body.csrf_token),
    });
    expect(out.statusCode).toBe(204);
    expect(await api.redis.exists(`${api.config.redis_key_prefix}:session:${cookie!.value}`)).toBe(0);
    const after = await api.app.inject({ method: 'GET', url, headers: asSession(cookie!.value) });
    expect(after.statusCode).toBe(401);
  });

  it('a revoked key ends its sessions at once', async () => {
    const admin = await apiKey(api, null, ['admin']);
    const key = await apiKey(api, null, ['read']);
    const { cookie } = await signIn(key);
    const [row] = await api.sql<
      { id: string }[]
    >`SELECT id FROM api_keys WHERE prefix = ${key.split('_')[1]!}`;
    expect((await callApi(api, 'DELETE', `/api/api-keys/${row!.id}`, bearer(admin))).status).toBe(200);
    const after = await api.app.inject({
      method: 'GET',
      url: '/console/session',
      headers: asSession(cookie!.value),
    });
    expect(after.statusCode).toBe(401);
  });

  it("sees what the key's scopes and tenant allow: read cannot write, another company's card is unknown", async () => {
    const reader = await signIn(await apiKey(api, null, ['read']));
    const write = await api.app.inject({
      method: 'POST',
      url: `/console/api/cards/${card.card_id}/status`,
      headers: asSession(reader.cookie!.value, reader.body.csrf_token),
      payload: { action: 'suspend' },
    });
    expect(write.statusCode).toBe(403);
    const other = await createBusinessCard(api.sql);
    const stranger = await signIn(await apiKey(api, await companyOf(other), ['admin']));
    const seen = await api.app.inject({
      method: 'GET',
      url: `/console/api/cards/${card.card_id}`,
      headers: asSession(stranger.cookie!.value),
    });
    expect(seen.statusCode).toBe(404);
    const ops = await api.app.inject({
      method: 'GET',
      url: '/console/ops/queues',
      headers: asSession(stranger.cookie!.value),
    });
    expect(ops.statusCode).toBe(403);
  });

  it('keeps the console routes out of the OpenAPI document', async () => {
    const doc = (await api.app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: object };
    expect(Object.keys(doc.paths).filter((path) => path.startsWith('/console'))).toEqual([]);
  });
});
