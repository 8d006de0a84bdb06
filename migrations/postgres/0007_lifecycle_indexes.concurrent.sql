-- Lifecycle lookups: the messages of one authorization, and holds that may expire.
CREATE INDEX CONCURRENTLY IF NOT EXISTS transactions_original_idx ON transactions (original_jit_token) WHERE original_jit_token IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS transactions_pending_decided_idx ON transactions (decided_at) WHERE status = 'pending';
