// Marqeta's Commando Mode, as the fake Marqeta (server.ts) and the traffic simulator
// (bench/simulator/commando.ts) play it. When our gateway does not decide a JIT request (no
// connection, an HTTP 5xx application error, or no answer within 3 s) Marqeta decides by the
// program's stand-in rules and tells us afterwards with a transaction notification carrying
// `standin_approved_by: COMMANDO_AUTO` and `subnetwork: MANAGED_JIT` (../shared/marqeta-jit.md,
// marqeta.com/docs/core-api/commando-mode). Webhook deliveries without a 200 are retried (Marqeta
// retries for up to 12 days; here with a capped backoff until the sender is closed).
//
// Stand-in rules (configurable): `decline`, or `approve:<minor units>` (approve a purchase up to
// that amount, decline above it). A stand-in rule knows nothing of our limits or balances.
// Only purchases are stood in for (authorization, incremental, auth_plus_capture): what
// Marqeta does with an undecided reversal, clearing or refund is not documented, so the fake
// sends nothing for them.

import { setTimeout as sleep } from 'node:timers/promises';
import { request as httpRequest } from 'undici';

/** Marqeta declines (or stands in) when we have not answered within 3 s. */
export const MARQETA_TIMEOUT_MS = 3_000;
const DELIVERY_RETRY_MS_MIN = 100;
const DELIVERY_RETRY_MS_MAX = 2_000;
const DELIVERY_TIMEOUT_MS = 5_000;

export type StandinRule =
  | { readonly kind: 'decline' }
  | { readonly kind: 'approve'; readonly up_to_minor: bigint };

/** `decline` or `approve:<minor units>`. */
export function parseStandinRule(text: string): StandinRule {
  if (text === 'decline') return { kind: 'decline' };
  const match = /^approve:(\d{1,15})$/.exec(text);
  if (match === null)
    throw new RangeError(`stand-in rule must be "decline" or "approve:<minor>" (got "${text}")`);
  return { kind: 'approve', up_to_minor: BigInt(match[1]!) };
}

/** Methods Commando stands in for: purchases, whose approval moves money. */
const STOOD_IN_METHODS: ReadonlySet<string> = new Set([
  'pgfs.authorization',
  'pgfs.authorization.incremental',
  'pgfs.auth_plus_capture',
]);

/**
 * Did our gateway leave this request undecided? status_code null: no HTTP answer (connection
 * error, reset, timeout).
 */
export function isUndecided(status_code: number | null, elapsed_ms: number): boolean {
  return status_code === null || status_code >= 500 || elapsed_ms > MARQETA_TIMEOUT_MS;
}

/** The JIT request fields a stand-in decision and its notification need. */
export interface JitSummary {
  readonly transaction_token: string;
  readonly jit_token: string;
  readonly method: string;
  readonly card_token: string;
  readonly user_token: string;
  /** Marqeta's decimal amount, as sent. */
  readonly amount: number | string;
  readonly amount_minor: bigint;
  readonly currency_code: string;
  readonly original_jit_token: string | null;
}

interface JitBody {
  token?: string;
  card_token?: string;
  user_token?: string;
  currency_code?: string;
  gpa_order?: { jit_funding?: JitFundingBody };
  gpa_order_unload?: { jit_funding?: JitFundingBody };
}
interface JitFundingBody {
  token?: string;
  method?: string;
  user_token?: string;
  amount?: number | string;
  original_jit_funding_token?: string;
}

/** Reads a JIT request body (as sent to the gateway); null when it is no JIT message. */
export function jitSummary(body: unknown, amount_minor: bigint): JitSummary | null {
  const jit_body = body as JitBody;
  const jit = (jit_body.gpa_order ?? jit_body.gpa_order_unload)?.jit_funding;
  if (!jit?.token || !jit.method || !jit_body.card_token || !jit_body.token || jit.amount === undefined)
    return null;
  return {
    transaction_token: jit_body.token,
    jit_token: jit.token,
    method: jit.method,
    card_token: jit_body.card_token,
    user_token: jit_body.user_token ?? jit.user_token ?? '',
    amount: jit.amount,
    amount_minor,
    currency_code: jit_body.currency_code ?? 'USD',
    original_jit_token: jit.original_jit_funding_token ?? null,
  };
}

