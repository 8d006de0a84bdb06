// The OpenAPI text of a card's spending controls names only what the gateway enforces: it is
// generated from one table, and that table is checked against the decision script.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ControlsPatch, LimitsPatch } from '../../api/schemas/cards.ts';
import {
  type ControlField,
  ENFORCED_CONTROLS,
  controlDescription,
  controlsRouteDescription,
} from '../../api/schemas/enforced-controls.ts';
import { DecisionStatus } from '../../shared/decision-status.ts';

const lua = readFileSync(new URL('../../gateway/decide/decide-10.lua', import.meta.url), 'utf8');
const fields = [...Object.keys(LimitsPatch.properties), ...Object.keys(ControlsPatch.properties)];

describe('OpenAPI descriptions of spending controls', () => {
  it('every control field of the API has its description from the table, and nothing else is in it', () => {
    expect(Object.keys(ENFORCED_CONTROLS).sort()).toEqual([...fields].sort());
    const properties = { ...LimitsPatch.properties, ...ControlsPatch.properties } as Record<
      string,
      { description?: string }
    >;
    for (const field of fields)
      expect(properties[field]!.description, field).toBe(controlDescription(field as ControlField));
  });

  it('each decline the table names is one the decision script returns', () => {
    for (const [field, { status }] of Object.entries(ENFORCED_CONTROLS)) {
      const code = DecisionStatus[status];
      // Named constants (MERCHANT_RESTRICTED, ...) or the period table of the amount limits.
      const returned =
        new RegExp(`\\b${status}\\b`).test(lua) ||
        new RegExp(`LIMIT_STATUS = \\{[^}]*= ${code}\\b`).test(lua);
      expect(returned, `${field}: ${status}`).toBe(true);
    }
  });

  it('the PATCH route names every rule and says nothing is stored without being enforced', () => {
    const text = controlsRouteDescription();
    for (const word of ['per-transaction', 'daily', 'weekly', 'monthly', 'yearly', 'all-time', 'velocity'])
      expect(text).toContain(word);
    for (const list of ['MCC', 'merchant id', 'merchant country']) expect(text).toContain(list);
    const all = [text, ...fields.map((f) => controlDescription(f as ControlField))].join(' ');
    expect(all).not.toMatch(/not enforced|stored and returned only/i);
  });
});
