// Marqeta Core API client: users, card issuance, card transitions, transaction lookup.
// undici Pool with a bounded number of connections to the one Marqeta origin; per-attempt
// connect timeout and answer deadline (headers and body); retries (see retry-policy.ts) on 429, 5xx and transport
// failures only. Every create carries a client-chosen token, so retrying it is safe: when a
// create answers 409 because an earlier attempt already created the object, the existing
// object is fetched and returned if it is the one we asked for.
// Logs never hold a full token, the credentials or a request path (paths contain tokens).

import { setTimeout as sleepMs } from 'node:timers/promises';
import type { Counter } from 'prom-client';
import { Pool } from 'undici';
import { maskToken, type Logger } from '../../shared/logger.ts';
import { errorCodeForStatus, errorCodeForTransport, MarqetaError, type MarqetaErrorCode } from './errors.ts';
import {
  DEFAULT_RETRY_POLICY,
  isRetryable,
  MAX_RETRIES_LIMIT,
  parseRetryAfterMs,
  retryDelayMs,
  type RetryPolicy,
} from './retry-policy.ts';
import type {
  CardState,
  CardTransitionInput,
  CreateUserInput,
  IssueCardInput,
  MarqetaCard,
  MarqetaCardTransition,
  MarqetaTransaction,
  MarqetaUser,
} from './types.ts';

export interface MarqetaClientOptions {
  /** e.g. https://sandbox-api.marqeta.com/v3 */
  readonly base_url: string;
  readonly app_token: string;
  readonly admin_token: string;
  readonly connect_timeout_ms: number;
  /** Per attempt: the whole answer (headers and body) must arrive within this. */
  readonly timeout_ms: number;
  readonly connections: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly log: Logger;
  /** afc_marqeta_api_calls_total from shared/metrics.ts; one count per attempt. */
  readonly calls_counter?: Counter<'operation' | 'outcome'>;
  /** Answers larger than this are refused (Marqeta objects are a few KB). */
  readonly response_body_max_bytes?: number;
  /** Injection points for tests: how to wait, and the jitter source. */
  readonly sleep?: (delay_ms: number) => Promise<void>;
  readonly random?: () => number;
}

const RESPONSE_BODY_MAX_BYTES = 1024 * 1024;

type Body = AsyncIterable<Uint8Array> & { destroy(error?: Error): unknown };

