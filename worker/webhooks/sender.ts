// One webhook delivery attempt: POST the signed event body to the endpoint with undici.
// A bounded connection pool per origin; one deadline covers connect, headers and body; the
// answer's body is read up to a small limit and dropped (only the status matters);
// redirects are not followed (a 3xx is a failure: the endpoint must be registered as is).

import { Agent, request } from 'undici';
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signatureHeader } from './signature.ts';
import type { AttemptOutcome } from './deliveries.ts';

export interface SenderOptions {
  readonly timeout_ms: number;
  readonly connections_per_origin: number;
  readonly user_agent?: string;
}

const RESPONSE_BODY_MAX_BYTES = 64 * 1024;

export class WebhookSender {
  readonly #agent: Agent;
  readonly #timeout_ms: number;
  readonly #user_agent: string;

  constructor(options: SenderOptions) {
    this.#agent = new Agent({
      connections: options.connections_per_origin,
      connect: { timeout: options.timeout_ms },
      headersTimeout: options.timeout_ms,
      bodyTimeout: options.timeout_ms,
      keepAliveTimeout: 10_000,
    });
    this.#timeout_ms = options.timeout_ms;
    this.#user_agent = options.user_agent ?? 'atlanticfrewaycard-webhooks/1';
  }

  async send(
    endpoint: { readonly url: string; readonly secret: string },
    event: { readonly id: string; readonly type: string; readonly raw_body: string },
  ): Promise<AttemptOutcome> {
    const started_ms = performance.now();
    const duration_ms = () => Math.round(performance.now() - started_ms);
    try {
      const response = await request(endpoint.url, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: {
          'content-type': 'application/json',
          'user-agent': this.#user_agent,
          [SIGNATURE_HEADER]: signatureHeader(event.raw_body, endpoint.secret, Math.floor(Date.now() / 1000)),
          [EVENT_ID_HEADER]: event.id,
          [EVENT_TYPE_HEADER]: event.type,
        },
        body: event.raw_body,
        signal: AbortSignal.timeout(this.#timeout_ms),
      });
      await response.body.dump({ limit: RESPONSE_BODY_MAX_BYTES });
      const delivered = response.statusCode >= 200 && response.statusCode < 300;
      return {
        delivered,
        status_code: response.statusCode,
        error: delivered ? null : `HTTP ${response.statusCode}`,
        duration_ms: duration_ms(),
      };
    } catch (error) {
      const name = (error as { name?: unknown } | null)?.name;
      const code = (error as { code?: unknown } | null)?.code;
      const reason =
        name === 'TimeoutError'
          ? `timeout after ${this.#timeout_ms} ms`
          : typeof code === 'string'
            ? code
            : error instanceof Error
              ? error.message
              : String(error);
      return { delivered: false, status_code: null, error: reason, duration_ms: duration_ms() };
    }
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
