// Outbound webhook fan-out: consumes afc.webhooks (`card.#` events, and `decision.#` while an
// endpoint wants decisions: decision-binding.ts) and POSTs each event, signed, to every active
// endpoint that wants it; a decision batch message (shared/decision-batch.ts) is one event per
// decision, as if each had come alone. Each (endpoint, event) is
// one delivery row; a failed delivery is retried for that endpoint alone: a copy of the
// message naming the endpoint (header x-endpoint-id) goes to a retry queue (see
// retry-schedule.ts) and, past the horizon, to the DLQ. A message that cannot be processed
// at all (database down, unreadable body) takes the queue's ordinary retry path.
// At least once: a receiver may see an event twice (deduplicate on X-AFC-Event-Id), never
// again once it answered 2xx and that was recorded.
// A message naming its endpoint (shared/webhooks/addressed-delivery.ts) skips the fan-out: a
// scheduled retry, a DLQ replay, or a test event or retry asked through the management API.

import { createHash } from 'node:crypto';
import type { AsyncMessage, Connection, Consumer, Publisher } from 'rabbitmq-client';
import {
  exchanges,
  HEADER_ATTEMPT,
  HEADER_FAILED_AT,
  HEADER_LAST_ERROR,
  QUEUE_WEBHOOKS,
  queueBindings,
  RETRY_DELAYS_MS,
  workQueueDeclarations,
} from '../../shared/broker/topology.ts';
import {
  type BatchEntry,
  CONTENT_TYPE_DECISION_BATCH,
  decisionEventOf,
  decodeBatch,
  encodeBatch,
} from '../../shared/decision-batch.ts';
import type { Logger } from '../../shared/logger.ts';
import type { DecisionEvent } from '../../shared/messages.ts';
import type { workerMetrics } from '../../shared/metrics.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import {
  eventBody,
  HEADER_ATTEMPT_ONLY,
  HEADER_ENDPOINT_ID,
  HEADER_EVENT_CREATED_AT,
} from '../../shared/webhooks/addressed-delivery.ts';
import type { DestinationPolicy, HostLookup } from '../../shared/webhooks/destination.ts';
import { HEADER_ORIGINAL_ROUTING_KEY, RetryPath } from '../broker/retry-path.ts';
import type { ConsumerHandle, WorkerDeps } from '../consumer-handle.ts';
import { DecisionBindingKeeper } from './decision-binding.ts';
import { DeliveryLog } from './deliveries.ts';
import { EndpointDirectory, signingSecrets, type WebhookEndpoint } from './endpoints.ts';
import { endpointWants } from '../../shared/webhooks/event-types.ts';
import { nextStep } from './retry-schedule.ts';
import { WebhookSender } from './sender.ts';

export { HEADER_ENDPOINT_ID };

/** Endpoint snapshot lifetime: a new or changed endpoint is seen within this. */
export const ENDPOINTS_TTL_MS = 5_000;
/** Connections per receiver origin. */
const CONNECTIONS_PER_ORIGIN = 8;
const PUBLISH_ATTEMPTS_MAX = 3;

type WorkerMetrics = ReturnType<typeof workerMetrics>;

export interface WebhookConsumerDeps {
  readonly rabbit: Connection;
  readonly sql: PgSql;
  readonly log: Logger;
  readonly metrics?: Pick<WorkerMetrics, 'webhook_deliveries' | 'retries' | 'dead_letters' | 'processed'>;
}

export interface WebhookConsumerOptions {
  readonly timeout_ms: number;
  readonly retry_horizon_ms: number;
  readonly concurrency: number;
  /** Where deliveries may go (checked at every attempt). */
  readonly destination: DestinationPolicy;
  readonly tls_extra_ca_pem?: string | null;
  /** Tests resolve names their own way; production uses the OS resolver. */
  readonly lookup?: HostLookup;
  /** Tests use a queue of their own with short delays; production uses the defaults. */
  readonly queue?: string;
  readonly retry_delays_ms?: readonly number[];
  readonly endpoints_ttl_ms?: number;
  readonly random?: () => number;
}

/** A message whose body can never be delivered: it goes straight to the DLQ. */
class UnreadableEventError extends Error {
  readonly code = 'WH_ERR_UNREADABLE_EVENT';
}

