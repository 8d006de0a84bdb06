// What an unexpected error is logged with (seed property 12): the request id, the route, who
// asked (the API key and its company, or the cardholder a Marqeta message is about) and the
// card concerned, masked. The body itself is never logged: it may carry anything.

import type { FastifyRequest } from 'fastify';
import { maskToken } from '../logger.ts';

const TOKEN_CHARS_MAX = 64;

function field(source: unknown, name: string): string | undefined {
  if (typeof source !== 'object' || source === null) return undefined;
  const value = (source as Record<string, unknown>)[name];
  return typeof value === 'string' ? value.slice(0, TOKEN_CHARS_MAX) : undefined;
}

export interface ErrorContext {
  readonly request_id: string;
  readonly method: string;
  readonly route: string | undefined;
  readonly card_token?: string;
  readonly user_token?: string;
  readonly resource_id?: string;
  readonly api_key_id?: string;
  readonly company_id?: string | null;
}

export function errorContext(request: FastifyRequest): ErrorContext {
  const principal = (request as { principal?: { key_id: string; company_id: string | null } | null })
    .principal;
  const card_token = field(request.body, 'card_token');
  const user_token = field(request.body, 'user_token');
  const resource_id = field(request.params, 'id');
  return {
    request_id: request.id,
    method: request.method,
    route: request.routeOptions.url,
    ...(card_token === undefined ? {} : { card_token: maskToken(card_token) }),
    ...(user_token === undefined ? {} : { user_token }),
    ...(resource_id === undefined ? {} : { resource_id }),
    ...(principal ? { api_key_id: principal.key_id, company_id: principal.company_id } : {}),
  };
}
