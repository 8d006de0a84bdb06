// Webhook destinations are SSRF-safe: a URL aiming at loopback, private, link-local (cloud
// metadata), unique-local, multicast or unspecified addresses, however spelled, is refused
// with a 400 when registered; an endpoint that gets there anyway (a name whose answer changes
// after the check, a row written before these rules) is refused at send, recorded as
// `destination_refused`. A trap listening on 127.0.0.1 counts TCP connections: it never gets one.
// Receivers live on 127.0.0.2, the only allowlisted address (WEBHOOK_ALLOWED_CIDRS).

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKey, bearer, callApi, type Method } from '../support/api-harness.ts';
import {
  mapLookup,
  RECEIVER_ADDRESS,
  type Receiver,
  receiverCertificate,
  startReceiver,
  TRAP_ADDRESS,
  waitFor,
} from '../support/webhook-receivers.ts';
import { startWebhookSystem, type WebhookSystem } from '../support/webhook-system.ts';

/** An answer far larger than what the sender reads (64 KiB) and than socket buffers hold. */
const LONG_ANSWER = 'x'.repeat(32 * 1024 * 1024);
let system: WebhookSystem;
/** A company of this file's own, and its admin key (endpoints per owner are bounded). */
let company_id: string;
let owner: Record<string, string>;
let trap: Receiver;
let receiver: Receiver;
let redirector: Receiver;
let talkative: Receiver;
/** How often rebind.receivers.test was looked up: the first answer is allowed, later ones are not. */
let rebind_lookups = 0;

beforeAll(async () => {
  const certificate = await receiverCertificate();
  trap = await startReceiver(certificate, TRAP_ADDRESS);
  receiver = await startReceiver(certificate);
  redirector = await startReceiver(certificate, RECEIVER_ADDRESS, () => ({
    status: 302,
    headers: { location: `https://loopback.receivers.test:${trap.port}/` },
  }));
  talkative = await startReceiver(certificate, RECEIVER_ADDRESS, () => ({
    status: 200,
    body: LONG_ANSWER,
  }));
  system = await startWebhookSystem({
    certificate,
    lookup: mapLookup({
      'hooks.receivers.test': [RECEIVER_ADDRESS],
      'loopback.receivers.test': [TRAP_ADDRESS],
      'v6loop.receivers.test': ['::1'],
      'metadata.receivers.test': ['169.254.169.254'],
      'mixed.receivers.test': [RECEIVER_ADDRESS, '10.0.0.1'],
      'rebind.receivers.test': () => (rebind_lookups++ === 0 ? [RECEIVER_ADDRESS] : [TRAP_ADDRESS]),
    }),
  });
  const program = bearer(await apiKey(system.api, null, ['admin']));
  const company = await callApi(system.api, 'POST', '/api/companies', program, { name: 'SSRF tests' });
  company_id = company.body.id;
  owner = bearer(await apiKey(system.api, company_id, ['admin']));
});
afterAll(async () => {
  // Other tests' consumers read every active endpoint of the shared database.
  await system.api.sql`UPDATE webhook_endpoints SET active = false WHERE company_id = ${company_id}`;
  await system?.close();
  for (const r of [trap, receiver, redirector, talkative]) await r?.close();
});

function call(method: Method, url: string, payload?: Record<string, unknown>) {
  return callApi(system.api, method, url, owner, payload);
}

/** Registers through the API. */
async function register(url: string): Promise<string> {
  const created = await call('POST', '/api/webhook-endpoints', { url, event_types: [`t.${randomUUID()}`] });
  expect(created.status).toBe(201);
  return created.body.id;
}

/** A row written by SQL, as before the API existed: no check at registration. */
async function insertRow(url: string): Promise<string> {
  const id = randomUUID();
  await system.api.sql`INSERT INTO webhook_endpoints (id, company_id, url, secret, event_types)
                       VALUES (${id}, ${company_id}, ${url}, ${`whsec_${randomUUID()}`}, ${[`t.${randomUUID()}`]})`;
  return id;
}

/** Sends a test event and returns its delivery once attempted. */
async function testDelivery(endpoint_id: string) {
  const sent = await call('POST', `/api/webhook-endpoints/${endpoint_id}/test`);
  expect(sent.status).toBe(202);
  return waitFor(
    async () =>
      (await call('GET', `/api/webhook-endpoints/${endpoint_id}/deliveries`)).body.data.find(
        (d: { event_id: string }) => d.event_id === sent.body.event_id,
      ),
    (d) => d !== undefined && d.attempts >= 1,
  );
}

