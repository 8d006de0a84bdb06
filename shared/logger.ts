// pino JSON logs with redaction: never a PAN, CVV, password, API key, Basic-auth header,
// token secret or full card token. Card tokens are logged masked (maskToken).

import { pino, type Logger } from 'pino';

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
  '*.secret',
  '*.api_key',
  '*.token_secret',
  '*.app_token',
  '*.admin_token',
];

const MASKED_PATHS = ['card_token', '*.card_token', '*.*.card_token'];

export function createLogger(name: string, level: string): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [...REDACTED_PATHS, ...MASKED_PATHS],
      censor: (value, path) => {
        const last = path[path.length - 1];
        return last === 'card_token' && typeof value === 'string' ? maskToken(value) : '[redacted]';
      },
    },
  });
}
