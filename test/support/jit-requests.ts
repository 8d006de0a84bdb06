// Marqeta-shaped JIT Funding requests built from the fixture, with our own tokens and amount.
import { readFileSync } from 'node:fs';
import { uniqueToken } from './cardholders.ts';

const authorization = JSON.parse(
  readFileSync(new URL('../fixtures/marqeta/authorization.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

export interface JitOptions {
  readonly card_token: string;
  readonly user_token: string;
  readonly amount: number | string;
  readonly jit_token?: string;
  readonly method?: string;
  readonly currency_code?: string;
  readonly mcc?: string;
  readonly mid?: string;
  readonly country_code?: string;
  readonly original_jit_token?: string;
  readonly partial_approval_capable?: boolean;
}

interface MutableRequest {
  [field: string]: unknown;
  gpa_order: Record<string, unknown>;
  card_acceptor: Record<string, unknown>;
}

export function jitRequest(options: JitOptions): Record<string, unknown> {
  const body = structuredClone(authorization) as MutableRequest;
  const jit_token = options.jit_token ?? uniqueToken('jit');
  body.token = uniqueToken('txn');
  body.card_token = options.card_token;
  body.user_token = options.user_token;
  body.acting_user_token = options.user_token;
  body.amount = options.amount;
  body.request_amount = options.amount;
  body.currency_code = options.currency_code ?? 'USD';
  body.gpa_order.amount = options.amount;
  body.gpa_order.jit_funding = {
    token: jit_token,
    method: options.method ?? 'pgfs.authorization',
    user_token: options.user_token,
    acting_user_token: options.user_token,
    amount: options.amount,
    ...(options.original_jit_token ? { original_jit_funding_token: options.original_jit_token } : {}),
  };
  if (options.country_code !== undefined) body.card_acceptor.country_code = options.country_code;
  if (options.partial_approval_capable !== undefined) {
    (body.pos as Record<string, unknown>).partial_approval_capable = options.partial_approval_capable;
  }
  if (options.mcc !== undefined) body.card_acceptor.mcc = options.mcc;
  if (options.mid !== undefined) body.card_acceptor.mid = options.mid;
  return body;
}

export function basicAuth(
  user = process.env.GATEWAY_BASIC_AUTH_USER!,
  password = process.env.GATEWAY_BASIC_AUTH_PASSWORD!,
) {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
