// Companies, business users (PostgreSQL) and personal users with KYC (MongoDB). A status or
// KYC change reaches the gateway by deleting the cardholder's cached `user` part.

import { randomUUID } from 'node:crypto';
import type { Db } from 'mongodb';
import { ApiError } from '../../shared/errors.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import type { Principal } from '../auth/api-keys.ts';
import type { CacheInvalidator } from '../cache/invalidator.ts';
import { requireProgramKey, requireVisible } from '../http/authenticate.ts';
import { OBJECT_ID, UUID_ID, decodeCursor, pageOf, type Page } from '../http/pagination.ts';
import {
  getBusinessUser,
  insertBusinessUser,
  listBusinessUsers,
  updateBusinessUser,
  type BusinessUserRow,
  type BusinessUserStatus,
} from '../repos/business-users.ts';
import { getCompany, insertCompany, listCompanies, type CompanyRow } from '../repos/companies.ts';
import {
  getPersonalUser,
  insertPersonalUser,
  listPersonalUsers,
  updatePersonalUser,
  type KycStatus,
  type PersonalUserDocument,
  type PersonalUserStatus,
} from '../repos/personal-users.ts';

export interface PageInput {
  readonly limit?: number;
  readonly cursor?: string;
}

function newUserToken(): string {
  // Marqeta tokens are at most 36 characters.
  return `user_${randomUUID().replaceAll('-', '').slice(0, 31)}`;
}

export class CardholderService {
  readonly #sql: PgSql;
  readonly #db: Db;
  readonly #invalidator: CacheInvalidator;

  constructor(sql: PgSql, db: Db, invalidator: CacheInvalidator) {
    this.#sql = sql;
    this.#db = db;
    this.#invalidator = invalidator;
  }

  async createCompany(
    principal: Principal,
    input: { name: string; time_zone?: string; id?: string },
  ): Promise<CompanyRow> {
    requireProgramKey(principal);
    const time_zone = input.time_zone ?? 'UTC';
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: time_zone });
    } catch {
      throw new ApiError('API_ERR_BAD_REQUEST', undefined, [
        { path: 'body/time_zone', message: 'is not an IANA time zone' },
      ]);
    }
    return insertCompany(this.#sql, { id: input.id, name: input.name, time_zone });
  }

  async getCompany(principal: Principal, id: string): Promise<CompanyRow> {
    requireVisible(principal, id, 'No such company.');
    const company = await getCompany(this.#sql, id);
    if (company === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such company.');
    return company;
  }

  async listCompanies(principal: Principal, page: PageInput): Promise<Page<CompanyRow>> {
    const limit = page.limit ?? 50;
    const rows = await listCompanies(
      this.#sql,
      principal.company_id ?? undefined,
      decodeCursor(page.cursor, UUID_ID),
      limit,
    );
    return pageOf(
      rows,
      limit,
      (r) => ({ at: r.cursor_at, id: r.id }),
      (r) => r,
    );
  }

  async createBusinessUser(
    principal: Principal,
    company_id: string,
    input: { email: string; role: string; user_token?: string },
  ): Promise<BusinessUserRow> {
    await this.getCompany(principal, company_id);
    return insertBusinessUser(this.#sql, {
      company_id,
      user_token: input.user_token ?? newUserToken(),
      email: input.email,
      role: input.role,
      status: 'active',
    });
  }

  async getBusinessUser(principal: Principal, id: string): Promise<BusinessUserRow> {
    const user = await getBusinessUser(this.#sql, id);
    if (user === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such user.');
    requireVisible(principal, user.company_id, 'No such user.');
    return user;
  }

  async listBusinessUsers(
    principal: Principal,
    company_id: string,
    page: PageInput,
  ): Promise<Page<BusinessUserRow>> {
    requireVisible(principal, company_id, 'No such company.');
    const limit = page.limit ?? 50;
    const rows = await listBusinessUsers(this.#sql, company_id, decodeCursor(page.cursor, UUID_ID), limit);
    return pageOf(
      rows,
      limit,
      (r) => ({ at: r.cursor_at, id: r.id }),
      (r) => r,
    );
  }

  async updateBusinessUser(
    principal: Principal,
    id: string,
    change: { status?: BusinessUserStatus; role?: string },
  ): Promise<BusinessUserRow> {
    await this.getBusinessUser(principal, id);
    const user = await updateBusinessUser(this.#sql, id, change);
    if (user === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such user.');
    if (change.status !== undefined)
      await this.#invalidator.invalidate([{ user_token: user.user_token, card_token: '' }], ['user']);
    return user;
  }

  async createPersonalUser(
    principal: Principal,
    input: { email: string; kyc_status?: KycStatus; user_token?: string },
  ): Promise<PersonalUserDocument> {
    requireProgramKey(principal);
    return insertPersonalUser(this.#db, {
      user_token: input.user_token ?? newUserToken(),
      email: input.email,
      status: 'active',
      kyc_status: input.kyc_status ?? 'pending',
    });
  }

  async getPersonalUser(principal: Principal, id: string): Promise<PersonalUserDocument> {
    requireVisible(principal, null, 'No such user.');
    const user = await getPersonalUser(this.#db, id);
    if (user === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such user.');
    return user;
  }

  async listPersonalUsers(principal: Principal, page: PageInput): Promise<Page<PersonalUserDocument>> {
    requireProgramKey(principal);
    const limit = page.limit ?? 50;
    const rows = await listPersonalUsers(this.#db, decodeCursor(page.cursor, OBJECT_ID), limit);
    return pageOf(
      rows,
      limit,
      (r) => ({ at: r.created_at.toISOString(), id: String(r._id) }),
      (r) => r,
    );
  }

  async updatePersonalUser(
    principal: Principal,
    id: string,
    change: { status?: PersonalUserStatus; kyc_status?: KycStatus },
  ): Promise<PersonalUserDocument> {
    requireVisible(principal, null, 'No such user.');
    const user = await updatePersonalUser(this.#db, id, change);
    if (user === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such user.');
    // The gateway caches "may spend" from status and KYC together.
    await this.#invalidator.invalidate([{ user_token: user.user_token, card_token: '' }], ['user']);
    return user;
  }
}
