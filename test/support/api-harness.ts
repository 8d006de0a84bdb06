// An in-process management API on the real services. Pass the gateway's REDIS_KEY_PREFIX
// and REDIS_SHARDS to share its cache; otherwise it gets a prefix of its own.
import { randomUUID } from 'node:crypto';
import { createApi, type Api, type ApiOverrides } from '../../api/api.ts';
import type { Scope } from '../../api/auth/api-keys.ts';
import { createApiKey } from '../../api/services/api-key-service.ts';
import { loadApiConfig, type ApiConfig } from '../../shared/config.ts';
import { createLogger, type Logger } from '../../shared/logger.ts';

export type TestApi = Api & { config: ApiConfig };

export async function startTestApi(
  overrides: Record<string, string> = {},
  seams: ApiOverrides & { readonly log?: Logger } = {},
): Promise<TestApi> {
  const config = loadApiConfig({
    ...process.env,
    REDIS_KEY_PREFIX: `t${randomUUID().slice(0, 8)}`,
    REDIS_SHARDS: '4',
    API_PORT: '0',
    API_INTERNAL_PORT: '0',
    // Test files run in parallel on a small machine: load shedding (tested on its own) stays out
    // of the way unless a test asks for it.
    OVERLOAD_EVENT_LOOP_DELAY_MS_MAX: '0',
    OVERLOAD_HEAP_USED_MB_MAX: '65536',
    ...overrides,
  });
  const log = seams.log ?? createLogger('api-test', process.env.LOG_LEVEL ?? 'silent');
  const api = await createApi(config, log, seams);
  return Object.assign(api, { config });
}

export async function apiKey(
  api: Api,
  company_id: string | null,
  scopes: Scope[] = ['admin'],
): Promise<string> {
  const { key } = await createApiKey(api.sql, {
    name: `test-${randomUUID().slice(0, 8)}`,
    company_id,
    scopes,
  });
  return key;
}

export function bearer(key: string): { authorization: string } {
  return { authorization: `Bearer ${key}` };
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface ApiAnswer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
  readonly body: any;
  readonly headers: Record<string, string | string[] | number | undefined>;
}

/** One request through inject(); the payload, when given, is sent as JSON. */
export async function callApi(
  api: Api,
  method: Method,
  url: string,
  headers: Record<string, string>,
  payload?: Record<string, unknown>,
): Promise<ApiAnswer> {
  const response = await api.app.inject({
    method,
    url,
    headers,
    ...(payload === undefined ? {} : { payload }),
  });
  const body = response.body === '' ? null : response.json();
  return { status: response.statusCode, body, headers: response.headers };
}

/** The part of an API key after `afc_<prefix>_` (43 base64url characters, which may contain `_`). */
export function apiKeySecret(key: string): string {
  const secret = key.slice('afc_'.length + 16 + 1);
  if (secret.length !== 43) throw new Error(`not an API key: ${key.length} characters`);
  return secret;
}
