// POST /api/webhooks/marqeta: Marqeta's notifications (what really happened to each
// transaction). Basic auth, plus an HMAC of the raw body when a secret is configured.
// Each transaction notification is deduplicated by its event token, its ledger consequences
// (timed-out or declined holds released, stand-in approvals booked) run through the decision
// script, and the notification goes to the worker through RabbitMQ (confirmed) for storage
// and reconciliation. Answered 200 quickly; 503 when the ledger or the broker is unavailable,
// so Marqeta retries (it does for up to 12 days).

import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { DecisionStatus, statusInfo } from '../../shared/decision-status.ts';
import { ApiError } from '../../shared/errors.ts';
import { maskToken } from '../../shared/logger.ts';
import type { DecisionRequest, MarqetaNotificationEvent } from '../../shared/messages.ts';
import { MoneyError, toMinor } from '../../shared/money.ts';
import {
  bookedRetainedScore,
  type DecisionKeys,
  decisionKeys,
  type KeyLayout,
} from '../../shared/redis-keys.ts';
import { standinAction } from '../../shared/standin-action.ts';
import type { Decider } from '../decide/decider.ts';
import { ledgerCommandRequest } from '../decide/ledger-command.ts';
import { basicAuthVerifier } from '../http/basic-auth.ts';
import {
  ledgerCommands,
  notificationEventToken,
  type LedgerCommand,
  type MarqetaTransaction,
} from '../webhooks/notification-ledger.ts';
import { NotificationBody } from '../webhooks/notification-schema.ts';
import { type HmacAlgorithm, signatureMatches } from '../webhooks/signature.ts';

/** Marqeta retries a notification for up to 12 days: remember what we processed a bit longer. */
const DEDUPE_TTL_S = 14 * 24 * 3600;

export interface MarqetaWebhookOptions {
  readonly decider: Decider;
  readonly redis: Redis;
  readonly layout: KeyLayout;
  /** The decision records' window (IDEMPOTENCY_TTL_S): booked-stand-in markers outlive it. */
  readonly idempotency_ttl_s: number;
  readonly publish: (event: MarqetaNotificationEvent) => Promise<void>;
  readonly program_time_zone: string;
  readonly user: string;
  readonly password: string;
  /** Accepted as well during a password rotation (docs/operations.md). */
  readonly password_next: string | null;
  readonly hmac_secret: string | null;
  readonly signature_header: string;
  readonly hmac_algorithm: HmacAlgorithm;
}

declare module 'fastify' {
  interface FastifyRequest {
    raw_body?: Buffer;
  }
}

function commandRequest(command: LedgerCommand, now_ms: number, time_zone: string): DecisionRequest {
  return ledgerCommandRequest(
    { ...command, amount_minor: toMinor(command.amount, command.currency_code) },
    now_ms,
    time_zone,
  );
}

/** Writes a booked stand-in's marker and lists it for the trim, in one transaction (one slot). */
async function bookMarker(
  options: MarqetaWebhookOptions,
  keys: DecisionKeys,
  action: string,
  now_ms: number,
): Promise<void> {
  const replies = await options.redis
    .multi()
    .set(keys.booked, action)
    .zadd(keys.retained, bookedRetainedScore(now_ms, options.idempotency_ttl_s), keys.booked)
    .exec();
  const failed = replies?.find(([error]) => error !== null)?.[0];
  if (replies === null || failed) throw failed ?? new Error('stand-in marker transaction aborted');
}

