// Transactions with their decision trace: business from PostgreSQL, personal from MongoDB.
// The filters say which store: a personal card or user id (ObjectId) means MongoDB.

import type { Db } from 'mongodb';
import { statusInfo } from '../../shared/decision-status.ts';
import { ApiError } from '../../shared/errors.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { Principal } from '../auth/api-keys.ts';
import { isProgramKey, requireCompanyAccess, requireProgramKey } from '../http/authenticate.ts';
import { OBJECT_ID, UUID_ID, decodeCursor, pageOf, type Page } from '../http/pagination.ts';
import { getBusinessTransaction, listBusinessTransactions } from '../repos/business-transactions.ts';
import { getPersonalTransaction, listPersonalTransactions } from '../repos/personal-transactions.ts';
import type { CardService } from './card-service.ts';
import { kindOfId } from './card-service.ts';
import type { CardholderService } from './cardholder-service.ts';
import type { TransactionRecord } from './transaction-model.ts';

export interface ListTransactionsInput {
  readonly card_id?: string;
  readonly user_id?: string;
  readonly company_id?: string;
  readonly kind?: 'business' | 'personal';
  readonly from?: string;
  readonly to?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

/** The status code's stable name, or UNKNOWN for a code this build does not know. */
export function statusName(code: number): string {
  try {
    return statusInfo(code).name;
  } catch {
    return 'UNKNOWN';
  }
}

export class TransactionService {
  readonly #sql: PgSql;
  readonly #db: Db;
  readonly #cards: CardService;
  readonly #cardholders: CardholderService;

  constructor(sql: PgSql, db: Db, cards: CardService, cardholders: CardholderService) {
    this.#sql = sql;
    this.#db = db;
    this.#cards = cards;
    this.#cardholders = cardholders;
  }

  async get(principal: Principal, id: string): Promise<TransactionRecord> {
    if (OBJECT_ID.test(id)) {
      requireProgramKey(principal);
      const found = await getPersonalTransaction(this.#db, id);
      if (found === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such transaction.');
      return found;
    }
    const found = await getBusinessTransaction(this.#sql, id);
    if (found === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such transaction.');
    requireCompanyAccess(principal, found.company_id);
    return found;
  }

  async list(principal: Principal, query: ListTransactionsInput): Promise<Page<TransactionRecord>> {
    const by = query.card_id ?? query.user_id;
    const kind = by !== undefined ? kindOfId(by) : (query.kind ?? 'business');
    const limit = query.limit ?? 50;
    const from = query.from === undefined ? undefined : new Date(query.from);
    const to = query.to === undefined ? undefined : new Date(query.to);
    // Ownership of the card or user named in the filter (403 across tenants, 404 unknown).
    if (query.card_id !== undefined) await this.#cards.get(principal, query.card_id);
    if (query.user_id !== undefined) {
      if (kind === 'personal') await this.#cardholders.getPersonalUser(principal, query.user_id);
      else await this.#cardholders.getBusinessUser(principal, query.user_id);
    }
    if (query.company_id !== undefined) requireCompanyAccess(principal, query.company_id);
    if (kind === 'personal') {
      requireProgramKey(principal);
      const rows = await listPersonalTransactions(
        this.#db,
        { card_id: query.card_id, user_id: query.user_id, from, to },
        decodeCursor(query.cursor, OBJECT_ID),
        limit,
      );
      return pageOf(
        rows,
        limit,
        (t) => ({ at: t.cursor_at, id: t.id }),
        (t) => t,
      );
    }
    const company_id = isProgramKey(principal) ? query.company_id : principal.company_id!;
    const rows = await listBusinessTransactions(
      this.#sql,
      { card_id: query.card_id, user_id: query.user_id, company_id, from, to },
      decodeCursor(query.cursor, UUID_ID),
      limit,
    );
    return pageOf(
      rows,
      limit,
      (t) => ({ at: t.cursor_at, id: t.id }),
      (t) => t,
    );
  }
}
