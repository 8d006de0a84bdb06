// fast-check generators for HTTP fuzzing through inject(): paths, headers and bodies that are
// almost right (known field names with wrong, hostile or MongoDB-operator values) and plainly
// wrong (junk text, deep nesting), plus the checks every answer must pass.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';

/** Generated requests per endpoint (FUZZ_RUNS overrides, e.g. for a quick local run). */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
/** Requests in flight at once: routes that wait on stores (health) would take minutes one by one. */
const FUZZ_PARALLEL = 8;

/**
 * Runs FUZZ_RUNS generated cases as FUZZ_PARALLEL fast-check runs of their own seeds at once;
 * a failure reports its seed and shrunk counterexample as usual.
 */
export async function fuzz<T>(cases: fc.Arbitrary<T>, check: (value: T) => Promise<void>): Promise<void> {
  const seed = Date.now() % 1_000_000_000;
  await Promise.all(
    Array.from({ length: FUZZ_PARALLEL }, (_, i) =>
      fc.assert(fc.asyncProperty(cases, check), {
        numRuns: Math.ceil(FUZZ_RUNS / FUZZ_PARALLEL),
        seed: seed + i,
      }),
    ),
  );
}

const printable = (max: number) =>
  fc.string({
    unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@AZaz[\\]^_`{|}~'),
    maxLength: max,
  });

const operator = fc.dictionary(
  fc.constantFrom('$ne', '$gt', '$regex', '$where', '$exists', '$in', '$set', '$expr'),
  fc.oneof(fc.constant(null), fc.constant(''), fc.constant('.*'), fc.constant(1), fc.constant([])),
  { minKeys: 1, maxKeys: 2 },
);

/** Values that look like what a field wants, and values that do not. */
export const fieldValue: fc.Arbitrary<unknown> = fc.oneof(
  { maxDepth: 3 },
  fc.uuid(),
  fc.stringMatching(/^[0-9a-f]{24}$/),
  fc.stringMatching(/^[a-z]{1,8}@example\.test$/),
  fc.stringMatching(/^\d{1,20}(\.\d{1,8})?$/),
  fc.constantFrom(
    'USD',
    'JPY',
    'KWD',
    'usd',
    'XXX',
    'active',
    'suspended',
    'verified',
    'business',
    'personal',
    'admin',
    'freeze',
    'DECLINED',
    'COMMANDO_AUTO',
    'MANAGED_JIT',
    'pgfs.authorization',
    'pgfs.authorization.reversal',
    'pgfs.refund',
  ),
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, -1, 0, 1e308, 2 ** 63),
  fc.boolean(),
  fc.constant(null),
  printable(40),
  fc.string({ maxLength: 20 }),
  fc.constant('x'.repeat(5_000)),
  operator,
  fc.jsonValue({ maxDepth: 2 }),
);

/** An object built from a route's known fields (and a few unknown and "$" ones). */
export function objectOf(fields: readonly string[], depth = 2): fc.Arbitrary<Record<string, unknown>> {
  const keys = fc.oneof(
    { weight: 6, arbitrary: fields.length > 0 ? fc.constantFrom(...fields) : printable(10) },
    { weight: 1, arbitrary: printable(10) },
    { weight: 1, arbitrary: fc.constantFrom('$where', '$set', '__proto__', 'constructor', 'a.b') },
  );
  const value =
    depth <= 0
      ? fieldValue
      : fc.oneof({ weight: 5, arbitrary: fieldValue }, { weight: 1, arbitrary: objectOf(fields, depth - 1) });
  return fc.dictionary(keys, value, { maxKeys: Math.max(4, fields.length + 2) });
}

/** A body text: JSON of a near-valid object (mostly), any JSON value, or not JSON at all. */
export function bodyText(valid: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: valid.map((body) => JSON.stringify(body)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 1, max: 5_000 })
        .map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        '{',
        'null',
        '{"__proto__":{"polluted":1}}',
        '{"a":1,"a":2}',
        '\u0000',
        '{"constructor":{"prototype":{"x":1}}}',
      ),
    },
  );
}

/**
 * Replaces each ":param" of a route with an id (one of known_ids: records that exist), something
 * id-like, or junk; adds a query.
 */
export function pathFor(
  template: string,
  query_keys: readonly string[] = [],
  known_ids: readonly string[] = [],
): fc.Arbitrary<string> {
  const segment = fc.oneof(
    ...(known_ids.length > 0 ? [fc.constantFrom(...known_ids), fc.constantFrom(...known_ids)] : []),
    fc.uuid(),
    fc.stringMatching(/^[0-9a-f]{24}$/),
    printable(30).map(encodeURIComponent),
    fc.constantFrom('..%2F..%2Fetc%2Fpasswd', '%00', '%E0%A4%A', 'null', '-1', '%24ne', 'x'.repeat(300)),
  );
  const params = template.match(/:[a-z_]+/g) ?? [];
  const query = fc.dictionary(
    fc.oneof(fc.constantFrom(...query_keys, 'limit', 'cursor', 'user_id[$ne]', '$where'), printable(8)),
    fc.oneof(printable(20), fc.constantFrom('-1', '0', '1000000', 'null', '[]')),
    { maxKeys: 3 },
  );
  return fc
    .tuple(fc.tuple(...params.map(() => segment)), query, fc.boolean())
    .map(([values, q, trailing]) => {
      let path = template;
      params.forEach((param, i) => {
        path = path.replace(param, values[i]!);
      });
      const search = new URLSearchParams(q).toString();
      return `${path}${trailing ? '/' : ''}${search ? `?${search}` : ''}`;
    });
}

/** Headers: the right credentials mostly, wrong or missing ones sometimes, odd content types. */
export function headersWith(good_authorization: string): fc.Arbitrary<Record<string, string>> {
  return fc
    .record(
      {
        authorization: fc.oneof(
          { weight: 6, arbitrary: fc.constant(good_authorization) },
          { weight: 1, arbitrary: printable(60) },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              'Basic ',
              'Bearer ',
              'Basic Og==',
              `Bearer afc_00000000_${'a'.repeat(40)}`,
            ),
          },
        ),
        'content-type': fc.oneof(
          { weight: 6, arbitrary: fc.constant('application/json') },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              'text/plain',
              'application/json; charset=latin1',
              'multipart/form-data; boundary=x',
              'application/x-www-form-urlencoded',
              '',
            ),
          },
        ),
        'x-request-id': printable(40),
        'if-match': printable(20),
        'idempotency-key': printable(40),
      },
      { requiredKeys: ['content-type'] },
    )
    .map((headers) => Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== '')));
}

export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly content_type: string;
}

/** inject() without letting a client-side refusal (e.g. a header it will not send) look like ours. */
export async function send(
  app: FastifyInstance,
  method: string,
  url: string,
  headers: Record<string, string>,
  payload?: string,
): Promise<Answer> {
  const response = await app.inject({
    method: method as 'GET',
    url,
    headers,
    ...(payload === undefined ? {} : { payload }),
  });
  return {
    status: response.statusCode,
    body: response.body,
    content_type: String(response.headers['content-type'] ?? ''),
  };
}

/**
 * No 5xx but a deliberate 503 (`*_UNAVAILABLE`: a busy machine or a slow store, answered
 * "retry later"); every 4xx in our JSON error shape with one of the service's codes, except a JIT
 * decline (402 with a jit_funding answer).
 */
export function expectWellFormed(answer: Answer, code_prefix: 'GW_ERR_' | 'API_ERR_', context: string): void {
  if (answer.status === 503) {
    expect(JSON.parse(answer.body).error?.code, context).toBe(`${code_prefix}UNAVAILABLE`);
    return;
  }
  expect(answer.status, `${context} -> ${answer.status} ${answer.body.slice(0, 300)}`).toBeLessThan(500);
  if (answer.status < 400) return;
  if (answer.status === 402 && code_prefix === 'GW_ERR_') {
    expect(JSON.parse(answer.body), context).toHaveProperty('jit_funding.decline_reason');
    return;
  }
  expect(answer.content_type, context).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body) as {
    error?: { code?: unknown; message?: unknown };
    request_id?: unknown;
  };
  expect(
    typeof body.error?.code === 'string' && body.error.code.startsWith(code_prefix),
    `${context} -> ${answer.body.slice(0, 300)}`,
  ).toBe(true);
  expect(typeof body.error?.message, context).toBe('string');
  expect(typeof body.request_id, context).toBe('string');
}

/** Heap in use after a full collection (V8 flag set at run time; vitest workers lack --expose-gc). */
export function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}