export async function marqetaWebhookRoute(
  app: FastifyInstance,
  options: MarqetaWebhookOptions,
): Promise<void> {
  const verify = basicAuthVerifier(options.user, options.password, options.password_next);
  // Encapsulated: only this route keeps the raw bytes (the signature is over them).
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    request.raw_body = body as Buffer;
    try {
      done(null, JSON.parse((body as Buffer).toString('utf8')));
    } catch {
      done(new ApiError('GW_ERR_BAD_REQUEST', 'The body is not valid JSON.'), undefined);
    }
  });

  app.post(
    '/api/webhooks/marqeta',
    {
      schema: {
        // Typed fields: an operator object where a token is expected is a 400 (was passed on).
        body: NotificationBody,
      },
      onRequest: async (request) => {
        if (!verify(request.headers.authorization)) throw new ApiError('GW_ERR_UNAUTHORIZED');
      },
      preValidation: async (request) => {
        if (options.hmac_secret === null) return;
        const header = request.headers[options.signature_header];
        const value = Array.isArray(header) ? header[0] : header;
        if (
          !signatureMatches(
            request.raw_body ?? Buffer.alloc(0),
            value,
            options.hmac_secret,
            options.hmac_algorithm,
          )
        ) {
          throw new ApiError('GW_ERR_UNAUTHORIZED', 'The webhook signature does not match.');
        }
      },
    },
    async (request, reply) => {
      const transactions = (
        (request.body as { transactions?: MarqetaTransaction[] }).transactions ?? []
      ).filter((t) => typeof t === 'object' && t !== null);
      let processed = 0;
      let duplicates = 0;
      try {
        for (const txn of transactions) {
          const event_token = notificationEventToken(txn);
          const marker = `${options.layout.prefix}:webhook:${event_token}`;
          if ((await options.redis.exists(marker)) === 1) {
            duplicates++;
            continue;
          }
          const actions: string[] = [];
          for (const command of ledgerCommands(txn)) {
            // A stand-in booked before stays booked once, even past the decision record's window
            // (a later state of the same transaction repeats the stand-in fields). The marker is
            // money state: no TTL (never evicted), trimmed by age through the shard's `retained` set.
            const keys = decisionKeys(
              options.layout,
              command.user_token,
              command.card_token,
              command.jit_token,
            );
            const booked_marker = keys.booked;
            if (command.action === 'book_standin') {
              const booked = await options.redis.get(booked_marker);
              if (booked !== null) {
                actions.push(booked);
                continue;
              }
              // Our answer never reached Marqeta: an approval Redis made for the token is undone.
              if (command.supersedes !== undefined)
                await options.decider.supersede(
                  commandRequest(
                    { ...command, jit_token: command.supersedes },
                    Date.now(),
                    options.program_time_zone,
                  ),
                );
            }
            const outcome = await options.decider.decide(
              commandRequest(command, Date.now(), options.program_time_zone),
              { partial_capable: false, ledger_command: true },
            );
            if (
              outcome.status_code === DecisionStatus.SYSTEM_ERROR ||
              outcome.status_code === DecisionStatus.TIMEOUT
            ) {
              throw new ApiError('GW_ERR_UNAVAILABLE', 'The ledger is unavailable; retry later.');
            }
            if (command.action === 'book_standin' && outcome.status_code !== DecisionStatus.APPROVED) {
              // Nothing to book (a card we do not know): recorded as such, never as a booking.
              actions.push(`book_standin_refused:${statusInfo(outcome.status_code).memo}`);
            } else if (command.action === 'book_standin') {
              // The script reports the part booked beyond the card's limits or balance in
              // available_minor; a replay reports it again (same record), but counts once.
              const action = standinAction(outcome.amount_minor, outcome.available_minor);
              await bookMarker(options, keys, action, Date.now());
              actions.push(action);
              if (!outcome.replayed)
                options.decider.undecided.standinBooked(outcome.available_minor, command.currency_code);
            } else {
              actions.push(`${command.action}:${outcome.amount_minor}`);
            }
            request.log.info(
              {
                action: command.action,
                jit_token: command.jit_token,
                card_token: maskToken(command.card_token),
              },
              'marqeta notification applied to the ledger',
            );
          }
          await options.publish({
            v: 1,
            event_token,
            kind: 'transaction',
            received_at_ms: Date.now(),
            ledger_actions: actions,
            payload: txn as Record<string, unknown>,
          });
          // Marked only once stored: a crash before this makes Marqeta's retry redo it (idempotent).
          await options.redis.set(marker, '1', 'EX', DEDUPE_TTL_S);
          processed++;
        }
      } catch (error) {
        if (error instanceof ApiError) throw error;
        // An amount the currency cannot hold: no retry can fix it, so not a 503 (found by fuzzing).
        if (error instanceof MoneyError) throw new ApiError('GW_ERR_BAD_REQUEST', error.message);
        request.log.error({ err: error }, 'marqeta notification not stored; asking Marqeta to retry');
        throw new ApiError(
          'GW_ERR_UNAVAILABLE',
          'Temporarily unable to store the notification; retry later.',
        );
      }
      return reply.status(200).send({ received: transactions.length, processed, duplicates });
    },
  );
}