describe('webhook destinations (SSRF)', () => {
  it('refuses private, loopback, link-local, unique-local, multicast and unspecified URLs at registration, however spelled', async () => {
    const p = trap.port;
    const refused: Array<[string, RegExp]> = [
      [`http://hooks.receivers.test:${receiver.port}/`, /must use https:\/\//],
      [`https://127.0.0.1:${p}/`, /127\.0\.0\.1 \(loopback\)/],
      [`https://127.1:${p}/`, /127\.0\.0\.1 \(loopback\)/],
      [`https://2130706433:${p}/`, /127\.0\.0\.1 \(loopback\)/],
      [`https://0177.0.0.1:${p}/`, /127\.0\.0\.1 \(loopback\)/],
      [`https://0x7f.0.0.1:${p}/`, /127\.0\.0\.1 \(loopback\)/],
      [`https://0x7f000001:${p}/`, /127\.0\.0\.1 \(loopback\)/],
      [`https://[::1]:${p}/`, /::1 \(loopback\)/],
      [`https://[0:0:0:0:0:0:0:1]:${p}/`, /::1 \(loopback\)/],
      [`https://[::ffff:127.0.0.1]:${p}/`, /127\.0\.0\.1 \(loopback\)/],
      [`https://[64:ff9b::7f00:1]:${p}/`, /\(NAT64\)/],
      ['https://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 \(link-local\)/],
      ['https://[fe80::1]/', /\(link-local\)/],
      ['https://10.0.0.1/', /\(private\)/],
      ['https://172.16.0.1/', /\(private\)/],
      ['https://192.168.1.1/', /\(private\)/],
      ['https://100.64.0.1/', /\(carrier-grade NAT\)/],
      ['https://[fd00::1]/', /\(unique-local\)/],
      ['https://224.0.0.1/', /\(multicast\)/],
      ['https://[ff02::1]/', /\(multicast\)/],
      [`https://0.0.0.0:${p}/`, /0\.0\.0\.0 \(unspecified\)/],
      [`https://[::]:${p}/`, /\(unspecified\)/],
      [
        `https://loopback.receivers.test:${p}/`,
        /host loopback\.receivers\.test resolves to 127\.0\.0\.1 \(loopback\)/,
      ],
      [`https://v6loop.receivers.test:${p}/`, /resolves to ::1 \(loopback\)/],
      ['https://metadata.receivers.test/', /resolves to 169\.254\.169\.254 \(link-local\)/],
      // One forbidden address among allowed ones is enough to refuse.
      [`https://mixed.receivers.test:${p}/`, /resolves to 10\.0\.0\.1 \(private\)/],
      [`https://user:password@hooks.receivers.test:${receiver.port}/`, /must not contain credentials/],
      ['https://nowhere.receivers.test/', /does not resolve/],
      ['not a url', /is not a valid URL/],
    ];
    for (const [url, message] of refused) {
      const answer = await call('POST', '/api/webhook-endpoints', { url });
      expect({ url, status: answer.status, code: answer.body.error.code }).toEqual({
        url,
        status: 400,
        code: 'API_ERR_BAD_REQUEST',
      });
      expect(answer.body.error.fields).toEqual([
        { path: 'body/url', message: expect.stringMatching(message) },
      ]);
    }
    // A change of URL is checked the same way.
    const id = await register(`https://hooks.receivers.test:${receiver.port}/ok`);
    const patched = await call('PATCH', `/api/webhook-endpoints/${id}`, {
      url: `https://[::ffff:7f00:1]:${p}/`,
    });
    expect(patched.status).toBe(400);
    expect((await call('GET', `/api/webhook-endpoints/${id}`)).body.url).toBe(
      `https://hooks.receivers.test:${receiver.port}/ok`,
    );
    expect(trap.connections).toBe(0);
  });

  it('an allowlisted receiver gets its events, and a large answer body is read only in part', async () => {
    const ok = await testDelivery(await register(`https://hooks.receivers.test:${receiver.port}/ok`));
    expect(ok).toMatchObject({ status: 'delivered', last_status_code: 200 });
    const long = await testDelivery(await register(`https://hooks.receivers.test:${talkative.port}/long`));
    expect(long).toMatchObject({ status: 'delivered', last_status_code: 200 });
    await waitFor(
      () => talkative.cut_answers,
      (n) => n === 1,
    );
  });

  it('a name that resolves elsewhere after the check (DNS rebinding) is refused on the address connected to', async () => {
    const id = await register(`https://rebind.receivers.test:${trap.port}/`);
    expect(rebind_lookups).toBe(1);
    const delivery = await testDelivery(id);
    expect(delivery).toMatchObject({
      status: 'failed',
      last_status_code: null,
      last_error: 'destination_refused: host rebind.receivers.test resolves to 127.0.0.1 (loopback)',
    });
    expect(rebind_lookups).toBeGreaterThanOrEqual(2);
    expect(trap.connections).toBe(0);
  });

  it('endpoints written before these rules are refused at send: literal IPs in any form, http', async () => {
    const cases: Array<[string, string]> = [
      [`https://127.0.0.1:${trap.port}/`, 'destination_refused: url is 127.0.0.1 (loopback)'],
      [`https://[::ffff:7f00:1]:${trap.port}/`, 'destination_refused: url is 127.0.0.1 (loopback)'],
      [`https://2130706433:${trap.port}/`, 'destination_refused: url is 127.0.0.1 (loopback)'],
      [
        `https://loopback.receivers.test:${trap.port}/`,
        'destination_refused: host loopback.receivers.test resolves to 127.0.0.1 (loopback)',
      ],
      [`http://hooks.receivers.test:${receiver.port}/`, 'destination_refused: url must use https://'],
    ];
    const before = receiver.received.length;
    for (const [url, error] of cases) {
      const delivery = await testDelivery(await insertRow(url));
      expect({ url, status: delivery.status, last_error: delivery.last_error }).toEqual({
        url,
        status: 'failed',
        last_error: error,
      });
    }
    expect(trap.connections).toBe(0);
    expect(receiver.received.length).toBe(before);
  });

  it('a redirect is not followed: the 3xx is the answer', async () => {
    const delivery = await testDelivery(
      await register(`https://hooks.receivers.test:${redirector.port}/moved`),
    );
    expect(delivery).toMatchObject({ status: 'failed', last_status_code: 302, last_error: 'HTTP 302' });
    expect(redirector.received).toHaveLength(1);
    expect(trap.connections).toBe(0);
  });
});