interface OutboundEvent {
  readonly id: string;
  readonly type: string;
  readonly raw_body: string;
  readonly company_id: string | null | undefined;
  readonly card_id: string | null;
  readonly kind: string | null;
  /** What a retry for one endpoint republishes: the message, or this event's part of a batch. */
  readonly retry_body: unknown;
}

function dataOf(message: AsyncMessage): Record<string, unknown> {
  const body: unknown = Buffer.isBuffer(message.body)
    ? (() => {
        try {
          return JSON.parse(message.body.toString('utf8'));
        } catch {
          return undefined;
        }
      })()
    : message.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new UnreadableEventError('event body is not a JSON object');
  }
  return body as Record<string, unknown>;
}

/** An addressed event's own created_at (its body stays the same on retries), else the message's. */
function createdAtMsOf(message: AsyncMessage): number {
  const created_at_ms = Date.parse(String(message.headers?.[HEADER_EVENT_CREATED_AT]));
  if (!Number.isNaN(created_at_ms)) return created_at_ms;
  return message.timestamp ? message.timestamp * 1000 : Date.now();
}

function typeOf(message: AsyncMessage): string {
  return String(message.headers?.[HEADER_ORIGINAL_ROUTING_KEY] ?? message.routingKey);
}

/** The event as receivers get it: {id, type, created_at, data}, serialized once. */
function outboundEvent(
  id: string,
  type: string,
  created_at_ms: number,
  data: Record<string, unknown>,
  retry_body: unknown,
): OutboundEvent {
  const created_at = new Date(created_at_ms).toISOString();
  const company = data.company_id;
  return {
    id,
    type,
    raw_body: eventBody(id, type, created_at, data),
    company_id: typeof company === 'string' || company === null ? company : undefined,
    card_id: typeof data.card_id === 'string' ? data.card_id : null,
    kind: typeof data.kind === 'string' ? data.kind : null,
    retry_body,
  };
}

/**
 * The events of a message: one per decision of a decision batch (id `<jit token>:<revision>`, as
 * when each decision was a message of its own), else the message itself.
 */
function outboundEvents(message: AsyncMessage, log: Logger): OutboundEvent[] {
  const type = typeOf(message);
  if (message.contentType !== CONTENT_TYPE_DECISION_BATCH) {
    const data = dataOf(message);
    const id =
      message.messageId ||
      createHash('sha256').update(type).update('\n').update(JSON.stringify(data)).digest('hex').slice(0, 32);
    return [outboundEvent(id, type, createdAtMsOf(message), data, message.body)];
  }
  let entries: BatchEntry[];
  try {
    entries = decodeBatch(message.body as Buffer | string);
  } catch (error) {
    throw new UnreadableEventError((error as Error).message);
  }
  const events: OutboundEvent[] = [];
  for (const entry of entries) {
    let decision: DecisionEvent;
    try {
      decision = decisionEventOf(entry);
    } catch (error) {
      // The decisions consumer dead-letters the same entry with its reason.
      log.error({ outbox_id: entry.outbox_id, err: error }, 'undecodable decision skipped by webhooks');
      continue;
    }
    const id = `${decision.request.jit_token}:${decision.revision}`;
    const data = decision as unknown as Record<string, unknown>;
    events.push(outboundEvent(id, type, decision.decided_at_ms, data, encodeBatch([entry.line])));
  }
  return events;
}

export class WebhookConsumer implements ConsumerHandle {
  readonly name = 'webhooks';
  /** Resolves once the queue is declared and consumption has started. */
  readonly ready: Promise<void>;
  #consuming = false;
  readonly #deps: WebhookConsumerDeps;
  readonly #queue: string;
  readonly #retry_delays_ms: readonly number[];
  readonly #horizon_ms: number;
  readonly #random: () => number;
  readonly #endpoints: EndpointDirectory;
  readonly #deliveries: DeliveryLog;
  readonly #sender: WebhookSender;
  readonly #publisher: Publisher;
  readonly #retry_path: RetryPath;
  readonly #consumer: Consumer;
  readonly #decision_binding: DecisionBindingKeeper;