async function readBody(body: Body, max_bytes: number, operation: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max_bytes) {
      body.destroy();
      throw new MarqetaError('MQ_ERR_BAD_RESPONSE', operation);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export class MarqetaClient {
  readonly #pool: Pool;
  readonly #base_path: string;
  readonly #authorization: string;
  readonly #timeout_ms: number;
  readonly #policy: RetryPolicy;
  readonly #log: Logger;
  readonly #counter: Counter<'operation' | 'outcome'> | undefined;
  readonly #body_max_bytes: number;
  readonly #sleep: (delay_ms: number) => Promise<void>;
  readonly #random: () => number;

  constructor(options: MarqetaClientOptions) {
    const base = new URL(options.base_url);
    this.#pool = new Pool(base.origin, {
      connections: options.connections,
      pipelining: 1,
      connect: { timeout: options.connect_timeout_ms },
      headersTimeout: options.timeout_ms,
      bodyTimeout: options.timeout_ms,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 60_000,
    });
    this.#base_path = base.pathname.replace(/\/$/, '');
    this.#authorization = `Basic ${Buffer.from(`${options.app_token}:${options.admin_token}`).toString('base64')}`;
    this.#timeout_ms = options.timeout_ms;
    const policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.#policy = { ...policy, max_retries: Math.min(Math.max(0, policy.max_retries), MAX_RETRIES_LIMIT) };
    this.#log = options.log;
    this.#counter = options.calls_counter;
    this.#body_max_bytes = options.response_body_max_bytes ?? RESPONSE_BODY_MAX_BYTES;
    this.#sleep = options.sleep ?? ((delay_ms) => sleepMs(delay_ms));
    this.#random = options.random ?? Math.random;
  }

  createUser(input: CreateUserInput): Promise<MarqetaUser> {
    return this.#create(
      'users.create',
      '/users',
      input,
      () => this.getUser(input.token),
      () => true,
    );
  }

  getUser(token: string): Promise<MarqetaUser> {
    return this.#call('users.get', 'GET', `/users/${encodeURIComponent(token)}`, token);
  }

  /** Creates a card for a user from a card product (the PAN stays at Marqeta, masked here). */
  issueCard(input: IssueCardInput): Promise<MarqetaCard> {
    return this.#create(
      'cards.create',
      '/cards',
      input,
      () => this.getCard(input.token),
      (card) => card.user_token === input.user_token && card.card_product_token === input.card_product_token,
    );
  }

  getCard(token: string): Promise<MarqetaCard> {
    return this.#call('cards.get', 'GET', `/cards/${encodeURIComponent(token)}`, token);
  }

  activateCard(input: CardTransitionInput): Promise<MarqetaCardTransition> {
    return this.#transition(input, 'ACTIVE');
  }

  suspendCard(input: CardTransitionInput): Promise<MarqetaCardTransition> {
    return this.#transition(input, 'SUSPENDED');
  }

  terminateCard(input: CardTransitionInput): Promise<MarqetaCardTransition> {
    return this.#transition(input, 'TERMINATED');
  }

  getCardTransition(token: string): Promise<MarqetaCardTransition> {
    return this.#call('cardtransitions.get', 'GET', `/cardtransitions/${encodeURIComponent(token)}`, token);
  }

  getTransaction(token: string): Promise<MarqetaTransaction> {
    return this.#call('transactions.get', 'GET', `/transactions/${encodeURIComponent(token)}`, token);
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  #transition(input: CardTransitionInput, state: CardState): Promise<MarqetaCardTransition> {
    const body = {
      ...input,
      state,
      channel: 'API',
      reason_code: input.reason_code ?? (state === 'ACTIVE' ? '00' : '01'),
    };
    return this.#create(
      'cardtransitions.create',
      '/cardtransitions',
      body,
      () => this.getCardTransition(input.token),
      (transition) => transition.card_token === input.card_token && transition.state === state,
    );
  }

  async #create<T>(
    operation: string,
    path: string,
    input: { readonly token: string },
    fetchExisting: () => Promise<T>,
    isOurs: (existing: T) => boolean,
  ): Promise<T> {
    try {
      return await this.#call<T>(operation, 'POST', path, input.token, input);
    } catch (error) {
      if (!(error instanceof MarqetaError) || error.code !== 'MQ_ERR_CONFLICT') throw error;
      // The token exists: either an earlier attempt (lost answer, timeout, redelivered
      // command) created our object, or someone else's object holds the token.
      const existing = await fetchExisting();
      if (!isOurs(existing)) throw error;
      this.#log.info(
        { operation, token: maskToken(input.token), attempts: error.attempts },
        'create already done; using the existing object',
      );
      return existing;
    }
  }

  async #call<T>(
    operation: string,
    method: 'GET' | 'POST',
    path: string,
    subject_token: string,
    body?: object,
  ): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      let code: MarqetaErrorCode;
      let status: number | undefined;
      let retry_after_ms: number | undefined;
      let marqeta_error_code: string | undefined;
      let cause: unknown;
      try {
        const response = await this.#pool.request({
          method,
          path: `${this.#base_path}${path}`,
          headers: {
            authorization: this.#authorization,
            accept: 'application/json',
            ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: payload,
          headersTimeout: this.#timeout_ms,
          bodyTimeout: this.#timeout_ms,
          // undici's own timers are coarse (about 1 s); the signal holds the deadline exactly.
          signal: AbortSignal.timeout(this.#timeout_ms),
        });
        const text = await readBody(response.body, this.#body_max_bytes, operation);
        status = response.statusCode;
        if (status >= 200 && status < 300) {
          const object = parseObject(text);
          if (object === undefined)
            throw new MarqetaError('MQ_ERR_BAD_RESPONSE', operation, { status, attempts: attempt });
          this.#counter?.inc({ operation, outcome: 'ok' });
          return object as T;
        }
        code = errorCodeForStatus(status);
        const error_code = parseObject(text)?.error_code;
        marqeta_error_code = error_code === undefined ? undefined : String(error_code);
        retry_after_ms = parseRetryAfterMs(
          response.headers['retry-after'],
          Date.now(),
          this.#policy.retry_after_cap_ms,
        );
      } catch (error) {
        if (error instanceof MarqetaError) {
          this.#counter?.inc({ operation, outcome: error.code });
          throw error;
        }
        const transport = errorCodeForTransport(error);
        if (transport === undefined) throw error;
        code = transport;
        cause = error;
      }
      this.#counter?.inc({ operation, outcome: code });
      const retries_left = this.#policy.max_retries - (attempt - 1);
      if (!isRetryable(code) || retries_left <= 0) {
        throw new MarqetaError(code, operation, { status, marqeta_error_code, attempts: attempt, cause });
      }
      const delay_ms = retryDelayMs(attempt, retry_after_ms, this.#policy, this.#random);
      this.#log.warn(
        { operation, token: maskToken(subject_token), attempt, code, status, delay_ms, retry_after_ms },
        'marqeta call failed; retrying',
      );
      await this.#sleep(delay_ms);
    }
  }
}

/** Client options from the worker's validated config. */
export function marqetaClientOptions(
  config: {
    readonly marqeta_base_url: string;
    readonly marqeta_app_token: string;
    readonly marqeta_admin_token: string;
    readonly marqeta_connect_timeout_ms: number;
    readonly marqeta_timeout_ms: number;
    readonly marqeta_max_retries: number;
    readonly marqeta_connections: number;
  },
  log: Logger,
  calls_counter?: Counter<'operation' | 'outcome'>,
): MarqetaClientOptions {
  return {
    base_url: config.marqeta_base_url,
    app_token: config.marqeta_app_token,
    admin_token: config.marqeta_admin_token,
    connect_timeout_ms: config.marqeta_connect_timeout_ms,
    timeout_ms: config.marqeta_timeout_ms,
    connections: config.marqeta_connections,
    retry: { max_retries: config.marqeta_max_retries },
    log,
    calls_counter,
  };
}
