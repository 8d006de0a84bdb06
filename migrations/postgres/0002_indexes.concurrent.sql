-- Requirement 10 indexes, built CONCURRENTLY (no table lock). Each statement runs on its own,
-- outside a transaction, and is safe to re-run.
CREATE INDEX CONCURRENTLY IF NOT EXISTS transactions_user_created_idx ON transactions (user_id, created_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS cards_user_status_idx ON cards (user_id, status);
CREATE INDEX CONCURRENTLY IF NOT EXISTS transactions_card_completed_idx ON transactions (card_id, status) WHERE status = 'completed';
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_company_role_idx ON users (company_id, role);
CREATE INDEX CONCURRENTLY IF NOT EXISTS transactions_card_created_idx ON transactions (card_id, created_at DESC);
-- Active holds of a card: summed when the gateway rebuilds its Redis ledger for the card.
CREATE INDEX CONCURRENTLY IF NOT EXISTS transactions_card_pending_idx ON transactions (card_id) WHERE status = 'pending';
