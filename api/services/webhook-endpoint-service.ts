// Webhook endpoints: register (URL checked against the SSRF policy, secret generated and shown
// once), read, list, change, delete, rotate the secret, send a test event, read the delivery
// log and retry a delivery. A company key sees its own company's endpoints; any other
// endpoint, like an unknown one, is a 404.

import { randomBytes, randomUUID } from 'node:crypto';
import { ApiError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import type { PgSql, PgTx } from '../../shared/stores/postgres.ts';
import { parseEventBody, TEST_EVENT_TYPE } from '../../shared/webhooks/addressed-delivery.ts';
import { type DestinationGuard, DestinationRefusedError } from '../../shared/webhooks/destination.ts';
import type { Principal } from '../auth/api-keys.ts';
import type { WebhookCommandPublisher } from '../broker/webhook-commands.ts';
import { isProgramKey } from '../http/authenticate.ts';
import { decodeCursor, pageOf, PAGE_SIZE_DEFAULT, type Page, UUID_ID } from '../http/pagination.ts';
import { getCompany } from '../repos/companies.ts';
import {
  type DeliveryStatus,
  getWebhookDelivery,
  listWebhookDeliveries,
  type WebhookDeliveryRow,
} from '../repos/webhook-deliveries.ts';
import {
  countWebhookEndpoints,
  deleteWebhookEndpoint,
  getWebhookEndpoint,
  insertWebhookEndpoint,
  listWebhookEndpoints,
  rotateWebhookSecret,
  updateWebhookEndpoint,
  type WebhookEndpointChanges,
  type WebhookEndpointRow,
} from '../repos/webhook-endpoints.ts';

/** Endpoints one owner (a company, or the program) may have; the worker reads at most 1,000 in all. */
export const WEBHOOK_ENDPOINTS_PER_OWNER_MAX = 20;
const DELIVERY_ID = /^[1-9][0-9]{0,17}$/;

export interface CreateWebhookEndpointInput {
  readonly url: string;
  readonly company_id?: string | null;
  readonly description?: string;
  readonly event_types?: readonly string[];
  readonly active?: boolean;
}

/** whsec_ + 256 random bits. */
function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** Applies the webhook queue's decision binding in the transaction that changed endpoints. */
export type DecisionBindingApplier = (tx: PgTx) => Promise<unknown>;

export class WebhookEndpointService {
  readonly #sql: PgSql;
  readonly #guard: DestinationGuard;
  readonly #commands: WebhookCommandPublisher;
  readonly #bindDecisions: DecisionBindingApplier;
  readonly #log: Logger;

  constructor(
    sql: PgSql,
    guard: DestinationGuard,
    commands: WebhookCommandPublisher,
    bindDecisions: DecisionBindingApplier,
    log: Logger,
  ) {
    this.#sql = sql;
    this.#guard = guard;
    this.#commands = commands;
    this.#bindDecisions = bindDecisions;
    this.#log = log;
  }

  /**
   * Writes endpoints, then binds or unbinds the decisions of the webhook queue as the endpoints
   * now want, before commit: a broker that cannot bind rolls the change back (503), and the
   * decisions made after the answer reach a new endpoint.
   */
  async #changeEndpoints<T>(write: (tx: PgTx) => Promise<T>): Promise<T> {
    return (await this.#sql.begin(async (tx) => {
      const written = await write(tx);
      if (written === null || written === false) return written;
      try {
        await this.#bindDecisions(tx);
      } catch (error) {
        this.#log.error({ err: error }, 'webhook decision binding not applied; endpoint change rolled back');
        throw new ApiError(
          'API_ERR_UNAVAILABLE',
          'The webhook queue could not be set up for this change; nothing was changed. Retry shortly.',
        );
      }
      return written;
    })) as T;
  }

  async create(
    principal: Principal,
    input: CreateWebhookEndpointInput,
  ): Promise<{ row: WebhookEndpointRow; secret: string }> {
    const company_id = input.company_id === undefined ? principal.company_id : input.company_id;
    if (company_id === null && !isProgramKey(principal)) {
      throw new ApiError('API_ERR_FORBIDDEN', 'A program-wide endpoint needs a program-wide API key.');
    }
    // Another tenant's company is answered as an unknown one.
    const foreign = !isProgramKey(principal) && company_id !== principal.company_id;
    if (company_id !== null && (foreign || (await getCompany(this.#sql, company_id)) === null)) {
      throw new ApiError('API_ERR_BAD_REQUEST', undefined, [
        { path: 'body/company_id', message: 'is not a company' },
      ]);
    }
    const url = await this.#checkedUrl(input.url);
    if ((await countWebhookEndpoints(this.#sql, company_id)) >= WEBHOOK_ENDPOINTS_PER_OWNER_MAX) {
      throw new ApiError(
        'API_ERR_INVALID_TRANSITION',
        `An owner may have ${WEBHOOK_ENDPOINTS_PER_OWNER_MAX} webhook endpoints; delete one first.`,
      );
    }
    const secret = newSecret();
    const row = await this.#changeEndpoints((tx) =>
      insertWebhookEndpoint(tx, {
        id: randomUUID(),
        company_id,
        url,
        secret,
        description: input.description ?? null,
        event_types: input.event_types ?? [],
        active: input.active ?? true,
      }),
    );
    return { row, secret };
  }

  async get(principal: Principal, id: string): Promise<WebhookEndpointRow> {
    const row = await getWebhookEndpoint(this.#sql, id);
    // Another tenant's endpoint answers as an unknown one: a 403 would confirm that it exists.
    if (row === null || (!isProgramKey(principal) && row.company_id !== principal.company_id)) {
      throw new ApiError('API_ERR_NOT_FOUND', 'No such webhook endpoint.');
    }
    return row;
  }

  async list(
    principal: Principal,
    query: { company_id?: string; limit?: number; cursor?: string },
  ): Promise<Page<WebhookEndpointRow>> {
    const limit = query.limit ?? PAGE_SIZE_DEFAULT;
    const after = decodeCursor(query.cursor, UUID_ID);
    // A company key filtering on another company sees what it would for an unknown one: nothing.
    if (
      !isProgramKey(principal) &&
      query.company_id !== undefined &&
      query.company_id !== principal.company_id
    ) {
      return { data: [], next_cursor: null };
    }
    const rows = await listWebhookEndpoints(
      this.#sql,
      principal.company_id ?? query.company_id,
      after,
      limit,
    );
    return pageOf(
      rows,
      limit,
      (row) => ({ at: row.cursor_at, id: row.id }),
      (row) => row,
    );
  }

  async update(
    principal: Principal,
    id: string,
    changes: WebhookEndpointChanges,
  ): Promise<WebhookEndpointRow> {
    await this.get(principal, id);
    const url = changes.url === undefined ? undefined : await this.#checkedUrl(changes.url);
    const row = await this.#changeEndpoints((tx) =>
      updateWebhookEndpoint(tx, id, { ...changes, ...(url ? { url } : {}) }),
    );
    if (row === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such webhook endpoint.');
    return row;
  }

  async remove(principal: Principal, id: string): Promise<void> {
    await this.get(principal, id);
    if (!(await this.#changeEndpoints((tx) => deleteWebhookEndpoint(tx, id, newSecret())))) {
      throw new ApiError('API_ERR_NOT_FOUND', 'No such webhook endpoint.');
    }
  }

  async rotateSecret(
    principal: Principal,
    id: string,
    previous_valid_s: number,
  ): Promise<{ row: WebhookEndpointRow; secret: string }> {
    await this.get(principal, id);
    const secret = newSecret();
    const row = await rotateWebhookSecret(this.#sql, id, secret, previous_valid_s);
    if (row === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such webhook endpoint.');
    return { row, secret };
  }

  /** One attempt of a `webhook.test` event, whatever the endpoint's filter; see the delivery log. */
  async sendTest(principal: Principal, id: string): Promise<{ event_id: string; event_type: string }> {
    const endpoint = await this.get(principal, id);
    if (!endpoint.active) {
      throw new ApiError('API_ERR_INVALID_TRANSITION', 'The endpoint is inactive; activate it first.');
    }
    const event_id = `evt_test_${randomUUID()}`;
    await this.#commands.publish({
      endpoint_id: id,
      event_id,
      event_type: TEST_EVENT_TYPE,
      created_at: new Date().toISOString(),
      data: { endpoint_id: id, message: 'A test event sent through the management API.' },
      attempt_only: true,
    });
    return { event_id, event_type: TEST_EVENT_TYPE };
  }

  async listDeliveries(
    principal: Principal,
    id: string,
    query: { status?: DeliveryStatus; limit?: number; cursor?: string },
  ): Promise<Page<WebhookDeliveryRow>> {
    await this.get(principal, id);
    const limit = query.limit ?? PAGE_SIZE_DEFAULT;
    const rows = await listWebhookDeliveries(
      this.#sql,
      id,
      query.status,
      decodeCursor(query.cursor, DELIVERY_ID),
      limit,
    );
    return pageOf(
      rows,
      limit,
      (row) => ({ at: row.cursor_at, id: String(row.id) }),
      (row) => row,
    );
  }

  /**
   * Sends a delivery's event again now, with the same body. A dead delivery starts a fresh retry
   * window; a failed one (whose retries are still scheduled) gets one extra attempt.
   */
  async retryDelivery(principal: Principal, id: string, delivery_id: string): Promise<WebhookDeliveryRow> {
    const endpoint = await this.get(principal, id);
    const delivery = await getWebhookDelivery(this.#sql, id, delivery_id);
    if (delivery === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such delivery.');
    if (delivery.status === 'delivered') {
      throw new ApiError('API_ERR_INVALID_TRANSITION', 'The delivery was delivered; nothing to retry.');
    }
    if (!endpoint.active) {
      throw new ApiError('API_ERR_INVALID_TRANSITION', 'The endpoint is inactive; activate it first.');
    }
    const event = delivery.payload === null ? null : parseEventBody(delivery.payload);
    if (event === null) {
      throw new ApiError(
        'API_ERR_INVALID_TRANSITION',
        'This delivery predates kept event bodies; it cannot be resent.',
      );
    }
    await this.#commands.publish({
      endpoint_id: id,
      event_id: event.id,
      event_type: event.type,
      created_at: event.created_at,
      data: event.data,
      attempt_only: delivery.status !== 'dead',
    });
    return delivery;
  }

  /** The URL as registered, or a 400 naming why not (503 when its host cannot be looked up now). */
  async #checkedUrl(raw: string): Promise<string> {
    try {
      return (await this.#guard.check(raw)).href;
    } catch (error) {
      if (error instanceof DestinationRefusedError) {
        throw new ApiError('API_ERR_BAD_REQUEST', 'This webhook URL is not allowed.', [
          { path: 'body/url', message: error.message },
        ]);
      }
      throw new ApiError('API_ERR_UNAVAILABLE', 'The URL host could not be looked up; retry shortly.');
    }
  }
}
