import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFakeMarqeta, type FakeMarqeta } from '../../fake-marqeta/server.ts';

const auth = `Basic ${Buffer.from('fake-app:fake-admin').toString('base64')}`;
let fake: FakeMarqeta;

beforeAll(async () => {
  fake = await buildFakeMarqeta({ app_token: 'fake-app', admin_token: 'fake-admin' });
});
afterAll(async () => {
  await fake.app.close();
});

describe('fake Marqeta server', () => {
  it('answers the health GET on the base URL without credentials, and nothing else', async () => {
    expect((await fake.app.inject({ method: 'GET', url: '/v3' })).statusCode).toBe(200);
    const refused = await fake.app.inject({ method: 'GET', url: '/v3/users/someone' });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toEqual({ error_code: '401', error_message: 'Invalid credentials' });
  });

  it('creates by token idempotently: same body 200 with the same object, different body 409', async () => {
    const create = (body: object) =>
      fake.app.inject({ method: 'POST', url: '/v3/users', headers: { authorization: auth }, payload: body });
    const first = await create({ token: 'fake_user_1', email: 'a@example.test' });
    const again = await create({ email: 'a@example.test', token: 'fake_user_1' });
    const other = await create({ token: 'fake_user_1', email: 'b@example.test' });
    expect([first.statusCode, again.statusCode, other.statusCode]).toEqual([201, 200, 409]);
    expect(again.json()).toEqual(first.json());
  });

  it('refuses a token longer than Marqeta’s 36 characters', async () => {
    const response = await fake.app.inject({
      method: 'POST',
      url: '/v3/users',
      headers: { authorization: auth },
      payload: { token: 'x'.repeat(37) },
    });
    expect(response.statusCode).toBe(400);
  });

  it('validates injected faults, applies them count times, and forgets everything on reset', async () => {
    const bad = await fake.app.inject({
      method: 'POST',
      url: '/__fake/faults',
      payload: { path_prefix: '/users', mode: '418' },
    });
    expect(bad.statusCode).toBe(400);
    const added = await fake.app.inject({
      method: 'POST',
      url: '/__fake/faults',
      payload: { path_prefix: '/cards', mode: '429', count: 2, retry_after_s: 7 },
    });
    expect(added.statusCode).toBe(201);
    const get = () =>
      fake.app.inject({ method: 'GET', url: '/v3/cards/nope', headers: { authorization: auth } });
    const limited = await get();
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('7');
    expect((await get()).statusCode).toBe(429);
    expect((await get()).statusCode).toBe(404);

    await fake.app.inject({
      method: 'POST',
      url: '/__fake/faults',
      payload: { path_prefix: '/', mode: '500', count: 5 },
    });
    await fake.app.inject({ method: 'POST', url: '/__fake/reset' });
    expect((await fake.app.inject({ method: 'GET', url: '/__fake/faults' })).json()).toEqual({ faults: [] });
    expect((await get()).statusCode).toBe(404);
  });
});