  constructor(deps: WebhookConsumerDeps, options: WebhookConsumerOptions) {
    this.#deps = deps;
    this.#queue = options.queue ?? QUEUE_WEBHOOKS;
    this.#retry_delays_ms = options.retry_delays_ms ?? RETRY_DELAYS_MS[QUEUE_WEBHOOKS]!;
    this.#horizon_ms = options.retry_horizon_ms;
    this.#random = options.random ?? Math.random;
    this.#endpoints = new EndpointDirectory(deps.sql, deps.log, options.endpoints_ttl_ms ?? ENDPOINTS_TTL_MS);
    this.#deliveries = new DeliveryLog(deps.sql, deps.log);
    this.#sender = new WebhookSender({
      timeout_ms: options.timeout_ms,
      connections_per_origin: CONNECTIONS_PER_ORIGIN,
      destination: options.destination,
      tls_extra_ca_pem: options.tls_extra_ca_pem ?? null,
      ...(options.lookup ? { lookup: options.lookup } : {}),
    });
    const declarations = workQueueDeclarations(this.#queue, this.#retry_delays_ms);
    this.#publisher = deps.rabbit.createPublisher({
      confirm: true,
      maxAttempts: PUBLISH_ATTEMPTS_MAX,
      queues: declarations.map((q) => ({ ...q, arguments: { ...q.arguments } })),
    });
    this.#retry_path = new RetryPath(deps.rabbit, this.#queue, this.#retry_delays_ms);
    const bindings = queueBindings.filter((b) => b.queue === this.#queue);
    this.#consumer = deps.rabbit.createConsumer(
      {
        queue: this.#queue,
        queueOptions: { ...declarations[0]!, arguments: { ...declarations[0]!.arguments } },
        exchanges: bindings.length > 0 ? exchanges.map((e) => ({ ...e })) : [],
        queueBindings: bindings.map((b) => ({ ...b })),
        qos: { prefetchCount: options.concurrency * 2 },
        concurrency: options.concurrency,
        requeue: true,
      },
      (message) => this.#handle(message),
    );
    this.#consumer.on('error', (error) =>
      deps.log.error({ err: error, queue: this.#queue }, 'webhook consumer error'),
    );
    this.#decision_binding = new DecisionBindingKeeper(deps.sql, deps.rabbit, this.#queue, deps.log);
    // 'ready' comes again after every reconnect (the broker may have lost its bindings).
    this.#consumer.on('ready', () => {
      this.#consuming = true;
      this.#decision_binding.start();
    });
    this.ready = new Promise((resolve) => this.#consumer.once('ready', () => resolve()));
  }

  isReady(): boolean {
    return this.#consuming && this.#deps.rabbit.ready;
  }

  /** Stops taking messages and finishes the deliveries in hand. */
  async close(): Promise<void> {
    this.#consuming = false;
    await this.#decision_binding.stop();
    await this.#consumer.close();
    await Promise.all([this.#publisher.close(), this.#retry_path.close(), this.#sender.close()]);
  }

  async #handle(message: AsyncMessage): Promise<void> {
    try {
      await this.#process(message);
      this.#deps.metrics?.processed.inc({ queue: this.#queue });
    } catch (error) {
      // Throws when the republish fails: the message is then requeued, not lost.
      const hop = await this.#retry_path.fail(message, error, error instanceof UnreadableEventError);
      (hop.dead ? this.#deps.metrics?.dead_letters : this.#deps.metrics?.retries)?.inc({
        queue: this.#queue,
      });
      this.#deps.log.warn(
        { err: error, queue: this.#queue, hop: hop.queue },
        'webhook event processing failed',
      );
    }
  }

  async #process(message: AsyncMessage): Promise<void> {
    const events = outboundEvents(message, this.#deps.log);
    const endpoint_id = message.headers?.[HEADER_ENDPOINT_ID];
    if (typeof endpoint_id === 'string') {
      const endpoint = await this.#endpoints.byId(endpoint_id);
      if (endpoint === undefined || !endpoint.active) {
        this.#deps.log.info(
          { endpoint_id, event_ids: events.map((e) => e.id) },
          'retry for a removed or inactive endpoint dropped',
        );
        return;
      }
      // Back on the work queue with its endpoint named: a scheduled retry, or an operator's replay.
      for (const event of events) await this.#deliver(endpoint, event, message, true);
      return;
    }
    const results = await Promise.allSettled(
      events.map(async (event) => {
        const targets = await this.#targets(event);
        await Promise.all(targets.map((endpoint) => this.#deliver(endpoint, event, message, false)));
      }),
    );
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) throw failure.reason;
  }

  async #targets(event: OutboundEvent): Promise<WebhookEndpoint[]> {
    const wanted = (await this.#endpoints.active()).filter((e) => endpointWants(e.event_types, event.type));
    if (!wanted.some((e) => e.company_id !== null)) return wanted;
    const company_id =
      event.company_id !== undefined
        ? event.company_id
        : event.kind === 'business' && event.card_id !== null
          ? await this.#endpoints.companyOfBusinessCard(event.card_id)
          : null;
    return wanted.filter((e) => e.company_id === null || e.company_id === company_id);
  }

  async #deliver(
    endpoint: WebhookEndpoint,
    event: OutboundEvent,
    message: AsyncMessage,
    revive: boolean,
  ): Promise<void> {
    const delivery = await this.#deliveries.open(endpoint.id, event, revive);
    if (delivery.status === 'delivered' || delivery.status === 'dead') return;
    const outcome = await this.#sender.send({ url: endpoint.url, secrets: signingSecrets(endpoint) }, event);
    const attempts = await this.#deliveries.recordAttempt(delivery.id, outcome);
    this.#deps.metrics?.webhook_deliveries.inc({ result: outcome.delivered ? 'delivered' : 'failed' });
    if (outcome.delivered) return;
    if (message.headers?.[HEADER_ATTEMPT_ONLY] === true) {
      // The delivery's own retry chain is still scheduled; a second one would double its pace.
      this.#deps.log.info(
        { endpoint_id: endpoint.id, event_id: event.id, attempts, error: outcome.error },
        'webhook retry asked through the API failed; scheduled retries continue',
      );
      return;
    }
    const elapsed_ms = Date.now() - delivery.window_started_at.getTime();
    const step = nextStep(
      this.#queue,
      this.#retry_delays_ms,
      attempts,
      elapsed_ms,
      this.#horizon_ms,
      this.#random,
    );
    const headers: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(message.headers ?? {})) {
      // RabbitMQ's dead-lettering headers describe the last hop only.
      if (!/^x-(death|first-death|last-death)/.test(name)) headers[name] = value;
    }
    Object.assign(headers, {
      [HEADER_ENDPOINT_ID]: endpoint.id,
      [HEADER_ATTEMPT]: attempts,
      [HEADER_LAST_ERROR]: `webhook ${outcome.error ?? 'failed'}`,
      [HEADER_FAILED_AT]: new Date().toISOString(),
      [HEADER_ORIGINAL_ROUTING_KEY]: event.type,
    });
    await this.#publisher.send(
      {
        exchange: '',
        routingKey: step.queue,
        durable: true,
        headers,
        messageId: event.id,
        contentType: message.contentType,
        timestamp: message.timestamp ?? Math.floor(Date.now() / 1000),
        ...(step.dead ? {} : { expiration: String(step.expiration_ms) }),
      },
      event.retry_body,
    );
    const log_fields = { endpoint_id: endpoint.id, event_id: event.id, attempts, error: outcome.error };
    if (step.dead) {
      await this.#deliveries.markDead(delivery.id, outcome.error ?? 'failed');
      this.#deps.metrics?.dead_letters.inc({ queue: this.#queue });
      this.#deps.log.error(log_fields, 'webhook delivery dead-lettered at the retry horizon');
    } else {
      this.#deps.metrics?.retries.inc({ queue: this.#queue });
      this.#deps.log.warn(
        { ...log_fields, retry_in_ms: step.expiration_ms },
        'webhook delivery failed; retry scheduled',
      );
    }
  }
}

/** The worker's webhook consumer on afc.webhooks, from its config (see worker/consumers.ts). */
export function startWebhookConsumer(deps: WorkerDeps): ConsumerHandle {
  return new WebhookConsumer(deps, {
    timeout_ms: deps.config.webhook_timeout_ms,
    retry_horizon_ms: deps.config.webhook_retry_horizon_ms,
    concurrency: deps.config.webhook_concurrency,
    queue: deps.config.webhooks_queue,
    destination: {
      allow_http: deps.config.webhook_allow_http,
      allowed_cidrs: deps.config.webhook_allowed_cidrs,
    },
    tls_extra_ca_pem: deps.config.webhook_tls_extra_ca_pem,
  });
}
