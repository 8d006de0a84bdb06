// The decision batch: one AMQP message carrying many outbox entries bound for the same routing
// key (gateway relay -> worker, webhooks, bench tap). Designed so the relay does almost nothing
// per entry: the outbox entry's fields, as the Lua scripts wrote them (decide-10.lua `record()`,
// void-5.lua), pass through as strings; the request JSON `r` is embedded verbatim. Decoding
// into a DecisionEvent (request JSON, status, ledger effects `fx`) happens once, in the reader.
//
// Body (UTF-8 text, content type CONTENT_TYPE_DECISION_BATCH):
//   line 1        `afc-decision-batch <version> <count>`
//   count lines   `<outbox id> TAB <JSON array of the entry's other fields: [name, value, ...]> TAB <r>`
// One line per decision, so a malformed entry fails alone (JSON.stringify never writes a raw
// newline or tab; `r` is last, so a tab inside it cannot shift the columns).

import { Buffer } from 'node:buffer';
import { DecisionStatus, statusInfo } from './decision-status.ts';
import { effectsToJson, parseLedgerEffects } from './ledger-effects.ts';
import type { CardKind, DecisionEvent, DecisionRequest } from './messages.ts';

export const CONTENT_TYPE_DECISION_BATCH = 'application/vnd.afc.decision-batch';
/** Bumped on any change readers must know about; readers refuse versions they do not know. */
export const DECISION_BATCH_VERSION = 1;
const MAGIC = 'afc-decision-batch';
/** Decisions in one message: a reader refuses more (a hostile or corrupt count). */
export const DECISION_BATCH_ENTRIES_MAX = 10_000;

export type DecisionBatchErrorCode = 'BATCH_ERR_FORMAT' | 'BATCH_ERR_VERSION' | 'BATCH_ERR_ENTRY';

export class DecisionBatchError extends Error {
  readonly code: DecisionBatchErrorCode;

