-- Plan-proof SQL (docs/operations.md). With stale statistics (autovacuum off, a fast-growing
-- table) a pending-only partial index looks empty, so the planner read "the few pending rows"
-- through one instead of a card's or a group's key: once per group of a batch (5 s per batch)
-- or per card in reconciliation. A partial index on `status/state = 'pending'` alone is kept
-- only where nothing else can match it; the others are keyed or narrowed.
-- Program-wide transaction pages (newest first) read this instead of sorting the whole table.
CREATE INDEX CONCURRENTLY IF NOT EXISTS transactions_created_idx ON transactions (created_at DESC, id DESC);
-- Hold expiry reads exactly this set; a per-card sum of pending holds cannot match it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS authorization_holds_expiring_idx
  ON authorization_holds (created_at) WHERE state = 'pending' AND held_minor > 0;
DROP INDEX CONCURRENTLY IF EXISTS authorization_holds_pending_idx;
-- Read by no statement since holds moved to authorization_holds (0008); two index writes less per authorization.
DROP INDEX CONCURRENTLY IF EXISTS transactions_card_pending_idx;
DROP INDEX CONCURRENTLY IF EXISTS transactions_pending_decided_idx;
