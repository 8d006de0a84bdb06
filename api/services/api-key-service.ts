// API key management. The plaintext key is returned once, at creation, and never stored.

import { ApiError } from '../../shared/errors.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { generateKey, type Principal, type Scope } from '../auth/api-keys.ts';
import { requireProgramKey, requireVisible } from '../http/authenticate.ts';
import { getCompany } from '../repos/companies.ts';
import { getApiKey, insertApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from '../repos/api-keys.ts';

export const API_KEYS_LISTED_MAX = 500;

export interface CreateKeyInput {
  readonly name: string;
  readonly company_id: string | null;
  readonly scopes: readonly Scope[];
  /** Only the demo seed passes a fixed key; everyone else gets a random one. */
  readonly key?: string;
}

/** Creates a key without an access check: the CLI (first program key) and the seed use it. */
export async function createApiKey(
  sql: PgSql,
  input: CreateKeyInput,
): Promise<{ row: ApiKeyRow; key: string }> {
  if (input.company_id !== null && (await getCompany(sql, input.company_id)) === null) {
    throw new ApiError('API_ERR_BAD_REQUEST', undefined, [
      { path: 'body/company_id', message: 'is not a company' },
    ]);
  }
  const key = input.key ?? generateKey();
  return { row: await insertApiKey(sql, { ...input, key }), key };
}

export class ApiKeyService {
  readonly #sql: PgSql;

  constructor(sql: PgSql) {
    this.#sql = sql;
  }

  /** A company admin may create keys of its own company only; program keys need a program admin. */
  async create(principal: Principal, input: CreateKeyInput): Promise<{ row: ApiKeyRow; key: string }> {
    if (input.company_id === null) requireProgramKey(principal);
    else requireVisible(principal, input.company_id, 'No such company.');
    return createApiKey(this.#sql, { name: input.name, company_id: input.company_id, scopes: input.scopes });
  }

  async list(principal: Principal): Promise<ApiKeyRow[]> {
    return listApiKeys(this.#sql, principal.company_id ?? undefined, API_KEYS_LISTED_MAX);
  }

  async revoke(principal: Principal, id: string): Promise<ApiKeyRow> {
    const row = await getApiKey(this.#sql, id);
    if (row === null) throw new ApiError('API_ERR_NOT_FOUND', 'No such API key.');
    requireVisible(principal, row.company_id, 'No such API key.');
    return (await revokeApiKey(this.#sql, id))!;
  }
}
