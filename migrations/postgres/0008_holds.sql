-- Authorization groups: one row per original JIT token, holding what its authorization and
-- incrementals still hold. Maintained by the worker from the ledger effects of each decision
-- (hold deltas commute, so messages may be persisted in any order); the gateway expires
-- pending holds older than HOLD_EXPIRY_DAYS.
CREATE TABLE IF NOT EXISTS authorization_holds (
  group_token    text PRIMARY KEY,
  card_id        uuid NOT NULL REFERENCES cards(id),
  card_token     varchar(255) NOT NULL,
  user_token     text NOT NULL,
  currency_code  char(3) NOT NULL,
  -- May be negative for a moment when a release is persisted before the hold it releases.
  held_minor     bigint NOT NULL DEFAULT 0,
  -- pending -> cleared | reversed | released (Marqeta timed out or declined it) | expired
  state          text NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'cleared', 'reversed', 'released', 'expired')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
