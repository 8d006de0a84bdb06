// Registered webhook endpoints (PostgreSQL webhook_endpoints), read through a short-lived
// in-memory snapshot so a stream of events costs one query per TTL, not one per event; and
// the company of a business card, for company-scoped endpoints (a card never changes company).

import type { Logger } from '../../shared/logger.ts';
import { type PgSql, timed } from '../../shared/stores/postgres.ts';
import { ACTIVE_ENDPOINTS_MAX } from '../../shared/webhooks/decision-binding.ts';

export interface WebhookEndpoint {
  readonly id: string;
  readonly company_id: string | null;
  readonly url: string;
  readonly secret: string;
  /** The secret before the last rotation, still signed with until previous_secret_expires_at. */
  readonly previous_secret: string | null;
  readonly previous_secret_expires_at: Date | null;
  readonly event_types: readonly string[];
}

/** The secrets to sign with at now_ms: the current one, and the previous one inside its overlap. */
export function signingSecrets(endpoint: WebhookEndpoint, now_ms: number = Date.now()): string[] {
  const previous_valid =
    endpoint.previous_secret !== null &&
    endpoint.previous_secret_expires_at !== null &&
    endpoint.previous_secret_expires_at.getTime() > now_ms;
  return previous_valid ? [endpoint.secret, endpoint.previous_secret!] : [endpoint.secret];
}

/** Explicit bound: cached card -> company entries (active endpoints: ACTIVE_ENDPOINTS_MAX). */
const CARD_COMPANY_CACHE_MAX = 50_000;

export class EndpointDirectory {
  readonly #sql: PgSql;
  readonly #log: Logger;
  readonly #ttl_ms: number;
  #snapshot: { readonly at_ms: number; readonly endpoints: readonly WebhookEndpoint[] } | undefined;
  #loading: Promise<readonly WebhookEndpoint[]> | undefined;
  readonly #card_company = new Map<string, string | null>();

  /** ttl_ms 0 reads the table on every call (tests). */
  constructor(sql: PgSql, log: Logger, ttl_ms: number) {
    this.#sql = sql;
    this.#log = log;
    this.#ttl_ms = ttl_ms;
  }

  /** Active endpoints; concurrent callers after expiry share one query. */
  active(): Promise<readonly WebhookEndpoint[]> {
    const now_ms = Date.now();
    if (this.#snapshot && now_ms - this.#snapshot.at_ms < this.#ttl_ms)
      return Promise.resolve(this.#snapshot.endpoints);
    this.#loading ??= this.#load(now_ms).finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #load(now_ms: number): Promise<readonly WebhookEndpoint[]> {
    const rows = await timed(
      this.#log,
      'webhooks.active_endpoints',
      () =>
        this.#sql<WebhookEndpoint[]>`
        SELECT id, company_id, url, secret, previous_secret, previous_secret_expires_at, event_types
          FROM webhook_endpoints WHERE active ORDER BY created_at LIMIT ${ACTIVE_ENDPOINTS_MAX + 1}`,
    );
    if (rows.length > ACTIVE_ENDPOINTS_MAX) {
      this.#log.error(
        { limit: ACTIVE_ENDPOINTS_MAX },
        'too many active webhook endpoints; the newest are ignored',
      );
    }
    const endpoints = rows.slice(0, ACTIVE_ENDPOINTS_MAX);
    this.#snapshot = { at_ms: now_ms, endpoints };
    return endpoints;
  }

  /** One endpoint, active or not (a retry names it; it may have been deactivated since). */
  async byId(id: string): Promise<(WebhookEndpoint & { readonly active: boolean }) | undefined> {
    const rows = await timed(
      this.#log,
      'webhooks.endpoint_by_id',
      () =>
        this.#sql<Array<WebhookEndpoint & { active: boolean }>>`
        SELECT id, company_id, url, secret, previous_secret, previous_secret_expires_at, event_types, active
          FROM webhook_endpoints WHERE id = ${id}`,
    );
    return rows[0];
  }

  async companyOfBusinessCard(card_id: string): Promise<string | null> {
    const cached = this.#card_company.get(card_id);
    if (cached !== undefined) return cached;
    const rows = await timed(
      this.#log,
      'webhooks.card_company',
      () =>
        this.#sql<Array<{ company_id: string }>>`
        SELECT u.company_id FROM cards c JOIN users u ON u.id = c.user_id WHERE c.id = ${card_id}`,
    );
    const company_id = rows[0]?.company_id ?? null;
    if (this.#card_company.size >= CARD_COMPANY_CACHE_MAX) this.#card_company.clear();
    this.#card_company.set(card_id, company_id);
    return company_id;
  }
}
