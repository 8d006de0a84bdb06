-- Per-category spend (MCC groups, shared/mcc-groups.ts), day and month windows, maintained by
-- the worker from the decisions' ledger effects; the gateway rebuilds its counters from here.
CREATE TABLE IF NOT EXISTS category_spend (
  card_id       uuid NOT NULL REFERENCES cards(id),
  mcc_group     text NOT NULL,
  period        text NOT NULL CHECK (period IN ('day', 'month')),
  window_start  date NOT NULL,
  spent_minor   bigint NOT NULL DEFAULT 0 CHECK (spent_minor >= 0),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (card_id, mcc_group, period, window_start)
);

-- Personal cards: posted_net_minor (postings: debits negative, refunds positive) is kept apart
-- from balance_minor (funds loaded through the management API), see migrations/mongo/0005.
