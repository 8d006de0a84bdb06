// Bearer API key authentication and the access rules every route relies on:
// 401 without a valid, unrevoked key; 403 for a scope the key lacks (read, write, admin,
// program-wide actions); 404 for a resource outside the key's tenant, as for an unknown one.
// The scope a request needs follows from its method (GET/HEAD read, anything else write);
// key management asks for admin on top.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../shared/errors.ts';
import type { PgSql } from '../../shared/stores/postgres.ts';
import { hasScope, keyMatches, parseKey, type Principal, type Scope } from '../auth/api-keys.ts';
import { findApiKeyByPrefix } from '../repos/api-keys.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

const BEARER = /^Bearer ([!-~]{1,200})$/;

export async function principalOf(sql: PgSql, header: string | undefined): Promise<Principal> {
  const presented = BEARER.exec(header ?? '')?.[1];
  const parsed = presented === undefined ? null : parseKey(presented);
  if (parsed === null) throw new ApiError('API_ERR_UNAUTHORIZED');
  const row = await findApiKeyByPrefix(sql, parsed.prefix);
  if (!keyMatches(parsed.key, row?.key_sha256 ?? null) || row === null || row.revoked_at !== null) {
    throw new ApiError('API_ERR_UNAUTHORIZED');
  }
  return { key_id: row.id, company_id: row.company_id, scopes: row.scopes };
}

/**
 * Adds the onRequest hook to every route of `app` (an encapsulated plugin). `principal` finds the
 * caller: the bearer key by default; the operator console passes its session's key instead.
 */
export function installAuthentication(
  app: FastifyInstance,
  sql: PgSql,
  principal: (request: FastifyRequest) => Promise<Principal> = (request) =>
    principalOf(sql, request.headers.authorization),
): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (request) => {
    request.principal = await principal(request);
    requireScope(request, request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'write');
  });
}

export function requireScope(request: FastifyRequest, scope: Scope): void {
  if (!hasScope(request.principal.scopes, scope)) {
    throw new ApiError('API_ERR_FORBIDDEN', `This API key lacks the ${scope} scope.`);
  }
}

export function isProgramKey(principal: Principal): boolean {
  return principal.company_id === null;
}

/** Program-level actions (creating companies or personal users, listing personal data) need a program-wide key. */
export function requireProgramKey(principal: Principal): void {
  if (!isProgramKey(principal)) throw new ApiError('API_ERR_FORBIDDEN', 'This needs a program-wide API key.');
}

/** Whether the key sees a resource of `company_id` (null: a personal or program-level resource). */
export function canSee(principal: Principal, company_id: string | null): boolean {
  return isProgramKey(principal) || (company_id !== null && company_id === principal.company_id);
}

/**
 * A resource the key does not see answers exactly as an unknown one (404, `not_found`): a 403
 * would tell another tenant that it exists.
 */
export function requireVisible(principal: Principal, company_id: string | null, not_found: string): void {
  if (!canSee(principal, company_id)) throw new ApiError('API_ERR_NOT_FOUND', not_found);
}
