// Transactions with their decision trace: business from PostgreSQL, personal from MongoDB
// (listed through their keys in PostgreSQL, then read by `_id`). The filters say which store:
// a personal card or user id (ObjectId) means MongoDB. A business transaction's id is a uuid;
// a personal one's is its JIT token (an ObjectId for documents of old builds).

import type { Db } from 'mongodb';
import { statusInfo } from '../../shared/decision-status.ts';
import { ApiError } from '../../shared/errors.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { Principal } from '../auth/api-keys.ts';
import { listPersonalTransactionKeys } from '../../shared/personal-transaction-keys.ts';
import { isProgramKey, requireProgramKey, requireVisible } from '../http/authenticate.ts';
import { PERSONAL_TRANSACTION_ID, UUID_ID, decodeCursor, pageOf, type Page } from '../http/pagination.ts';
import { getBusinessTransaction, listBusinessTransactions } from '../repos/business-transactions.ts';
import { getPersonalTransaction, personalTransactionsByIds } from '../repos/personal-transactions.ts';
import type { CardService } from './card-service.ts';
import { kindOfId } from './card-service.ts';
import type { CardholderService } from './cardholder-service.ts';
import type { TransactionRecord } from './transaction-model.ts';

const NO_SUCH_TRANSACTION = 'No such transaction.';

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
    // A JIT token may itself be a uuid: a uuid is looked for in both stores.
    if (UUID_ID.test(id)) {
      const business = await getBusinessTransaction(this.#sql, id);
      if (business !== null) {
        requireVisible(principal, business.company_id, NO_SUCH_TRANSACTION);
        return business;
      }
    }
    requireVisible(principal, null, NO_SUCH_TRANSACTION);
    const personal = await getPersonalTransaction(this.#db, id);
    if (personal === null) throw new ApiError('API_ERR_NOT_FOUND', NO_SUCH_TRANSACTION);
    return personal;
  }

  async list(principal: Principal, query: ListTransactionsInput): Promise<Page<TransactionRecord>> {
    const by = query.card_id ?? query.user_id;
    const kind = by !== undefined ? kindOfId(by) : (query.kind ?? 'business');
    const limit = query.limit ?? 50;
    const from = query.from === undefined ? undefined : new Date(query.from);
    const to = query.to === undefined ? undefined : new Date(query.to);
    // The card or user named in the filter: 404 when unknown or another tenant's.
    if (query.card_id !== undefined) await this.#cards.get(principal, query.card_id);
    if (query.user_id !== undefined) {
      if (kind === 'personal') await this.#cardholders.getPersonalUser(principal, query.user_id);
      else await this.#cardholders.getBusinessUser(principal, query.user_id);
    }
    if (query.company_id !== undefined) requireVisible(principal, query.company_id, 'No such company.');
    if (kind === 'personal') {
      requireProgramKey(principal);
      const keys = await listPersonalTransactionKeys(
        this.#sql,
        { card_id: query.card_id, user_id: query.user_id, from, to },
        decodeCursor(query.cursor, PERSONAL_TRANSACTION_ID),
        limit,
      );
      // The cursor follows the keys, so a key whose document is not written yet ends no page early.
      const page = pageOf(
        keys,
        limit,
        (k) => ({ at: k.cursor_at, id: k.transaction_id }),
        (k) => k.transaction_id,
      );
      return { data: await personalTransactionsByIds(this.#db, page.data), next_cursor: page.next_cursor };
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
