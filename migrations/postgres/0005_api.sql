-- Management API: API keys, and the card controls the API stores beyond what the hot path
-- enforces today (weekly/yearly/lifetime limits, velocity, countries: stored and returned).

CREATE TABLE IF NOT EXISTS api_keys (
  id          uuid PRIMARY KEY,
  -- NULL: a program-wide key (every company, personal resources, key management).
  company_id  uuid REFERENCES companies(id),
  name        varchar(255) NOT NULL,
  -- Public part of the key, shown in listings and used to find the row.
  prefix      varchar(32) UNIQUE NOT NULL,
  -- SHA-256 of the whole key; the key itself is never stored.
  key_sha256  bytea NOT NULL CHECK (octet_length(key_sha256) = 32),
  scopes      text[] NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'write', 'admin']::text[]),
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);

ALTER TABLE cards
  ADD COLUMN IF NOT EXISTS card_product_token  varchar(64),
  ADD COLUMN IF NOT EXISTS weekly_limit_minor  bigint CHECK (weekly_limit_minor >= 0),
  ADD COLUMN IF NOT EXISTS yearly_limit_minor  bigint CHECK (yearly_limit_minor >= 0),
  ADD COLUMN IF NOT EXISTS lifetime_limit_minor bigint CHECK (lifetime_limit_minor >= 0),
  ADD COLUMN IF NOT EXISTS velocity_count_max  integer CHECK (velocity_count_max > 0),
  ADD COLUMN IF NOT EXISTS velocity_window_s   integer CHECK (velocity_window_s > 0);

ALTER TABLE card_controls
  ADD COLUMN IF NOT EXISTS country_allow text[] NOT NULL DEFAULT '{}',
  ADD COLUMN IF NOT EXISTS country_block text[] NOT NULL DEFAULT '{}';
