// The fake Marqeta's Commando Mode: a JIT request our gateway decides is left alone; one it
// leaves undecided (5xx, no connection) is decided by the stand-in rule and notified to our
// webhook as Marqeta would (COMMANDO_AUTO, MANAGED_JIT), retried until answered 200.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeMarqeta } from '../../fake-marqeta/server.ts';
import { waitFor } from '../../shared/dev/processes.ts';
import { jitRequest } from '../support/jit-requests.ts';

let fake: Awaited<ReturnType<typeof startFakeMarqeta>>;
let gateway: FastifyInstance;
let webhook: FastifyInstance;
/** What the stand-in gateway answers next, by JIT amount (major units). */
const gateway_status = new Map<number, number>();
const notifications: Array<Record<string, unknown>> = [];
let webhook_failures_left = 0;

beforeAll(async () => {
  fake = await startFakeMarqeta({ app_token: 'app', admin_token: 'admin' });
  gateway = Fastify();
  gateway.post('/authorize', async (request, reply) => {
    const amount = (request.body as { amount: number }).amount;
    return reply.status(gateway_status.get(amount) ?? 200).send({ jit_funding: {} });
  });
  webhook = Fastify();
  webhook.post('/webhook', async (request, reply) => {
    if (webhook_failures_left > 0) {
      webhook_failures_left--;
      return reply.status(503).send({});
    }
    notifications.push(...(request.body as { transactions: Array<Record<string, unknown>> }).transactions);
    return reply.status(200).send({});
  });
  const gateway_url = await gateway.listen({ host: '127.0.0.1', port: 0 });
  const webhook_url = await webhook.listen({ host: '127.0.0.1', port: 0 });
  const origin = fake.base_url.replace(/\/v3$/, '');
  const configured = await fetch(`${origin}/__fake/commando`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      rule: 'approve:5000',
      gateway_url: `${gateway_url}/authorize`,
      gateway_user: 'marqeta',
      gateway_password: 'secret',
      webhook_url: `${webhook_url}/webhook`,
      webhook_user: 'marqeta-webhooks',
      webhook_password: 'secret',
    }),
  });
  expect(configured.status).toBe(201);
});
afterAll(async () => {
  await fake.close();
  await gateway.close();
  await webhook.close();
});

async function sendJit(amount: number) {
  const body = jitRequest({ card_token: 'card_commando', user_token: 'user_commando', amount });
  const origin = fake.base_url.replace(/\/v3$/, '');
  const response = await fetch(`${origin}/__fake/jit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { body, answer: (await response.json()) as { decided_by: string; approved: boolean } };
}

describe('fake Marqeta Commando Mode', () => {
  it('leaves what our gateway decided alone, and stands in for a 503 by its rule, notifying until answered 200', async () => {
    expect((await sendJit(10)).answer).toEqual({ decided_by: 'gateway', status_code: 200, approved: true });
    gateway_status.set(20, 503);
    gateway_status.set(80, 503);
    webhook_failures_left = 2;
    const approved = await sendJit(20);
    const declined = await sendJit(80);
    expect(approved.answer).toMatchObject({ decided_by: 'standin', status_code: 503, approved: true });
    expect(declined.answer).toMatchObject({ decided_by: 'standin', status_code: 503, approved: false });
    await waitFor(async () => notifications.length === 2, 'both notifications delivered', 10_000);
    const jit_token = (approved.body.gpa_order as { jit_funding: { token: string } }).jit_funding.token;
    expect(notifications[0]).toMatchObject({
      state: 'PENDING',
      standin_approved_by: 'COMMANDO_AUTO',
      subnetwork: 'MANAGED_JIT',
      card_token: 'card_commando',
      gpa_order: { jit_funding: { token: jit_token, method: 'pgfs.authorization', amount: 20 } },
    });
    expect(notifications[1]).toMatchObject({ state: 'DECLINED', standin_approved_by: 'COMMANDO_AUTO' });
    const origin = fake.base_url.replace(/\/v3$/, '');
    const counts = await (await fetch(`${origin}/__fake/commando`)).json();
    expect(counts).toMatchObject({
      sent: 3,
      gateway_decided: 1,
      stood_in_approved: 1,
      stood_in_declined: 1,
      deliveries: { queued: 0, delivered: 2, retried: 2 },
    });
  });
});
