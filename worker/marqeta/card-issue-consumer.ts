// Consumer of `command.card.issue` on afc.marqeta: issues at Marqeta a card the management API
// saved as `pending`, then makes it usable: Marqeta user (if new) -> card -> ACTIVE transition,
// our card `active` (PostgreSQL or MongoDB), the gateway's cached card deleted (the next
// authorization reloads it), and `card.activated` published (confirmed).
// Every step is idempotent, so a redelivered or retried command redoes nothing twice: the
// Marqeta tokens are the command's (the transition token derives from the card token), the
// status update only moves `pending` to `active`, and the event's message id is fixed per card.
// A retryable failure (Marqeta 429/5xx/timeout, a store or broker error) takes the queue's
// retry path; a command that can never succeed (malformed, unknown card, Marqeta 4xx) goes
// straight to the DLQ.

import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ObjectId } from 'mongodb';
import { type AsyncMessage, ConsumerStatus, type Publisher } from 'rabbitmq-client';
import {
  EXCHANGE_EVENTS,
  exchanges,
  QUEUE_MARQETA,
  queueBindings,
  RETRY_DELAYS_MS,
  workQueueDeclarations,
} from '../../shared/broker/topology.ts';
import { maskToken } from '../../shared/logger.ts';
import {
  CARD_ACTIVATED_ROUTING_KEY,
  CARD_ISSUE_ROUTING_KEY,
  type CardActivatedEvent,
  type CardIssueCommand,
} from '../../shared/messages.ts';
import { decisionKeys, type KeyLayout } from '../../shared/redis-keys.ts';
import { connectRedis } from '../../shared/stores/redis.ts';
import { timed } from '../../shared/stores/postgres.ts';
import { HEADER_ORIGINAL_ROUTING_KEY, RetryPath } from '../broker/retry-path.ts';
import type { ConsumerHandle, WorkerDeps } from '../consumer-handle.ts';
import { failureReason } from '../errors.ts';
import { MarqetaClient, marqetaClientOptions } from './client.ts';
import { MarqetaError } from './errors.ts';
import { MARQETA_TOKEN_MAX_LENGTH } from './types.ts';

/** Card issuance is rare: a few at once is plenty and keeps Marqeta's rate limits far away. */
const PREFETCH = 8;
const CONCURRENCY = 4;
const PUBLISH_ATTEMPTS_MAX = 3;
const REDIS_COMMAND_TIMEOUT_MS = 2_000;

export const CardIssueErrorCodes = Object.freeze({
  /** The body is not a card-issue command we understand. */
  MQ_ERR_INVALID_COMMAND: 'invalid card-issue command',
  /** No card with this id and token in our stores. */
  MQ_ERR_CARD_NOT_FOUND: 'card not found',
} as const);

export class CardIssueError extends Error {
  readonly code: keyof typeof CardIssueErrorCodes;

  constructor(code: keyof typeof CardIssueErrorCodes, detail: string) {
    super(`${CardIssueErrorCodes[code]}: ${detail}`);
    this.code = code;
  }
}

function isToken(value: unknown): value is string {
  return (
    typeof value === 'string' && /^[A-Za-z0-9_.:-]+$/.test(value) && value.length <= MARQETA_TOKEN_MAX_LENGTH
  );
}

export function parseCardIssueCommand(body: unknown): CardIssueCommand {
  const c = (
    Buffer.isBuffer(body) ? JSON.parse(body.toString('utf8')) : body
  ) as Partial<CardIssueCommand> | null;
  const problems: string[] = [];
  if (c === null || typeof c !== 'object')
    throw new CardIssueError('MQ_ERR_INVALID_COMMAND', 'not an object');
  if (c.v !== 1) problems.push('v must be 1');
  if (c.kind !== 'business' && c.kind !== 'personal') problems.push('kind must be business or personal');
  if (typeof c.card_id !== 'string' || c.card_id.length === 0 || c.card_id.length > 64)
    problems.push('card_id');
  if (!isToken(c.card_token))
    problems.push(`card_token must be 1-${MARQETA_TOKEN_MAX_LENGTH} token characters`);
  if (!isToken(c.user_token))
    problems.push(`user_token must be 1-${MARQETA_TOKEN_MAX_LENGTH} token characters`);
  if (c.card_product_token !== undefined && !isToken(c.card_product_token))
    problems.push('card_product_token');
  if (typeof c.requested_at_ms !== 'number' || !Number.isSafeInteger(c.requested_at_ms))
    problems.push('requested_at_ms');
  if (problems.length > 0) throw new CardIssueError('MQ_ERR_INVALID_COMMAND', problems.join('; '));
  return c as CardIssueCommand;
}

/** Client-chosen token of the activation that follows issuance (at most 36 characters). */
export function activationToken(card_token: string): string {
  return `act_${createHash('sha256').update(`issue-activate:${card_token}`).digest('hex').slice(0, 32)}`;
}

interface OurCard {
  readonly status: string;
  readonly company_id: string | null;
  readonly email: string | undefined;
}

