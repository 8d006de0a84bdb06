// Fuzzes every gateway endpoint with generated paths, headers and bodies (FUZZ_RUNS each,
// 10 000 by default): never a 5xx, every 4xx in our error shape, the process survives, and the
// heap after a full collection does not keep what the requests left behind.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, deleteVhost } from '../../bench/runner/broker.ts';
import { withVhost } from '../../bench/runner/env.ts';
import { createBusinessCard, type CreatedCard } from '../support/cardholders.ts';
import {
  bodyText,
  fuzz,
  expectWellFormed,
  fieldValue,
  headersWith,
  heapAfterGc,
  objectOf,
  pathFor,
  send,
} from '../support/fuzz.ts';
import { startTestGateway } from '../support/gateway-harness.ts';
import { basicAuth, jitRequest } from '../support/jit-requests.ts';

/** Heap a fuzz run may leave behind (caches of compiled routes, pools warming up): far below a leak of 10k bodies. */
const HEAP_GROWTH_BYTES_MAX = 64 * 1024 * 1024;

let gw: Awaited<ReturnType<typeof startTestGateway>>;
let card: CreatedCard;
// Notifications the fuzzer gets accepted are published: to a vhost of this file's own.
const vhost = `afc-fuzz-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  await createVhost(vhost);
  gw = await startTestGateway({
    RABBITMQ_URL: withVhost(process.env.RABBITMQ_URL!, vhost),
    // The health route probes the Marqeta API too: point it at a port that refuses at once.
    MARQETA_BASE_URL: 'http://127.0.0.1:9/v3',
    DECISION_BUDGET_MS: '2000',
  });
  card = await createBusinessCard(gw.sql, { daily_limit_minor: 10n ** 12n });
});
afterAll(async () => {
  await gw?.close();
  await deleteVhost(vhost);
});

type Mutation = readonly [path: readonly string[], value: unknown];

/** Sets a value at a path of a JIT request (creating objects on the way). */
function mutate(body: Record<string, unknown>, [path, value]: Mutation): Record<string, unknown> {
  let at: Record<string, unknown> = body;
  for (const key of path.slice(0, -1)) {
    if (typeof at[key] !== 'object' || at[key] === null || Array.isArray(at[key])) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[path[path.length - 1]!] = value;
  return body;
}

const JIT_PATHS: readonly (readonly string[])[] = [
  ['token'],
  ['type'],
  ['state'],
  ['card_token'],
  ['user_token'],
  ['acting_user_token'],
  ['amount'],
  ['currency_code'],
  ['network'],
  ['subnetwork'],
  ['gpa_order'],
  ['gpa_order', 'jit_funding'],
  ['gpa_order', 'jit_funding', 'token'],
  ['gpa_order', 'jit_funding', 'method'],
  ['gpa_order', 'jit_funding', 'amount'],
  ['gpa_order', 'jit_funding', 'user_token'],
  ['gpa_order', 'jit_funding', 'original_jit_funding_token'],
  ['gpa_order_unload', 'jit_funding', 'method'],
  ['card_acceptor', 'mcc'],
  ['card_acceptor', 'mid'],
  ['card_acceptor', 'country_code'],
  ['pos', 'partial_approval_capable'],
  ['fraud'],
  ['$where'],
  ['metadata', '$set'],
];

/** A real JIT request for our card with up to three fields changed. */
const jitBody = fc
  .tuple(
    fc.array(fc.tuple(fc.constantFrom(...JIT_PATHS), fieldValue), { maxLength: 3 }),
    fc.constantFrom('1', '0.01', '12.345', '0', '999999999999', '7'),
  )
  .map(([mutations, amount]) => mutations.reduce(mutate, jitRequest({ ...card, amount })));

const NOTIFICATION_FIELDS = [
  'token',
  'type',
  'state',
  'card_token',
  'user_token',
  'amount',
  'currency_code',
  'subnetwork',
  'standin_approved_by',
  'gpa_order',
  'gpa_order_unload',
];
const NOTIFICATION_PATHS: readonly (readonly string[])[] = [
  ...NOTIFICATION_FIELDS.map((field) => [field]),
  ['gpa_order', 'jit_funding', 'token'],
  ['gpa_order', 'jit_funding', 'method'],
  ['gpa_order', 'jit_funding', 'amount'],
  ['gpa_order', 'jit_funding', 'user_token'],
  ['gpa_order', 'jit_funding', 'original_jit_funding_token'],
  ['gpa_order', 'funding', 'gateway_log', 'timed_out'],
  ['gpa_order', 'funding', 'gateway_log'],
  ['$where'],
];

/** A notification about our card that moves the ledger (declined, timed out or stand-in), with up to three fields changed. */
const notification = fc
  .tuple(
    fc.constantFrom(
      { state: 'DECLINED' },
      { state: 'COMPLETION', timed_out: true },
      { state: 'PENDING', standin_approved_by: 'COMMANDO_AUTO' },
    ),
    fc.stringMatching(/^[a-z0-9]{12}$/),
    fc.constantFrom('1', '0.01', '12.345', 25, 0.1, 1e-7),
    fc.array(fc.tuple(fc.constantFrom(...NOTIFICATION_PATHS), fieldValue), { maxLength: 3 }),
  )
  .map(([kind, suffix, amount, mutations]) =>
    mutations.reduce(mutate, {
      token: `txn_${suffix}`,
      type: 'authorization',
      state: kind.state,
      card_token: card.card_token,
      user_token: card.user_token,
      amount,
      currency_code: 'USD',
      subnetwork: 'GATEWAY_JIT',
      ...(kind.standin_approved_by ? { standin_approved_by: kind.standin_approved_by } : {}),
      gpa_order: {
        jit_funding: {
          token: `jit_${suffix}`,
          method: 'pgfs.authorization',
          user_token: card.user_token,
          amount,
        },
        funding: { gateway_log: { timed_out: kind.timed_out === true } },
      },
    } as Record<string, unknown>),
  );
const notificationBody = fc
  .array(
    fc.oneof({ weight: 4, arbitrary: notification }, { weight: 1, arbitrary: objectOf(NOTIFICATION_FIELDS) }),
    { maxLength: 3 },
  )
  .map((transactions) => ({ transactions }));

interface Endpoint {
  readonly method: string;
  readonly route: string;
  readonly authorization: string;
  readonly body?: fc.Arbitrary<string>;
}

const ENDPOINTS: readonly Endpoint[] = [
  {
    method: 'POST',
    route: '/api/transactions/authorize',
    authorization: basicAuth(),
    body: bodyText(jitBody),
  },
  {
    method: 'POST',
    route: '/api/webhooks/marqeta',
    authorization: basicAuth(process.env.MARQETA_WEBHOOK_USER, process.env.MARQETA_WEBHOOK_PASSWORD),
    body: bodyText(notificationBody),
  },
  // Anything else: unknown paths and methods (health and /metrics included: they are on the
  // internal listener, never reachable from outside).
  { method: 'GET', route: '/metrics', authorization: '' },
  { method: 'DELETE', route: '/api/:anything', authorization: basicAuth(), body: bodyText(objectOf([])) },
];

describe('gateway fuzzing', () => {
  for (const endpoint of ENDPOINTS) {
    it(`${endpoint.method} ${endpoint.route}: no 5xx, our error shape on every 4xx, no retained heap`, async () => {
      const heap_before = heapAfterGc();
      const method = fc.oneof(
        { weight: 9, arbitrary: fc.constant(endpoint.method) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'PATCH', 'OPTIONS', 'HEAD') },
      );
      const cases = fc.tuple(
        method,
        pathFor(endpoint.route),
        headersWith(endpoint.authorization),
        endpoint.body ?? fc.constant(undefined),
      );
      await fuzz(cases, async ([m, url, headers, body]) => {
        const answer = await send(gw.app, m, url, headers, m === 'GET' || m === 'HEAD' ? undefined : body);
        if (m !== 'HEAD')
          expectWellFormed(
            answer,
            'GW_ERR_',
            `${m} ${url} ${JSON.stringify(headers)} ${body?.slice(0, 300)}`,
          );
        // A HEAD answer has no body to check; shedding (503) is a deliberate answer there too.
        else if (answer.status !== 503) expect(answer.status).toBeLessThan(500);
      });
      expect(heapAfterGc() - heap_before).toBeLessThan(HEAP_GROWTH_BYTES_MAX);
    });
  }
});
