// Webhook endpoints through the management API, against real HTTPS receivers (self-signed
// certificate trusted through WEBHOOK_TLS_CA_FILE) and a webhook consumer on a queue of its own:
// register, read, change, rotate the secret (both signatures during the overlap), send a test
// event, read the delivery log, retry a dead delivery, delete; tenancy, scopes and validation.
// Every process logs at trace level into a captured stream, which never shows a secret.

import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADER_ORIGINAL_ROUTING_KEY } from '../../shared/broker/topology.ts';
import { createLogger } from '../../shared/logger.ts';
import { verifyWebhookSignature } from '../../worker/webhooks/signature.ts';
import { apiKey, bearer, callApi, type Method } from '../support/api-harness.ts';
import {
  mapLookup,
  type Received,
  RECEIVER_ADDRESS,
  type Receiver,
  receiverCertificate,
  startReceiver,
  waitFor,
} from '../support/webhook-receivers.ts';
import { startWebhookSystem, type WebhookSystem } from '../support/webhook-system.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

const logs = new Capture();
const HOST = 'hooks.receivers.test';
let system: WebhookSystem;
let program: Record<string, string>;
const receivers: Receiver[] = [];
/** Every secret the API showed; none may appear in a later response or in a log line. */
const secrets: string[] = [];

/** Serial by design: a failing answer, then a passing one, is asked for per request. */
let failing = false;

beforeAll(async () => {
  const certificate = await receiverCertificate();
  receivers.push(await startReceiver(certificate, RECEIVER_ADDRESS, () => ({ status: failing ? 500 : 200 })));
  system = await startWebhookSystem({
    certificate,
    lookup: mapLookup({ [HOST]: [RECEIVER_ADDRESS] }),
    retry_horizon_ms: 300,
    log: createLogger('webhooks-api-test', 'trace', logs),
  });
  program = bearer(await apiKey(system.api, null, ['admin']));
});
/** Companies made here: their endpoints are deactivated at the end (other tests read active ones). */
const companies: string[] = [];

afterAll(async () => {
  if (companies.length > 0) {
    await system.api.sql`UPDATE webhook_endpoints SET active = false WHERE company_id = ANY(${companies})`;
  }
  await system?.close();
  for (const receiver of receivers) await receiver.close();
});

function call(
  method: Method,
  url: string,
  headers: Record<string, string>,
  payload?: Record<string, unknown>,
) {
  return callApi(system.api, method, url, headers, payload);
}

async function company(): Promise<{ id: string; admin: Record<string, string> }> {
  const created = await call('POST', '/api/companies', program, {
    name: `Hooks ${randomUUID().slice(0, 6)}`,
  });
  expect(created.status).toBe(201);
  companies.push(created.body.id);
  return { id: created.body.id, admin: bearer(await apiKey(system.api, created.body.id, ['admin'])) };
}

function receiverUrl(path = '/afc'): string {
  return `https://${HOST}:${receivers[0]!.port}${path}`;
}

/** Requests the receiver got for one event id. */
function requestsFor(event_id: string): Received[] {
  return receivers[0]!.received.filter((r) => r.headers['x-afc-event-id'] === event_id);
}

async function deliveries(endpoint_id: string, headers: Record<string, string>) {
  const answer = await call('GET', `/api/webhook-endpoints/${endpoint_id}/deliveries`, headers);
  expect(answer.status).toBe(200);
  // biome-ignore lint/suspicious/noExplicitAny: JSON answer
  return answer.body.data as any[];
}

async function deliveryOf(endpoint_id: string, event_id: string, headers: Record<string, string>) {
  return (await deliveries(endpoint_id, headers)).find((d) => d.event_id === event_id);
}

/** Publishes an event into the test queue as if afc.events had routed it. */
async function publishEvent(type: string, data: Record<string, unknown>): Promise<string> {
  const event_id = randomUUID();
  const publisher = system.api.rabbit.createPublisher({ confirm: true });
  try {
    await publisher.send(
      {
        exchange: '',
        routingKey: system.queue,
        durable: true,
        messageId: event_id,
        contentType: 'application/json',
        headers: { [HEADER_ORIGINAL_ROUTING_KEY]: type },
      },
      data,
    );
  } finally {
    await publisher.close();
  }
  return event_id;
}

