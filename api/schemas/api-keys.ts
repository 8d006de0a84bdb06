// API key schemas. The key itself appears once, in the creation response.

import Type, { type Static } from 'typebox';
import { SCOPES } from '../auth/api-keys.ts';
import type { ApiKeyRow } from '../repos/api-keys.ts';
import { Timestamp, Uuid } from './common.ts';

const Scopes = Type.Array(Type.Enum(SCOPES), { minItems: 1, maxItems: 3, uniqueItems: true });

export const ApiKey = Type.Object({
  id: Uuid,
  company_id: Type.Union([Uuid, Type.Null()], { description: 'null: program-wide key' }),
  name: Type.String(),
  prefix: Type.String(),
  scopes: Scopes,
  created_at: Timestamp,
  revoked_at: Type.Union([Timestamp, Type.Null()]),
});
export const ApiKeyList = Type.Object({ data: Type.Array(ApiKey) });
export const CreatedApiKey = Type.Object({
  ...ApiKey.properties,
  key: Type.String({ description: 'shown once' }),
});
export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    company_id: Type.Union([Uuid, Type.Null()]),
    scopes: Scopes,
  },
  { additionalProperties: false },
);

export function apiKeyView(row: ApiKeyRow): Static<typeof ApiKey> {
  return {
    id: row.id,
    company_id: row.company_id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    created_at: row.created_at.toISOString(),
    revoked_at: row.revoked_at === null ? null : row.revoked_at.toISOString(),
  };
}
