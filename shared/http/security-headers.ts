// Response headers for JSON-only HTTP services (the gateway; the API gets these from helmet
// plus cache-control here): nothing is sniffed, framed, cached or sent as a referrer.
// Fastify sends no x-powered-by. No CORS headers are ever added: neither service is meant to
// be called from a browser, so cross-origin reads stay blocked by the browser's default.

import type { FastifyInstance } from 'fastify';

const JSON_SERVICE_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
};

export interface SecurityHeaderOptions {
  /** Off where helmet already sets them (the API). */
  readonly json_service_headers: boolean;
}

export function installSecurityHeaders(app: FastifyInstance, options: SecurityHeaderOptions): void {
  // Callback style: no promise per response on the hot path.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (options.json_service_headers) reply.headers(JSON_SERVICE_HEADERS);
    // Balances, decisions and keys must not sit in a shared cache; static files set their own.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
}