  constructor(code: DecisionBatchErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** One outbox entry packed by the relay: its line, where it goes, and its decision time. */
export interface PackedEntry {
  readonly routing_key: string;
  readonly line: string;
  readonly decided_at_ms: number;
}

/**
 * Packs one outbox entry (`flat` = [name, value, ...] as XREADGROUP returns it) without
 * parsing it: only `k` and `s` are looked at, to route it (decision.<kind>.<approved|declined>).
 */
export function packEntry(outbox_id: string, flat: readonly string[]): PackedEntry {
  let request = '';
  let kind = '';
  let status = '';
  let decided_at = '';
  const rest: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    const value = flat[i + 1]!;
    if (name === 'r') {
      request = value;
      continue;
    }
    if (name === 'k') kind = value;
    else if (name === 's') status = value;
    else if (name === 't') decided_at = value;
    rest.push(name, value);
  }
  // Outside a JSON string a newline is whitespace (inside one it is invalid either way): a
  // space keeps the meaning and the framing.
  if (request.includes('\n')) request = request.replaceAll('\n', ' ');
  const approved = status === String(DecisionStatus.APPROVED);
  return {
    routing_key: `decision.${kind || 'unknown'}.${approved ? 'approved' : 'declined'}`,
    line: `${outbox_id}\t${JSON.stringify(rest)}\t${request}`,
    decided_at_ms: Number(decided_at),
  };
}

/** A Buffer: rabbitmq-client would send a string as text/plain, whatever the content type says. */
export function encodeBatch(lines: readonly string[]): Buffer {
  return Buffer.from(`${MAGIC} ${DECISION_BATCH_VERSION} ${lines.length}\n${lines.join('\n')}`, 'utf8');
}

/** UTF-8 bytes a line adds to a batch body (with its newline). */
export function lineBytes(line: string): number {
  return Buffer.byteLength(line) + 1;
}

/** The deterministic message id of a batch: a redelivered or re-read batch is recognisable. */
export function batchMessageId(first_outbox_id: string, last_outbox_id: string, count: number): string {
  return `batch:${first_outbox_id}..${last_outbox_id}:${count}`;
}

/** A line of a batch, split but not interpreted. */
export interface BatchEntry {
  readonly outbox_id: string;
  /** The line as it came: a single-decision batch of it is `encodeBatch([line])`. */
  readonly line: string;
}

/** Splits a batch body into its lines; throws DecisionBatchError for a bad header or version. */
export function decodeBatch(body: Buffer | string): BatchEntry[] {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const header_end = text.indexOf('\n');
  const header = (header_end === -1 ? text : text.slice(0, header_end)).split(' ');
  if (header.length !== 3 || header[0] !== MAGIC) {
    throw new DecisionBatchError('BATCH_ERR_FORMAT', 'not a decision batch (no afc-decision-batch header)');
  }
  if (header[1] !== String(DECISION_BATCH_VERSION)) {
    throw new DecisionBatchError(
      'BATCH_ERR_VERSION',
      `decision batch version ${header[1]} is not supported (this reader knows ${DECISION_BATCH_VERSION})`,
    );
  }
  const count = Number(header[2]);
  if (!Number.isSafeInteger(count) || count < 1 || count > DECISION_BATCH_ENTRIES_MAX) {
    throw new DecisionBatchError('BATCH_ERR_FORMAT', `bad decision count "${header[2]}"`);
  }
  const lines = header_end === -1 ? [] : text.slice(header_end + 1).split('\n');
  if (lines.length !== count) {
    throw new DecisionBatchError(
      'BATCH_ERR_FORMAT',
      `header says ${count} decisions, body has ${lines.length}`,
    );
  }
  return lines.map((line) => ({ outbox_id: line.slice(0, Math.max(0, line.indexOf('\t'))), line }));
}

/** The outbox entry of a line: its fields by name, with `r` verbatim. */
export function entryFields(entry: BatchEntry): Record<string, string> {
  const first = entry.line.indexOf('\t');
  const second = first === -1 ? -1 : entry.line.indexOf('\t', first + 1);
  if (second === -1)
    throw new DecisionBatchError('BATCH_ERR_ENTRY', 'decision line has fewer than 3 columns');
  let flat: unknown;
  try {
    flat = JSON.parse(entry.line.slice(first + 1, second));
  } catch {
    throw new DecisionBatchError('BATCH_ERR_ENTRY', 'decision fields are not JSON');
  }
  if (!Array.isArray(flat) || flat.length % 2 !== 0 || !flat.every((v) => typeof v === 'string')) {
    throw new DecisionBatchError('BATCH_ERR_ENTRY', 'decision fields are not [name, value, ...] strings');
  }
  const fields: Record<string, string> = { r: entry.line.slice(second + 1) };
  for (let i = 0; i < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
  return fields;
}

/**
 * The decision of one line, decoded: request JSON, status, ledger effects. Throws
 * DecisionBatchError for what cannot be decoded; the shape is the reader's to check.
 */
export function decisionEventOf(entry: BatchEntry): DecisionEvent {
  const f = entryFields(entry);
  const status_code = Number(f.s);
  let request: DecisionRequest;
  let effects: DecisionEvent['effects'];
  let info: ReturnType<typeof statusInfo>;
  try {
    request = JSON.parse(f.r!) as DecisionRequest;
    effects = effectsToJson(parseLedgerEffects(f.fx));
    info = statusInfo(status_code);
  } catch (error) {
    throw new DecisionBatchError(
      'BATCH_ERR_ENTRY',
      `decision ${entry.outbox_id}: ${(error as Error).message}`,
    );
  }
  return {
    v: 1,
    request,
    kind: (f.k || 'unknown') as CardKind,
    card_id: f.ci || null,
    user_id: f.ui || null,
    status_code,
    approved: status_code === DecisionStatus.APPROVED,
    memo: info.memo,
    decline_reason: info.decline_reason ?? null,
    approved_amount_minor: f.a ?? '0',
    released_amount_minor: f.released ?? '0',
    available_minor: f.av ?? '0',
    group_token: f.grp ?? '',
    effects,
    revision: Number(f.rev ?? '1'),
    decided_at_ms: Number(f.t),
    state_order_ms: Number(f.so ?? f.t),
    limits_seen: f.ls || null,
    outbox_id: entry.outbox_id,
  };
}
