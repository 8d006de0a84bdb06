// Worker error catalog: stable codes, logged and written into the x-last-error header of a
// retried or dead-lettered message. Operators and tests match on the code, not the text.

export const WorkerErrorCodes = Object.freeze({
  /** The message body is not a decision event we understand: retrying cannot help. */
  WK_ERR_INVALID_MESSAGE: 'invalid message',
  /** A decision batch of a version this worker does not know (shared/decision-batch.ts). */
  WK_ERR_UNSUPPORTED_VERSION: 'unsupported message version',
  /** A personal card named by an event has no document. */
  WK_ERR_CARD_NOT_FOUND: 'card not found',
  /** A card document kept changing under a ledger update; the message is retried. */
  WK_ERR_CARD_CONTENDED: 'card ledger contended',
  /** A void met a first revision being written at the same moment; the message is retried. */
  WK_ERR_REVISION_RACE: 'revision race',
  /** A store stayed unreachable past the outage wait, or the worker is stopping: requeued, not retried. */
  WK_ERR_STORE_UNAVAILABLE: 'store unavailable',
} as const);

export type WorkerErrorCode = keyof typeof WorkerErrorCodes;

export class WorkerError extends Error {
  readonly code: WorkerErrorCode;

  constructor(code: WorkerErrorCode, detail?: string) {
    super(detail === undefined ? WorkerErrorCodes[code] : `${WorkerErrorCodes[code]}: ${detail}`);
    this.code = code;
  }
}

const REASON_CHARS_MAX = 500;

/** One line for the x-last-error header and the DLQ listing: code (when known) and message. */
export function failureReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const text = typeof code === 'string' && !message.startsWith(code) ? `${code}: ${message}` : message;
  return text.replaceAll(/\s+/g, ' ').slice(0, REASON_CHARS_MAX);
}
