// Marqeta-shaped JIT Funding bodies, rendered fast. Each fixture in test/fixtures/marqeta is
// compiled once into literal chunks and named slots (tokens, amount, merchant), so rendering a
// request is a string join: the load generator shares 2 cores with the system it measures and
// must not spend them on structuredClone + JSON.stringify per request.

import { readFileSync } from 'node:fs';

export type TemplateName =
  | 'authorization'
  | 'incremental'
  | 'reversal'
  | 'clearing'
  | 'refund'
  | 'balance-inquiry';

export type Slot = 'txn' | 'jit' | 'original_jit' | 'user' | 'card' | 'amount' | 'mcc' | 'mid' | 'time';

export type SlotValues = Readonly<Record<Slot, string>>;

export interface Template {
  readonly name: TemplateName;
  readonly method: string;
  /** `gpa_order` or `gpa_order_unload` (reversals return funds). */
  readonly order_field: 'gpa_order' | 'gpa_order_unload';
  readonly chunks: readonly string[];
  readonly slots: readonly Slot[];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const SENTINEL = '\u0001slot:';
const AMOUNT_KEYS = new Set(['amount', 'request_amount']);
/** Slots rendered as raw JSON numbers; the others as (safe-character) strings. */
const NUMERIC_SLOTS: ReadonlySet<Slot> = new Set(['amount']);

function fixture(name: TemplateName): Record<string, Json> {
  const url = new URL(`../../test/fixtures/marqeta/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, Json>;
}

/** Replaces the fixture's own tokens, amounts and merchant with slot sentinels, in place. */
function markSlots(node: Json, known: ReadonlyMap<string, Slot>, parent_key: string): Json {
  if (Array.isArray(node)) return node.map((item) => markSlots(item, known, parent_key));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, Json> = {};
    for (const [key, value] of Object.entries(node)) {
      // Incremental chains are not simulated: a reversal or clearing names only its original.
      if (key === 'incremental_authorization_jit_funding_tokens') continue;
      if (AMOUNT_KEYS.has(key) && typeof value === 'number') out[key] = `${SENTINEL}amount`;
      else if (parent_key === 'card_acceptor' && key === 'mcc') out[key] = `${SENTINEL}mcc`;
      else if (parent_key === 'card_acceptor' && key === 'mid') out[key] = `${SENTINEL}mid`;
      else if (key === 'created_time' || key === 'user_transaction_time') out[key] = `${SENTINEL}time`;
      else out[key] = markSlots(value, known, key);
    }
    return out;
  }
  if (typeof node === 'string') {
    const slot = known.get(node);
    return slot === undefined ? node : `${SENTINEL}${slot}`;
  }
  return node;
}

export function compileTemplate(name: TemplateName): Template {
  const body = fixture(name);
  const order_field = body.gpa_order_unload ? 'gpa_order_unload' : 'gpa_order';
  const order = body[order_field] as Record<string, Json>;
  const jit = order.jit_funding as Record<string, Json>;
  const known = new Map<string, Slot>([
    [String(body.token), 'txn'],
    [String(jit.token), 'jit'],
    [String(body.user_token), 'user'],
    [String(body.card_token), 'card'],
  ]);
  if (typeof jit.original_jit_funding_token === 'string')
    known.set(jit.original_jit_funding_token, 'original_jit');
  const text = JSON.stringify(markSlots(body, known, ''));
  const chunks: string[] = [];
  const slots: Slot[] = [];
  // Each sentinel is a whole JSON string: "\u0001slot:<name>" (JSON escapes \u0001).
  const pattern = /"\\u0001slot:([a-z_]+)"/g;
  let last = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    chunks.push(text.slice(last, match.index));
    slots.push(match[1] as Slot);
    last = match.index + match[0].length;
  }
  chunks.push(text.slice(last));
  return { name, method: String(jit.method), order_field, chunks, slots };
}

/** Values must be token-safe ([A-Za-z0-9_.:-]) or decimal numbers: they are not escaped. */
export function renderTemplate(template: Template, values: SlotValues): string {
  let out = template.chunks[0]!;
  for (let i = 0; i < template.slots.length; i++) {
    const slot = template.slots[i]!;
    const value = values[slot];
    out += NUMERIC_SLOTS.has(slot) ? value : `"${value}"`;
    out += template.chunks[i + 1]!;
  }
  return out;
}

export function compileAllTemplates(): Readonly<Record<TemplateName, Template>> {
  return {
    authorization: compileTemplate('authorization'),
    incremental: compileTemplate('incremental'),
    reversal: compileTemplate('reversal'),
    clearing: compileTemplate('clearing'),
    refund: compileTemplate('refund'),
    'balance-inquiry': compileTemplate('balance-inquiry'),
  };
}