/** The stand-in decision: true approves, false declines, null when Commando does not stand in. */
export function standIn(rule: StandinRule, summary: JitSummary): boolean | null {
  if (!STOOD_IN_METHODS.has(summary.method)) return null;
  return rule.kind === 'approve' && summary.amount_minor > 0n && summary.amount_minor <= rule.up_to_minor;
}

/** The transaction notification Marqeta sends for a stood-in request. */
export function standinNotification(summary: JitSummary, approved: boolean): Record<string, unknown> {
  return {
    token: summary.transaction_token,
    type: summary.method === 'pgfs.authorization.incremental' ? 'authorization.incremental' : 'authorization',
    state: approved ? 'PENDING' : 'DECLINED',
    card_token: summary.card_token,
    user_token: summary.user_token,
    amount: summary.amount,
    currency_code: summary.currency_code,
    subnetwork: 'MANAGED_JIT',
    standin_approved_by: 'COMMANDO_AUTO',
    created_time: new Date().toISOString(),
    gpa_order: {
      jit_funding: {
        token: summary.jit_token,
        method: summary.method,
        user_token: summary.user_token,
        amount: summary.amount,
        ...(summary.original_jit_token ? { original_jit_funding_token: summary.original_jit_token } : {}),
      },
    },
  };
}

/** POSTs JSON as Marqeta does: the HTTP status, or null when no answer came (refused, reset, timed out). */
export async function postJson(
  url: string,
  authorization: string,
  body: unknown,
  timeout_ms: number,
): Promise<number | null> {
  try {
    const response = await httpRequest(url, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      headersTimeout: timeout_ms,
      bodyTimeout: timeout_ms,
    });
    await response.body.dump();
    return response.statusCode;
  } catch {
    return null;
  }
}

export interface WebhookTarget {
  /** Our notification endpoint, e.g. http://127.0.0.1:8080/api/webhooks/marqeta */
  readonly url: string;
  readonly user: string;
  readonly password: string;
}

export interface DeliveryCounts {
  readonly queued: number;
  readonly delivered: number;
  /** Answers other than 200 and connection errors, each retried. */
  readonly retried: number;
}

/** Delivers notifications one at a time, in order, each retried until our webhook answers 200. */
export class NotificationSender {
  readonly #target: WebhookTarget;
  readonly #queue: Record<string, unknown>[] = [];
  #delivered = 0;
  #retried = 0;
  #running: Promise<void> | null = null;
  #closed = false;

  constructor(target: WebhookTarget) {
    this.#target = target;
  }

  send(transaction: Record<string, unknown>): void {
    if (this.#closed) throw new Error('notification sender closed');
    this.#queue.push(transaction);
    this.#running ??= this.#run().finally(() => {
      this.#running = null;
    });
  }

  counts(): DeliveryCounts {
    return { queued: this.#queue.length, delivered: this.#delivered, retried: this.#retried };
  }

  /** Resolves once everything queued was delivered (or the sender was closed). */
  async drained(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  /** Stops retrying; what is still queued is dropped. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.drained();
  }

  async #run(): Promise<void> {
    const authorization = `Basic ${Buffer.from(`${this.#target.user}:${this.#target.password}`).toString('base64')}`;
    let attempt = 0;
    while (this.#queue.length > 0 && !this.#closed) {
      const transaction = this.#queue[0]!;
      const status = await postJson(
        this.#target.url,
        authorization,
        { transactions: [transaction] },
        DELIVERY_TIMEOUT_MS,
      );
      if (status === 200) {
        this.#queue.shift();
        this.#delivered++;
        attempt = 0;
        continue;
      }
      this.#retried++;
      attempt++;
      await sleep(Math.min(DELIVERY_RETRY_MS_MAX, DELIVERY_RETRY_MS_MIN * 2 ** (attempt - 1)));
    }
  }
}