describe('webhook endpoints API', () => {
  it('a company registers an endpoint, sends a test event, rotates its secret and deletes it', async () => {
    const { id: company_id, admin } = await company();
    const type = `card.t${randomUUID().slice(0, 8)}.activated`;

    const created = await call('POST', '/api/webhook-endpoints', admin, {
      url: receiverUrl(),
      description: 'ledger sync',
      event_types: [type],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      company_id,
      url: receiverUrl(),
      description: 'ledger sync',
      event_types: [type],
      active: true,
      previous_secret_expires_at: null,
    });
    const first_secret: string = created.body.secret;
    expect(first_secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    secrets.push(first_secret);
    const id: string = created.body.id;

    // Never shown again.
    const read = await call('GET', `/api/webhook-endpoints/${id}`, admin);
    expect(read.status).toBe(200);
    expect(read.body).not.toHaveProperty('secret');
    const listed = await call('GET', '/api/webhook-endpoints', admin);
    expect(listed.body.data.map((e: { id: string }) => e.id)).toEqual([id]);
    expect(JSON.stringify([read.body, listed.body])).not.toContain(first_secret);

    // A test event, whatever the endpoint's filter; signed with the secret shown once.
    const test = await call('POST', `/api/webhook-endpoints/${id}/test`, admin);
    expect(test.status).toBe(202);
    expect(test.body.event_type).toBe('webhook.test');
    const [request] = await waitFor(
      () => requestsFor(test.body.event_id),
      (r) => r.length === 1,
    );
    expect(request!.headers['x-afc-event-type']).toBe('webhook.test');
    expect(
      verifyWebhookSignature(request!.raw_body, request!.headers['x-afc-signature'] as string, first_secret),
    ).toMatchObject({ valid: true });
    expect(JSON.parse(request!.raw_body)).toMatchObject({
      id: test.body.event_id,
      type: 'webhook.test',
      data: { endpoint_id: id },
    });
    const delivered = await waitFor(
      () => deliveryOf(id, test.body.event_id, admin),
      (d) => d?.status === 'delivered',
    );
    expect(delivered).toMatchObject({ attempts: 1, last_status_code: 200, last_error: null });
    expect(delivered.latency_ms).toEqual(expect.any(Number));

    // Rotation: during the overlap every delivery carries one v1 per secret, and a receiver
    // holding either secret verifies it.
    const rotated = await call('POST', `/api/webhook-endpoints/${id}/secret/rotate`, admin, {
      previous_secret_valid_s: 3600,
    });
    expect(rotated.status).toBe(200);
    const second_secret: string = rotated.body.secret;
    secrets.push(second_secret);
    expect(second_secret).not.toBe(first_secret);
    expect(Date.parse(rotated.body.previous_secret_expires_at)).toBeGreaterThan(Date.now() + 3_500_000);
    const during = await call('POST', `/api/webhook-endpoints/${id}/test`, admin);
    const [overlap] = await waitFor(
      () => requestsFor(during.body.event_id),
      (r) => r.length === 1,
    );
    const header = overlap!.headers['x-afc-signature'] as string;
    expect(header.match(/v1=/g)).toHaveLength(2);
    for (const secret of [first_secret, second_secret]) {
      expect(verifyWebhookSignature(overlap!.raw_body, header, secret)).toMatchObject({ valid: true });
    }

    // A rotation without overlap: only the newest secret signs.
    const again = await call('POST', `/api/webhook-endpoints/${id}/secret/rotate`, admin, {
      previous_secret_valid_s: 0,
    });
    const third_secret: string = again.body.secret;
    secrets.push(third_secret);
    expect(again.body.previous_secret_expires_at).toBeNull();
    const after = await call('POST', `/api/webhook-endpoints/${id}/test`, admin);
    const [single] = await waitFor(
      () => requestsFor(after.body.event_id),
      (r) => r.length === 1,
    );
    const single_header = single!.headers['x-afc-signature'] as string;
    expect(single_header.match(/v1=/g)).toHaveLength(1);
    expect(verifyWebhookSignature(single!.raw_body, single_header, third_secret).valid).toBe(true);
    for (const old of [first_secret, second_secret]) {
      expect(verifyWebhookSignature(single!.raw_body, single_header, old)).toEqual({
        valid: false,
        reason: 'signature_mismatch',
      });
    }

    // Changes; an inactive endpoint takes no test event.
    const patched = await call('PATCH', `/api/webhook-endpoints/${id}`, admin, {
      description: null,
      event_types: [type, 'decision.*.declined'],
      active: false,
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      description: null,
      event_types: [type, 'decision.*.declined'],
      active: false,
    });
    expect((await call('POST', `/api/webhook-endpoints/${id}/test`, admin)).body.error.code).toBe(
      'API_ERR_INVALID_TRANSITION',
    );

    // Delete: gone from reads and lists, and its secret no longer in the table.
    expect((await call('DELETE', `/api/webhook-endpoints/${id}`, admin)).status).toBe(204);
    expect((await call('GET', `/api/webhook-endpoints/${id}`, admin)).status).toBe(404);
    expect((await call('GET', '/api/webhook-endpoints', admin)).body.data).toEqual([]);
    const [row] = await system.api.sql<Array<{ secret: string; previous_secret: string | null }>>`
      SELECT secret, previous_secret FROM webhook_endpoints WHERE id = ${id}`;
    expect(secrets).not.toContain(row!.secret);
    expect(row!.previous_secret).toBeNull();
  });

  it('the delivery log shows a failing event, and a dead delivery retried through the API is delivered', async () => {
    const { id: company_id, admin } = await company();
    const type = `card.t${randomUUID().slice(0, 8)}.activated`;
    const created = await call('POST', '/api/webhook-endpoints', admin, {
      url: receiverUrl('/log'),
      event_types: [type],
    });
    secrets.push(created.body.secret);
    const id: string = created.body.id;

    failing = true;
    const event_id = await publishEvent(type, { v: 1, kind: 'business', company_id, card_id: 'c1' });
    const dead = await waitFor(
      () => deliveryOf(id, event_id, admin),
      (d) => d?.status === 'dead',
    );
    expect(dead.attempts).toBeGreaterThanOrEqual(2);
    expect(dead).toMatchObject({
      event_type: type,
      last_status_code: 500,
      last_error: 'HTTP 500',
      delivered_at: null,
    });
    expect(requestsFor(event_id)).toHaveLength(dead.attempts);

    failing = false;
    const retried = await call('POST', `/api/webhook-endpoints/${id}/deliveries/${dead.id}/retry`, admin);
    expect(retried.status).toBe(202);
    const done = await waitFor(
      () => deliveryOf(id, event_id, admin),
      (d) => d?.status === 'delivered',
    );
    expect(done).toMatchObject({ attempts: dead.attempts + 1, last_status_code: 200 });
    // The same event, byte for byte, as the first attempt (apart from the signature's time).
    const bodies = new Set(requestsFor(event_id).map((r) => r.raw_body));
    expect(bodies.size).toBe(1);
    expect(JSON.parse([...bodies][0]!)).toMatchObject({ id: event_id, type, data: { card_id: 'c1' } });

    // Delivered: nothing to retry. Filtering by status.
    const twice = await call('POST', `/api/webhook-endpoints/${id}/deliveries/${dead.id}/retry`, admin);
    expect(twice.status).toBe(409);
    const only_dead = await call('GET', `/api/webhook-endpoints/${id}/deliveries?status=dead`, admin);
    expect(only_dead.body.data).toEqual([]);
    const unknown = await call('POST', `/api/webhook-endpoints/${id}/deliveries/999999999999/retry`, admin);
    expect(unknown.status).toBe(404);
  });

  it("a company key sees its own endpoints only: another company's answer 404; a read key cannot write", async () => {
    const mine = await company();
    const theirs = await company();
    const created = await call('POST', '/api/webhook-endpoints', theirs.admin, {
      url: receiverUrl('/theirs'),
    });
    secrets.push(created.body.secret);
    const id: string = created.body.id;

    for (const [method, path, payload] of [
      ['GET', `/api/webhook-endpoints/${id}`],
      ['PATCH', `/api/webhook-endpoints/${id}`, { active: false }],
      ['DELETE', `/api/webhook-endpoints/${id}`],
      ['POST', `/api/webhook-endpoints/${id}/secret/rotate`, {}],
      ['POST', `/api/webhook-endpoints/${id}/test`],
      ['GET', `/api/webhook-endpoints/${id}/deliveries`],
      ['POST', `/api/webhook-endpoints/${id}/deliveries/1/retry`],
    ] as Array<[Method, string, Record<string, unknown>?]>) {
      const answer = await call(method, path, mine.admin, payload);
      expect({ path, method, status: answer.status, code: answer.body.error.code }).toEqual({
        path,
        method,
        status: 404,
        code: 'API_ERR_NOT_FOUND',
      });
    }
    expect(
      (await call('GET', `/api/webhook-endpoints?company_id=${theirs.id}`, mine.admin)).body.data,
    ).toEqual([]);
    // Registering for another company is refused as for an unknown one; program-wide needs a program key.
    const foreign = await call('POST', '/api/webhook-endpoints', mine.admin, {
      url: receiverUrl(),
      company_id: theirs.id,
    });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error.fields).toEqual([{ path: 'body/company_id', message: 'is not a company' }]);
    const program_wide = await call('POST', '/api/webhook-endpoints', mine.admin, {
      url: receiverUrl(),
      company_id: null,
    });
    expect(program_wide.status).toBe(403);

    // The program key sees every company's endpoints.
    const by_program = await call('GET', `/api/webhook-endpoints?company_id=${theirs.id}`, program);
    expect(by_program.body.data.map((e: { id: string }) => e.id)).toEqual([id]);

    const reader = bearer(await apiKey(system.api, mine.id, ['read']));
    expect((await call('GET', '/api/webhook-endpoints', reader)).status).toBe(200);
    const write = await call('POST', '/api/webhook-endpoints', reader, { url: receiverUrl() });
    expect(write.status).toBe(403);
  });

  it('invalid bodies are 400 with the offending fields', async () => {
    const { admin } = await company();
    const missing = await call('POST', '/api/webhook-endpoints', admin, { description: 'no url' });
    expect(missing.status).toBe(400);
    expect(missing.body.error.fields).toContainEqual({ path: 'body/url', message: expect.any(String) });

    const unknown = await call('POST', '/api/webhook-endpoints', admin, {
      url: receiverUrl(),
      secret: 'mine-please-0123456789',
    });
    expect(unknown.body.error.fields).toContainEqual({
      path: 'body/secret',
      message: 'is not a known property',
    });

    const pattern = await call('POST', '/api/webhook-endpoints', admin, {
      url: receiverUrl(),
      event_types: ['card..x'],
    });
    expect(pattern.status).toBe(400);
    expect(pattern.body.error.fields[0].path).toBe('body/event_types/0');

    const overlap = await call('POST', `/api/webhook-endpoints/${randomUUID()}/secret/rotate`, admin, {
      previous_secret_valid_s: 8 * 24 * 3600,
    });
    expect(overlap.status).toBe(400);
    expect(overlap.body.error.fields[0].path).toBe('body/previous_secret_valid_s');

    const empty_patch = await call('PATCH', `/api/webhook-endpoints/${randomUUID()}`, admin, {});
    expect(empty_patch.status).toBe(400);
    expect((await call('GET', '/api/webhook-endpoints/not-a-uuid', admin)).status).toBe(400);
  });

  it('the OpenAPI document describes every webhook endpoint route', async () => {
    const document = (await system.api.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(Object.keys(document.paths).filter((p: string) => p.startsWith('/api/webhook-endpoints'))).toEqual(
      [
        '/api/webhook-endpoints',
        '/api/webhook-endpoints/{id}',
        '/api/webhook-endpoints/{id}/secret/rotate',
        '/api/webhook-endpoints/{id}/test',
        '/api/webhook-endpoints/{id}/deliveries',
        '/api/webhook-endpoints/{id}/deliveries/{delivery_id}/retry',
      ],
    );
    expect(document.paths['/api/webhook-endpoints'].post.responses['400']).toBeDefined();
  });

  it('no secret shown by the API appears in any log line (trace level)', () => {
    expect(secrets.length).toBeGreaterThanOrEqual(5);
    expect(logs.text.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(logs.text).not.toContain(secret);
  });
});