export interface CardIssueConsumerOptions {
  readonly marqeta: MarqetaClient;
  readonly redis: Redis;
  readonly key_layout: KeyLayout;
  readonly default_card_product_token: string;
  /** Tests use a queue of their own with short delays; production uses the defaults. */
  readonly queue?: string;
  readonly retry_delays_ms?: readonly number[];
}

export class CardIssueConsumer implements ConsumerHandle {
  readonly name = 'marqeta-card-issue';
  /** Resolves once the queue is declared and consumption has started. */
  readonly ready: Promise<void>;
  readonly #deps: Omit<WorkerDeps, 'config' | 'document_lock_sql'>;
  readonly #options: CardIssueConsumerOptions;
  readonly #queue: string;
  readonly #retry: RetryPath;
  readonly #events: Publisher;
  readonly #consumer: ReturnType<WorkerDeps['rabbit']['createConsumer']>;
  #consuming = false;

  constructor(deps: Omit<WorkerDeps, 'config' | 'document_lock_sql'>, options: CardIssueConsumerOptions) {
    this.#deps = deps;
    this.#options = options;
    this.#queue = options.queue ?? QUEUE_MARQETA;
    const retry_delays_ms = options.retry_delays_ms ?? RETRY_DELAYS_MS[QUEUE_MARQETA]!;
    this.#retry = new RetryPath(deps.rabbit, this.#queue, retry_delays_ms);
    this.#events = deps.rabbit.createPublisher({
      confirm: true,
      maxAttempts: PUBLISH_ATTEMPTS_MAX,
      exchanges: exchanges.map((e) => ({ ...e })),
    });
    const [declaration] = workQueueDeclarations(this.#queue, retry_delays_ms);
    const bindings = queueBindings.filter((b) => b.queue === this.#queue);
    this.#consumer = deps.rabbit.createConsumer(
      {
        queue: this.#queue,
        queueOptions: { ...declaration!, arguments: { ...declaration!.arguments } },
        exchanges: bindings.length > 0 ? exchanges.map((e) => ({ ...e })) : [],
        queueBindings: bindings.map((b) => ({ ...b })),
        qos: { prefetchCount: PREFETCH },
        concurrency: CONCURRENCY,
        requeue: true,
      },
      (message) => this.#handle(message),
    );
    // 'ready' comes again after every reconnect.
    this.#consumer.on('ready', () => {
      this.#consuming = true;
    });
    this.ready = new Promise((resolve) => this.#consumer.once('ready', () => resolve()));
    this.#consumer.on('error', (error) =>
      deps.log.error({ err: error, queue: this.#queue }, 'card-issue consumer error'),
    );
  }

  isReady(): boolean {
    return this.#consuming && this.#deps.rabbit.ready;
  }

  async close(): Promise<void> {
    this.#consuming = false;
    await this.#consumer.close();
    await Promise.all([this.#retry.close(), this.#events.close()]);
  }

  async #handle(message: AsyncMessage): Promise<ConsumerStatus> {
    const labels = { queue: this.#queue };
    try {
      // Other command kinds may share the queue later; this consumer knows this one only
      // (a message published straight to the queue, by a test or a replay, is taken as one).
      const routing_key = String(message.headers?.[HEADER_ORIGINAL_ROUTING_KEY] ?? message.routingKey);
      if (routing_key !== CARD_ISSUE_ROUTING_KEY && message.routingKey !== this.#queue) {
        throw new CardIssueError('MQ_ERR_INVALID_COMMAND', `unknown routing key ${routing_key}`);
      }
      await this.#issue(parseCardIssueCommand(message.body));
      this.#deps.metrics.processed.inc(labels);
    } catch (error) {
      const permanent =
        error instanceof CardIssueError ||
        error instanceof SyntaxError ||
        (error instanceof MarqetaError && !error.retryable);
      // Throws when the republish is not confirmed: the message is then requeued, never lost.
      const hop = await this.#retry.fail(message, error, permanent);
      (hop.dead ? this.#deps.metrics.dead_letters : this.#deps.metrics.retries).inc(labels);
      this.#deps.log.warn(
        { message_id: message.messageId, attempt: hop.attempt, to: hop.queue, reason: failureReason(error) },
        hop.dead ? 'card-issue command dead-lettered' : 'card-issue command sent to retry',
      );
    }
    return ConsumerStatus.ACK;
  }

  async #issue(command: CardIssueCommand): Promise<void> {
    const log_fields = {
      card_id: command.card_id,
      card_token: maskToken(command.card_token),
      kind: command.kind,
    };
    const card = await this.#ourCard(command);
    if (card.status !== 'pending' && card.status !== 'active') {
      // Suspended or closed while the command waited: the operator's later decision stands.
      this.#deps.log.warn(
        { ...log_fields, status: card.status },
        'card-issue command for a card no longer pending; skipped',
      );
      return;
    }
    const { marqeta } = this.#options;
    await marqeta.createUser({
      token: command.user_token,
      ...(card.email ? { email: card.email } : {}),
      metadata: { program_kind: command.kind },
    });
    const issued = await marqeta.issueCard({
      token: command.card_token,
      user_token: command.user_token,
      card_product_token: command.card_product_token ?? this.#options.default_card_product_token,
      metadata: { card_id: command.card_id },
    });
    // Some card products activate on issue; the others need the transition.
    if (issued.state !== 'ACTIVE') {
      await marqeta.activateCard({
        token: activationToken(command.card_token),
        card_token: command.card_token,
      });
    }
    await this.#markActive(command);
    await this.#options.redis.del(
      decisionKeys(this.#options.key_layout, command.user_token, command.card_token, '').card,
    );
    const event: CardActivatedEvent = {
      v: 1,
      kind: command.kind,
      card_id: command.card_id,
      card_token: command.card_token,
      user_token: command.user_token,
      company_id: card.company_id,
      last_four: issued.last_four,
      activated_at_ms: Date.now(),
    };
    await this.#events.send(
      {
        exchange: EXCHANGE_EVENTS,
        routingKey: CARD_ACTIVATED_ROUTING_KEY,
        durable: true,
        contentType: 'application/json',
        // Fixed per card: a redone command repeats the event, and receivers see one id.
        messageId: `card.activated:${command.card_id}`,
        timestamp: Math.floor(event.activated_at_ms / 1000),
      },
      event,
    );
    this.#deps.log.info(
      { ...log_fields, last_four: issued.last_four },
      'card issued at Marqeta and activated',
    );
  }

  async #ourCard(command: CardIssueCommand): Promise<OurCard> {
    if (command.kind === 'business') {
      const rows = await timed(
        this.#deps.log,
        'marqeta.load_business_card',
        () =>
          this.#deps.sql<Array<{ status: string; company_id: string; email: string; user_token: string }>>`
          SELECT c.status, u.company_id, u.email, u.user_token
            FROM cards c JOIN users u ON u.id = c.user_id
           WHERE c.id = ${command.card_id} AND c.card_token = ${command.card_token}`,
      );
      const row = rows[0];
      if (row === undefined || row.user_token !== command.user_token) {
        throw new CardIssueError('MQ_ERR_CARD_NOT_FOUND', `business card ${command.card_id}`);
      }
      return { status: row.status, company_id: row.company_id, email: row.email };
    }
    if (!ObjectId.isValid(command.card_id))
      throw new CardIssueError('MQ_ERR_CARD_NOT_FOUND', `personal card ${command.card_id}`);
    const db = this.#deps.mongo.db();
    const card = await db
      .collection<{ _id: ObjectId; user_id: ObjectId; card_token: string; status: string }>('personal_cards')
      .findOne({ _id: new ObjectId(command.card_id), card_token: command.card_token });
    const user =
      card === null
        ? null
        : await db
            .collection<{ _id: ObjectId; user_token: string; email?: string }>('personal_users')
            .findOne({ _id: card.user_id });
    if (card === null || user === null || user.user_token !== command.user_token) {
      throw new CardIssueError('MQ_ERR_CARD_NOT_FOUND', `personal card ${command.card_id}`);
    }
    return { status: card.status, company_id: null, email: user.email };
  }

  async #markActive(command: CardIssueCommand): Promise<void> {
    if (command.kind === 'business') {
      // version moves with every change the API's optimistic concurrency (ETag) must notice.
      await timed(
        this.#deps.log,
        'marqeta.activate_business_card',
        () =>
          this.#deps.sql`
          UPDATE cards SET status = 'active', version = version + 1, updated_at = now()
           WHERE id = ${command.card_id} AND status = 'pending'`,
      );
      return;
    }
    await this.#deps.mongo
      .db()
      .collection('personal_cards')
      .updateOne(
        { _id: new ObjectId(command.card_id), status: 'pending' },
        { $set: { status: 'active', updated_at: new Date() }, $inc: { version: 1 } },
      );
  }
}

/** The worker's card-issue consumer on afc.marqeta, from its config (see worker/consumers.ts). */
export function startCardIssueConsumer(deps: WorkerDeps): ConsumerHandle {
  const { config, log } = deps;
  const marqeta = new MarqetaClient(marqetaClientOptions(config, log, deps.metrics.marqeta_calls));
  const redis = connectRedis({
    url: config.redis_url,
    cluster_nodes: config.redis_cluster_nodes,
    connection_name: 'afc-worker-marqeta',
    command_timeout_ms: REDIS_COMMAND_TIMEOUT_MS,
  });
  redis.on('error', (error) => log.warn({ err: error }, 'card-issue redis error'));
  // Not awaited: a cache delete that fails while Redis is away fails the command, which is retried.
  redis
    .connect()
    .catch((error: unknown) => log.warn({ err: error }, 'card-issue redis not reachable at start'));
  const consumer = new CardIssueConsumer(deps, {
    marqeta,
    redis,
    key_layout: { prefix: config.redis_key_prefix, shards: config.redis_shards },
    default_card_product_token: config.marqeta_card_product_token,
  });
  return {
    name: consumer.name,
    isReady: () => consumer.isReady(),
    async close() {
      await consumer.close();
      await Promise.allSettled([marqeta.close(), redis.quit()]);
    },
  };
}
