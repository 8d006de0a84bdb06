// Which store errors mean "the store is unreachable or busy right now" (wait and write the same
// batch again, spending none of the message's retries) rather than "this write is wrong"
// (fail the message onto its retry path). A database outage must never fill the DLQ.

/** Node socket errors and postgres.js connection errors. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/**
 * SQLSTATEs: class 08 connection exception; 57P01-57P03 server shutting down or starting;
 * 53300 too many connections; 40001/40P01 serialization failure and deadlock (safe to rerun);
 * 55P03 lock_not_available: a personal card's document lock (document-lock.ts) held past its
 * timeout by a writer stuck on a slow MongoDB, which is that store being slow, not a bad message.
 */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01', '55P03']);

const MONGO_TRANSIENT_NAMES = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoNotConnectedError',
  'MongoPoolClearedError',
  'MongoWaitQueueTimeoutError',
  // Between a failed connect and the next one (shared/stores/mongo.ts); never after our own close,
  // which happens only once the consumers have stopped.
  'MongoTopologyClosedError',
]);

export function isTransientStoreError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, name, errno } = error as { code?: unknown; name?: unknown; errno?: unknown };
  if (typeof code === 'string') {
    if (CONNECTION_CODES.has(code) || TRANSIENT_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  if (typeof errno === 'string' && CONNECTION_CODES.has(errno)) return true;
  if (typeof name === 'string' && MONGO_TRANSIENT_NAMES.has(name)) return true;
  const labels = error as { hasErrorLabel?: (label: string) => boolean };
  if (typeof labels.hasErrorLabel === 'function' && labels.hasErrorLabel('RetryableWriteError')) return true;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error && isTransientStoreError(cause);
}
