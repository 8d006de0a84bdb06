// Fuzzes every route of the management API (read from its own OpenAPI document, so a new
// route is fuzzed without touching this file) with generated paths, headers and bodies
// (FUZZ_RUNS each, 10 000 by default): never a 5xx, every 4xx in our error shape, no retained
// heap. Paths use ids of records that exist as well as junk, so the handlers behind
// validation run too.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateMongo } from '../../migrations/migrate.ts';
import { apiKey, bearer, callApi, startTestApi, type TestApi } from '../support/api-harness.ts';
import { uniqueToken } from '../support/cardholders.ts';
import {
  bodyText,
  expectWellFormed,
  fuzz,
  headersWith,
  heapAfterGc,
  objectOf,
  pathFor,
  send,
} from '../support/fuzz.ts';

const HEAP_GROWTH_BYTES_MAX = 64 * 1024 * 1024;

interface Operation {
  readonly method: string;
  readonly route: string;
  readonly body_fields: readonly string[] | null;
  readonly query_keys: readonly string[];
}

interface OpenApiOperation {
  readonly parameters?: readonly { readonly in: string; readonly name: string }[];
  readonly requestBody?: {
    readonly content?: Record<
      string,
      { readonly schema?: { readonly properties?: Record<string, unknown> } }
    >;
  };
}

const known_ids: string[] = [];

/** Every operation of the OpenAPI document, with its body fields and query keys. */
function operationsOf(document: { paths?: Record<string, Record<string, OpenApiOperation>> }): Operation[] {
  return Object.entries(document.paths ?? {}).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      method: method.toUpperCase(),
      route: path.replace(/\{(\w+)\}/g, ':$1'),
      body_fields: operation.requestBody
        ? Object.keys(operation.requestBody.content?.['application/json']?.schema?.properties ?? {})
        : null,
      query_keys: (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
    })),
  );
}

// A MongoDB database of its own: listings then see only documents this API wrote (other tools
// write to the shared one in shapes of their own). Started at load: the routes name the tests.
const mongodb_uri = new URL(process.env.MONGODB_URI!);
mongodb_uri.pathname = `/afc_fuzz_${randomUUID().slice(0, 8)}`;
// Rate limiting would answer 429 here; it has tests of its own (shedding is off in the harness).
const api: TestApi = await startTestApi({
  API_RATE_LIMIT_MAX: '1000000',
  MONGODB_URI: mongodb_uri.toString(),
});
await api.app.ready();
const operations = operationsOf(api.app.swagger() as Parameters<typeof operationsOf>[0]);
let authorization = '';

beforeAll(async () => {
  await migrateMongo(api.mongo.db());
  authorization = bearer(await apiKey(api, null, ['admin'])).authorization;
  // Records that exist, so some generated paths reach the handlers behind validation.
  const headers = { authorization };
  const company = (await callApi(api, 'POST', '/api/companies', headers, { name: 'Fuzz Co' })).body;
  const user = (
    await callApi(api, 'POST', `/api/companies/${company.id}/users`, headers, {
      email: `${uniqueToken('f')}@example.test`,
      role: 'employee',
    })
  ).body;
  const card = (
    await callApi(api, 'POST', '/api/cards', headers, {
      kind: 'business',
      user_id: user.id,
      currency_code: 'USD',
    })
  ).body;
  const person = (
    await callApi(api, 'POST', '/api/personal-users', headers, {
      email: `${uniqueToken('f')}@example.test`,
      kyc_status: 'verified',
    })
  ).body;
  const personal_card = (
    await callApi(api, 'POST', '/api/cards', headers, {
      kind: 'personal',
      user_id: person.id,
      currency_code: 'USD',
    })
  ).body;
  known_ids.push(company.id, user.id, card.id, person.id, personal_card.id);
  expect(known_ids.every((id) => typeof id === 'string')).toBe(true);
});
afterAll(async () => {
  await api.mongo.db().dropDatabase();
  await api.close();
});

describe('management API fuzzing', () => {
  it('finds every route in the OpenAPI document', () => {
    // Fewer would mean the document (and so this fuzzing) misses routes.
    expect(operations.length).toBeGreaterThanOrEqual(20);
  });

  for (const operation of operations) {
    it(`${operation.method} ${operation.route}: no 5xx, our error shape on every 4xx, no retained heap`, async () => {
      const heap_before = heapAfterGc();
      const method = fc.oneof(
        { weight: 9, arbitrary: fc.constant(operation.method) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') },
      );
      const body =
        operation.body_fields === null ? fc.constant(undefined) : bodyText(objectOf(operation.body_fields));
      const cases = fc.tuple(
        method,
        pathFor(operation.route, operation.query_keys, known_ids),
        headersWith(authorization),
        body,
      );
      await fuzz(cases, async ([m, url, headers, payload]) => {
        const answer = await send(api.app, m, url, headers, m === 'GET' ? undefined : payload);
        expectWellFormed(
          answer,
          'API_ERR_',
          `${m} ${url} ${JSON.stringify(headers)} ${payload?.slice(0, 300)}`,
        );
      });
      expect(heapAfterGc() - heap_before).toBeLessThan(HEAP_GROWTH_BYTES_MAX);
    }, 300_000);
  }
});
