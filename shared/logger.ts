// pino JSON logs with redaction: never a PAN, CVV, password, API key, Basic-auth header,
// token secret or full card token. Card tokens are logged masked (maskToken).

import { type DestinationStream, pino, type Logger } from 'pino';

export type { Logger };

/** Keeps the last 4 characters: enough to correlate, not enough to use. */
export function maskToken(token: string | null | undefined): string {
  if (token === null || token === undefined) return '';
  return token.length <= 4 ? '****' : `****${token.slice(-4)}`;
}

const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["x-marqeta-signature"]',
  'headers.authorization',
  '*.password',
  '*.pan',
  '*.cvv',
  '*.cvv_number',
  '*.card_number',
  // Webhook endpoint secrets (current and, during a rotation, previous), up to two levels deep.
  'secret',
  '*.secret',
  '*.*.secret',
  'previous_secret',
  '*.previous_secret',
  '*.*.previous_secret',
  '*.api_key',
  '*.token_secret',
  '*.app_token',
  '*.admin_token',
];

const MASKED_PATHS = ['card_token', '*.card_token', '*.*.card_token'];

/** A URL without its query values: a query may carry anything a client put there. */
export function urlForLog(url: string | undefined): string {
  if (url === undefined) return '';
  const at = url.indexOf('?');
  if (at < 0) return url;
  const keys = [...new URLSearchParams(url.slice(at + 1)).keys()].map(
    (key) => `${encodeURIComponent(key).slice(0, 40)}=`,
  );
  return `${url.slice(0, at)}?${keys.join('&')}`;
}

/** Fastify's request fields, with the query values left out (headers are never logged). */
function requestForLog(request: {
  method?: string;
  url?: string;
  id?: string;
  socket?: { remoteAddress?: string };
}) {
  return {
    method: request.method,
    url: urlForLog(request.url),
    remote_address: request.socket?.remoteAddress,
  };
}

/**
 * destination: stdout unless given (tests capture the output to scan it). Stdout is written
 * asynchronously in 4 KiB chunks: a synchronous write per line would put the terminal or log
 * collector on the hot path. Processes flush it before they exit (shared/process-signals.ts).
 */
export function createLogger(name: string, level: string, destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { req: requestForLog },
    redact: {
      paths: [...REDACTED_PATHS, ...MASKED_PATHS],
      censor: (value, path) => {
        const last = path[path.length - 1];
        return last === 'card_token' && typeof value === 'string' ? maskToken(value) : '[redacted]';
      },
    },
  };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false, minLength: 4096 }));
}
