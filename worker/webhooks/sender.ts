// One webhook delivery attempt: POST the signed event body to the endpoint with undici.
// A bounded connection pool per origin; one deadline covers connect, headers and body; the
// answer's body is read up to a small limit and dropped (only the status matters);
// redirects are not followed (a 3xx is a failure: the endpoint must be registered as is).
// Destinations are checked at every attempt (shared/webhooks/destination.ts): the URL's form
// and an IP literal before anything is sent, a host name inside the connection's own DNS
// lookup, so the address connected to is the address checked. A refused destination is a
// failed attempt recorded as `destination_refused: <why>`; nothing reaches it.

import { rootCertificates } from 'node:tls';
import { isIP } from 'node:net';
import { Agent, buildConnector, request } from 'undici';
import {
  bareHost,
  DESTINATION_REFUSED,
  DestinationGuard,
  DestinationRefusedError,
  type DestinationPolicy,
  type HostLookup,
} from '../../shared/webhooks/destination.ts';
import type { AttemptOutcome } from './deliveries.ts';
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signatureHeader } from './signature.ts';

export interface SenderOptions {
  readonly timeout_ms: number;
  readonly connections_per_origin: number;
  readonly destination: DestinationPolicy;
  /** Extra trusted CA certificates (PEM), besides the system's. */
  readonly tls_extra_ca_pem?: string | null;
  /** Tests resolve names their own way; production uses the OS resolver. */
  readonly lookup?: HostLookup;
  readonly user_agent?: string;
}

const RESPONSE_BODY_MAX_BYTES = 64 * 1024;
const RESPONSE_HEADERS_MAX_BYTES = 16 * 1024;

function refusedOutcome(error: DestinationRefusedError, duration_ms: number): AttemptOutcome {
  return {
    delivered: false,
    status_code: null,
    // A name that does not resolve is a DNS failure, not a refusal.
    error: `${error.unresolved ? 'unresolved' : DESTINATION_REFUSED}: ${error.message}`,
    duration_ms,
  };
}

export class WebhookSender {
  readonly #agent: Agent;
  readonly #guard: DestinationGuard;
  readonly #timeout_ms: number;
  readonly #user_agent: string;

  constructor(options: SenderOptions) {
    this.#guard = new DestinationGuard(options.destination, options.lookup);
    const connector = buildConnector({
      timeout: options.timeout_ms,
      lookup: this.#guard.connectLookup,
      ...(options.tls_extra_ca_pem ? { ca: [...rootCertificates, options.tls_extra_ca_pem] } : {}),
    });
    this.#agent = new Agent({
      connections: options.connections_per_origin,
      // IP literals skip DNS, so net.connect never calls the lookup for them: checked here.
      connect: (connect_options, callback) => {
        const host = bareHost(connect_options.hostname);
        const refusal = isIP(host) === 0 ? null : this.#guard.refusalOf(host);
        if (refusal !== null) callback(new DestinationRefusedError(`url is ${refusal}`), null);
        else connector(connect_options, callback);
      },
      headersTimeout: options.timeout_ms,
      bodyTimeout: options.timeout_ms,
      keepAliveTimeout: 10_000,
      maxHeaderSize: RESPONSE_HEADERS_MAX_BYTES,
    });
    this.#timeout_ms = options.timeout_ms;
    this.#user_agent = options.user_agent ?? 'atlanticfrewaycard-webhooks/1';
  }

  async send(
    endpoint: { readonly url: string; readonly secrets: readonly string[] },
    event: { readonly id: string; readonly type: string; readonly raw_body: string },
  ): Promise<AttemptOutcome> {
    const started_ms = performance.now();
    const duration_ms = () => Math.round(performance.now() - started_ms);
    try {
      // The form again (a row may predate these rules, or the policy changed since).
      this.#guard.parse(endpoint.url);
    } catch (error) {
      if (error instanceof DestinationRefusedError) {
        return refusedOutcome(new DestinationRefusedError(`url ${error.message}`), duration_ms());
      }
      throw error;
    }
    try {
      const response = await request(endpoint.url, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: {
          'content-type': 'application/json',
          'user-agent': this.#user_agent,
          [SIGNATURE_HEADER]: signatureHeader(
            event.raw_body,
            endpoint.secrets,
            Math.floor(Date.now() / 1000),
          ),
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
      const refused = error instanceof DestinationRefusedError ? error : (error as { cause?: unknown }).cause;
      if (refused instanceof DestinationRefusedError) return refusedOutcome(refused, duration_ms());
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
